"""Bearer tokens from the user service, verified locally with its published public keys.

Algorithms are pinned to EdDSA: the header's `alg` is never trusted to pick a verifier, so
`alg: none` and HMAC-with-the-public-key tricks fail. Keys come from
`{USERS_SERVICE_URL}/.well-known/jwks.json`, cached, and refetched when a token names an
unknown key id, at most once per JWKS_MIN_REFETCH_SECONDS (a flood of forged key ids cannot
turn into a flood of requests to the user service).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import jwt
import requests
from flask import current_app, g, request

from common.errors import APIError

log = logging.getLogger(__name__)

ALGORITHMS = ["EdDSA"]


@dataclass(frozen=True)
class User:
    id: str
    email: str | None
    role: str | None


class KeysUnavailable(Exception):
    """The user service's keys could not be fetched and none are cached."""


class JwksCache:
    """Public keys by key id, fetched lazily and refreshed on an unknown kid (rate-limited)."""

    def __init__(self, url: str, ttl: float, min_refetch: float, timeout: float):
        self.url = url
        self.ttl = ttl
        self.min_refetch = min_refetch
        self.timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        resp = requests.get(self.url, timeout=self.timeout)
        resp.raise_for_status()
        keys = {}
        for data in resp.json().get("keys", []):
            if data.get("kty") != "OKP" or data.get("crv") != "Ed25519" or "kid" not in data:
                continue
            if data.get("use", "sig") != "sig":
                continue
            try:
                keys[data["kid"]] = jwt.PyJWK(data, algorithm="EdDSA")
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                log.warning("skipping an unusable key in the JWKS")
        self._keys = keys
        self._fetched_at = time.monotonic()

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key for kid, or None if the user service does not publish it."""
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > self.ttl
        key = self._keys.get(kid)
        if key is not None and not stale:
            return key
        with self._lock:
            key = self._keys.get(kid)
            now = time.monotonic()
            stale = self._fetched_at is None or now - self._fetched_at > self.ttl
            if key is not None and not stale:
                return key
            may_refetch = self._tried_at is None or now - self._tried_at >= self.min_refetch
            if may_refetch:
                try:
                    self._fetch()
                except (requests.RequestException, ValueError) as exc:
                    log.warning("JWKS fetch failed: %s", type(exc).__name__)
            if not self._keys and self._fetched_at is None:
                raise KeysUnavailable("no keys fetched from the user service")
            return self._keys.get(kid)


def _jwks(app) -> JwksCache:
    cache = app.extensions.get("jwks")
    if cache is None:
        cfg = app.config
        cache = JwksCache(
            cfg["USERS_SERVICE_URL"].rstrip("/") + "/.well-known/jwks.json",
            cfg["JWKS_CACHE_SECONDS"],
            cfg["JWKS_MIN_REFETCH_SECONDS"],
            cfg["JWKS_TIMEOUT_SECONDS"],
        )
        app.extensions["jwks"] = cache
    return cache


def _unauthorized(message: str) -> APIError:
    return APIError(401, message, "unauthorized", {"WWW-Authenticate": 'Bearer realm="medtriage"'})


TOKEN_CACHE_SIZE = 4096
LEEWAY_SECONDS = 10


def verify_token(token: str) -> User:
    """Check signature, issuer, audience and lifetime; raise a 401 (or 503) APIError.

    A token that verified before is looked up instead of verified again (the signature
    covers the whole string, so the same string has the same claims); its expiry is still
    checked on every use.
    """
    app = current_app._get_current_object()
    cache: dict = app.extensions.setdefault("verified_tokens", {})
    hit = cache.get(token)
    if hit is not None:
        user, exp = hit
        if time.time() <= exp + LEEWAY_SECONDS:
            return user
        cache.pop(token, None)
        raise _unauthorized("Access token has expired.")
    user, exp = _verify(app, token)
    if len(cache) >= TOKEN_CACHE_SIZE:
        cache.clear()
    cache[token] = (user, exp)
    return user


def _verify(app, token: str) -> tuple[User, float]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise _unauthorized("Malformed access token.") from None
    if header.get("alg") not in ALGORITHMS:
        raise _unauthorized("Access token algorithm is not accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _unauthorized("Access token has no key id.")
    try:
        key = _jwks(app).get(kid)
    except KeysUnavailable:
        raise APIError(
            503,
            "Cannot verify tokens: the user service's keys are unavailable.",
            "auth_unavailable",
        ) from None
    if key is None:
        raise _unauthorized("Access token is signed with an unknown key.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=app.config["JWT_AUDIENCE"],
            issuer=app.config["JWT_ISSUER"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("Access token has expired.") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("Access token is invalid.") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _unauthorized("Access token has no subject.")
    return User(id=sub, email=claims.get("email"), role=claims.get("role")), float(claims["exp"])


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization header must be 'Bearer <token>'.")
    return token.strip()


def require_user() -> User:
    """The caller of a JSON endpoint, from the Authorization header; 401 without one."""
    token = _bearer()
    if token is None:
        raise _unauthorized("Missing bearer token.")
    g.user = verify_token(token)
    return g.user


def page_user() -> User | None:
    """The visitor of an HTML page, from the header or the user service's cookie; None if none.

    An expired or bad cookie just means "not logged in" on a page.
    """
    try:
        token = _bearer() or request.cookies.get(current_app.config["TOKEN_COOKIE"])
        if not token:
            return None
        g.user = verify_token(token)
        return g.user
    except APIError as exc:
        if exc.status == 503:
            log.warning("page visitor treated as anonymous: keys unavailable")
        return None
