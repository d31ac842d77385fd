"""Who is calling: a bearer token (API) or the medtriage_token cookie (pages)."""

from __future__ import annotations

from flask import current_app, g, request

from common.errors import APIError
from user_management_service.accounts import get_user
from user_management_service.models import User
from user_management_service.tokens import TokenError, decode_token


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing_token", "Send an access token: Authorization: Bearer <token>.")
    return token.strip()


def cookie_token() -> str | None:
    return request.cookies.get(current_app.config["TOKEN_COOKIE_NAME"]) or None


def user_from_token(token: str) -> User:
    """Verify the token and that it still matches the account (not revoked, not disabled)."""
    claims = decode_token(token)
    user = get_user(str(claims["sub"]))
    if user is None or user.disabled or claims.get("ver") != user.token_version:
        raise TokenError("token_revoked", "The access token is no longer valid. Log in again.")
    return user


def require_user() -> User:
    """The API caller, from its bearer token (cookies are not accepted by the JSON API)."""
    token = bearer_token()
    user = user_from_token(token)
    g.user, g.token = user, token
    return user


def require_admin() -> User:
    user = require_user()
    if user.role != "admin":
        raise APIError(403, "Only administrators may do this.", "forbidden")
    return user
