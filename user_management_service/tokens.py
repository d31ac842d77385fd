"""Access tokens: EdDSA-signed JWTs that the inference service verifies with our JWKS."""

from __future__ import annotations

import time
import uuid

import jwt
from flask import current_app

from common.errors import APIError
from user_management_service.keys import KeyStore
from user_management_service.models import User

ISSUER = "medtriage-users"
AUDIENCE = "medtriage"
ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti"]


class TokenError(APIError):
    """A missing or unusable token: 401 with a WWW-Authenticate challenge."""

    def __init__(self, code: str, message: str):
        challenge = 'Bearer realm="medtriage"'
        if code != "missing_token":
            challenge += ', error="invalid_token"'
        super().__init__(401, message, code, {"WWW-Authenticate": challenge})


def keystore() -> KeyStore:
    return current_app.extensions["users_keys"]


def issue_token(user: User) -> tuple[str, int]:
    """Sign a short-lived token for user; returns (token, lifetime in seconds)."""
    key = keystore().current()
    ttl = int(current_app.config["TOKEN_TTL_SECONDS"])
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user.id),
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "role": user.role,
        "email": user.email,
        "ver": user.token_version,
    }
    token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, ttl


def decode_token(token: str) -> dict:
    """Verify signature, algorithm, issuer, audience and expiry; return the claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenError("invalid_token", "The access token is malformed.") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError("invalid_token", "The access token uses an unsupported algorithm.")
    key = keystore().find(str(header.get("kid", "")))
    if key is None:
        raise TokenError("invalid_token", "The access token was signed by an unknown key.")
    try:
        return jwt.decode(
            token,
            key.public,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "The access token has expired. Log in again.") from None
    except jwt.InvalidTokenError:
        raise TokenError("invalid_token", "The access token is not valid.") from None
