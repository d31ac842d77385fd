"""Configuration read from the environment with safe local defaults (tests override keys)."""

from __future__ import annotations

import os
from pathlib import Path

from common.settings import env_bool, env_float, env_int


class Config:
    """Defaults for a local run; every value can be overridden by an environment variable."""

    def __init__(self) -> None:
        data_dir = Path(os.environ.get("USERS_DATA_DIR", "./.data")).resolve()
        self.DATA_DIR = str(data_dir)
        self.DATABASE_URL = os.environ.get("USERS_DATABASE_URL") or (
            f"sqlite:///{data_dir / 'users.db'}"
        )
        # Secret for the Flask session cookie (holds only the CSRF token); generated once
        # under DATA_DIR when unset, so every gunicorn worker shares it.
        self.SECRET_KEY = os.environ.get("USERS_SECRET_KEY") or None
        # Signing key: PEM in the environment, or a PEM file, else generated under DATA_DIR/keys.
        self.SIGNING_KEY = os.environ.get("USERS_SIGNING_KEY") or None
        self.SIGNING_KEY_FILE = os.environ.get("USERS_SIGNING_KEY_FILE") or None
        # The key before the last rotation (PEM, private or public): still published in JWKS.
        self.PREVIOUS_SIGNING_KEY = os.environ.get("USERS_PREVIOUS_SIGNING_KEY") or None
        self.KEY_DIR = os.environ.get("USERS_KEY_DIR") or str(data_dir / "keys")
        self.TOKEN_TTL_SECONDS = env_int("USERS_TOKEN_TTL_SECONDS", 1800)
        # argon2id: RFC 9106 "second recommended" profile (64 MiB, t=3, p=4).
        self.ARGON2_TIME_COST = env_int("USERS_ARGON2_TIME_COST", 3)
        self.ARGON2_MEMORY_COST = env_int("USERS_ARGON2_MEMORY_COST", 65536)
        self.ARGON2_PARALLELISM = env_int("USERS_ARGON2_PARALLELISM", 4)
        # Login failures allowed per sliding window, per account and per client address.
        self.LOGIN_WINDOW_SECONDS = env_int("USERS_LOGIN_WINDOW_SECONDS", 900)
        self.LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("USERS_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
        self.LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("USERS_LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
        # Requests that cost a password hash, per client address and in total (0 = no limit):
        # registrations per hour, token requests (API and login page) per minute.
        self.REGISTER_WINDOW_SECONDS = env_int("USERS_REGISTER_WINDOW_SECONDS", 3600, minimum=1)
        self.REGISTER_MAX_PER_ADDRESS = env_int("USERS_REGISTER_MAX_PER_ADDRESS", 10, minimum=0)
        self.REGISTER_MAX_TOTAL = env_int("USERS_REGISTER_MAX_TOTAL", 200, minimum=0)
        self.TOKEN_WINDOW_SECONDS = env_int("USERS_TOKEN_WINDOW_SECONDS", 60, minimum=1)
        self.TOKEN_MAX_PER_ADDRESS = env_int("USERS_TOKEN_MAX_PER_ADDRESS", 30, minimum=0)
        self.TOKEN_MAX_TOTAL = env_int("USERS_TOKEN_MAX_TOTAL", 600, minimum=0)
        # Reverse proxies in front (ALB = 1) whose X-Forwarded-For/-Proto/-Port are trusted;
        # USERS_TRUSTED_PROXIES is the older name.
        self.TRUSTED_PROXY_COUNT = env_int(
            "TRUSTED_PROXY_COUNT", env_int("USERS_TRUSTED_PROXIES", 0, minimum=0), minimum=0
        )
        self.INFERENCE_SERVICE_URL = os.environ.get(
            "INFERENCE_SERVICE_URL", "http://127.0.0.1:8000"
        ).rstrip("/")
        self.INFERENCE_PUBLIC_URL = os.environ.get(
            "INFERENCE_PUBLIC_URL", "http://127.0.0.1:8000"
        ).rstrip("/")
        self.USERS_PUBLIC_URL = os.environ.get("USERS_PUBLIC_URL", "").rstrip("/")
        self.INFERENCE_DELETE_TIMEOUT_SECONDS = env_float(
            "USERS_INFERENCE_DELETE_TIMEOUT_SECONDS", 3.0
        )
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        # Both services share the host (cookies ignore ports): keep our session cookie apart.
        self.SESSION_COOKIE_NAME = "medtriage_users_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.TOKEN_COOKIE_NAME = "medtriage_token"  # noqa: S105 - a name, not a secret  # nosec B105
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        self.MIGRATE_ON_START = True

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
