"""Password policy and argon2id hashing."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 cost does not grow with length, but keep inputs sane
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "common_passwords.txt"
_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)


class PolicyError(ValueError):
    """A rejected email or password; code is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def normalise_email(raw: str) -> str:
    """Trim and lowercase; raise PolicyError unless it looks like a deliverable address."""
    email = raw.strip().lower()
    if not email:
        raise PolicyError("invalid_email", "Email is required.")
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email:
        raise PolicyError("invalid_email", "Enter a valid email address, like name@example.org.")
    return email


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


def check_password(password: str, email: str = "") -> None:
    """Raise PolicyError if the password is too short, too long or too common."""
    if len(password) < MIN_LENGTH:
        raise PolicyError(
            "password_too_short", f"Password must be at least {MIN_LENGTH} characters long."
        )
    if len(password) > MAX_LENGTH:
        raise PolicyError(
            "password_too_long", f"Password must be at most {MAX_LENGTH} characters long."
        )
    lowered = password.lower()
    if lowered in common_passwords() or (email and lowered == email.lower()):
        raise PolicyError(
            "password_too_common", "This password is too common. Choose a less guessable one."
        )


def init_hasher(app: Flask) -> None:
    """argon2id hasher from config, and a dummy hash so unknown users cost a verification too."""
    hasher = PasswordHasher(
        time_cost=app.config["ARGON2_TIME_COST"],
        memory_cost=app.config["ARGON2_MEMORY_COST"],
        parallelism=app.config["ARGON2_PARALLELISM"],
    )
    app.extensions["users_hasher"] = hasher
    app.extensions["users_dummy_hash"] = hasher.hash("not-a-real-password-0000")


def hasher() -> PasswordHasher:
    return current_app.extensions["users_hasher"]


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check: with no stored hash, verify against the dummy and fail."""
    target = stored_hash or current_app.extensions["users_dummy_hash"]
    try:
        ok = hasher().verify(target, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)
