"""Account operations shared by the JSON API and the HTML pages."""

from __future__ import annotations

import ipaddress
import logging
import math

import requests
from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from common.errors import APIError
from user_management_service import ratelimit
from user_management_service.db import session
from user_management_service.models import User, utcnow
from user_management_service.passwords import (
    PolicyError,
    check_password,
    hash_password,
    needs_rehash,
    normalise_email,
    verify_password,
)

log = logging.getLogger(__name__)


class AccountError(APIError):
    """An expected failure with an HTTP status and API error code (pages show the message)."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(status, message, code, headers)


INVALID_CREDENTIALS = (401, "invalid_credentials", "Email or password is incorrect.")


def _policy(fn, *args):
    try:
        return fn(*args)
    except PolicyError as exc:
        raise AccountError(400, exc.code, exc.message) from None


def register(email: str, password: str) -> User:
    """Create a user; 409 if the email is taken (the unique constraint decides races)."""
    email = _policy(normalise_email, email)
    _policy(check_password, password, email)
    sess = session()
    user = User(email=email, password_hash=hash_password(password), role="user")
    sess.add(user)
    try:
        sess.commit()
    except IntegrityError:
        sess.rollback()
        raise AccountError(
            409, "email_taken", "An account with this email already exists."
        ) from None
    log.info("account created user_id=%s", user.id)
    return user


def get_user(user_id: str) -> User | None:
    return session().get(User, user_id)


def find_by_email(email: str) -> User | None:
    return session().scalars(select(User).where(User.email == email.strip().lower())).first()


def client_address() -> str:
    """The client's address (see common.web.init_proxy); IPv6 by /64, what one host gets."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _refuse(exc: ratelimit.RateLimited, what: str) -> AccountError:
    minutes = math.ceil(exc.retry_after / 60)
    wait = f"{exc.retry_after} seconds" if exc.retry_after < 120 else f"{minutes} minutes"
    return AccountError(
        429, "rate_limited", f"{what} Try again in {wait}.", {"Retry-After": str(exc.retry_after)}
    )


# Per action: the config prefix of its limits and what a refusal says.
_REQUEST_LIMITS = {
    "register": ("REGISTER", "Too many accounts have been registered recently."),
    "token": ("TOKEN", "Too many login attempts."),
}


def limit_requests(action: str) -> None:
    """Count one registration or token request (each costs a password hash) or raise 429.

    Limited per client address and in total, so neither one client nor many can keep the
    workers hashing; the API and the HTML forms share the same counters.
    """
    prefix, message = _REQUEST_LIMITS[action]
    cfg = current_app.config
    window = cfg[f"{prefix}_WINDOW_SECONDS"]
    try:
        ratelimit.take(
            [
                ratelimit.Limit(
                    f"{action}:address:{client_address()}", cfg[f"{prefix}_MAX_PER_ADDRESS"], window
                ),
                ratelimit.Limit(f"{action}:all", cfg[f"{prefix}_MAX_TOTAL"], window),
            ]  # fmt: skip
        )
    except ratelimit.RateLimited as exc:
        log.warning("rate limited key=%s retry_after=%s", exc.key, exc.retry_after)
        raise _refuse(exc, message) from None


def authenticate(email: str, password: str) -> User:
    """Check credentials under the per-account and per-address failure limits."""
    cfg = current_app.config
    window = cfg["LOGIN_WINDOW_SECONDS"]
    account = ratelimit.Limit(
        f"login:account:{email.strip().lower()[:254]}",
        cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        window,
    )
    address = ratelimit.Limit(
        f"login:address:{client_address()}", cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"], window
    )
    try:
        ratelimit.check([account, address])
    except ratelimit.RateLimited as exc:
        raise _refuse(exc, "Too many failed logins.") from None
    sess = session()
    user = find_by_email(email)
    # Unknown users are verified against a dummy hash: same body, similar time.
    if not verify_password(user.password_hash if user else None, password):
        ratelimit.record([account, address])
        log.info("login failed")
        raise AccountError(*INVALID_CREDENTIALS)
    if user.disabled:
        raise AccountError(403, "account_disabled", "This account has been disabled.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        sess.commit()
        log.info("password rehashed user_id=%s", user.id)
    ratelimit.clear(account.key)
    return user


def change_password(user: User, current_password: str, new_password: str) -> User:
    """Set a new password and revoke every earlier token of this user."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError(400, "wrong_password", "The current password is incorrect.")
    _policy(check_password, new_password, user.email)
    user.password_hash = hash_password(new_password)
    user.token_version += 1
    user.password_changed_at = utcnow()
    session().commit()
    log.info("password changed user_id=%s", user.id)
    return user


def delete_account(user: User, token: str) -> None:
    """Delete the user here, then ask the inference service to drop their history."""
    user_id = user.id
    sess = session()
    sess.delete(user)
    sess.commit()
    log.info("account deleted user_id=%s", user_id)
    delete_remote_history(user_id, token)


def delete_remote_history(user_id: str, token: str) -> bool:
    """Best effort: a failure is logged (never the token); retention expires it eventually."""
    url = f"{current_app.config['INFERENCE_SERVICE_URL']}/api/v1/history"
    try:
        resp = requests.delete(  # nosec B113 - timeout passed below
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=current_app.config["INFERENCE_DELETE_TIMEOUT_SECONDS"],
        )
    except requests.RequestException as exc:
        log.warning(
            "history deletion failed user_id=%s url=%s error=%s", user_id, url, type(exc).__name__
        )
        return False
    if resp.status_code >= 400:
        log.warning(
            "history deletion failed user_id=%s url=%s status=%s", user_id, url, resp.status_code
        )
        return False
    return True


def set_disabled(user: User, disabled: bool) -> User:
    if user.disabled != disabled:
        user.disabled = disabled
        user.token_version += 1  # a disabled user's tokens stop working here at once
        session().commit()
        log.info("account %s user_id=%s", "disabled" if disabled else "enabled", user.id)
    return user


def create_or_promote_admin(email: str, password: str | None) -> tuple[User, bool]:
    """Make email an admin, creating the account if needed; returns (user, created)."""
    email = _policy(normalise_email, email)
    sess = session()
    user = find_by_email(email)
    if user is not None:
        user.role = "admin"
        user.token_version += 1
        sess.commit()
        return user, False
    if password is None:
        raise AccountError(400, "invalid_field", "A password is required for a new account.")
    user = register(email, password)
    user.role = "admin"
    sess.commit()
    return user, True
