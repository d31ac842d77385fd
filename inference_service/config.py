"""Settings from the environment with safe local defaults (CONTRACTS section 2)."""

from __future__ import annotations

import os
from pathlib import Path

from common import REPO_ROOT
from common.secret_file import read_or_create_secret
from common.settings import env_bool, env_float, env_int


def data_dir() -> Path:
    return Path(os.environ.get("MEDTRIAGE_DATA_DIR", "./.data")).resolve()


def secret_key() -> str:
    """INFERENCE_SECRET_KEY, else a key kept in ./.data so every gunicorn worker shares it.

    CSRF tokens are signed with it: a per-process random key would make a form rendered by
    one worker fail when posted to another.
    """
    key = os.environ.get("INFERENCE_SECRET_KEY")
    if key:
        return key
    return read_or_create_secret(data_dir() / "inference_secret_key").hex()


class Config:
    """Defaults read from the environment when the app is created; tests override by mapping."""

    def __init__(self) -> None:
        data = data_dir()
        self.ARTIFACT_STORE = os.environ.get(
            "ARTIFACT_STORE", f"file://{(REPO_ROOT / '.artifacts').as_posix()}"
        )
        self.MODEL_VERSION = os.environ.get("MODEL_VERSION", "latest")
        self.MODEL_CACHE_DIR = os.environ.get(
            "MODEL_CACHE_DIR", str((REPO_ROOT / ".cache" / "models").resolve())
        )
        # How often to look for a newer LATEST (only when MODEL_VERSION is "latest"); 0 = never.
        self.MODEL_POLL_SECONDS = env_float("MODEL_POLL_SECONDS", 60.0)
        # Backoff while no model could be loaded yet (store unreachable, bad artifact).
        self.MODEL_RETRY_INITIAL_SECONDS = env_float("MODEL_RETRY_INITIAL_SECONDS", 1.0)
        self.MODEL_RETRY_MAX_SECONDS = env_float("MODEL_RETRY_MAX_SECONDS", 60.0)
        # A request that finds no model waits this long while a load is under way (not while
        # the store is failing), instead of a 503 at once.
        self.MODEL_HOLD_SECONDS = env_float("MODEL_HOLD_SECONDS", 15.0)
        self.MODEL_AUTOLOAD = env_bool("MODEL_AUTOLOAD", True)
        self.INFERENCE_DATABASE_URL = os.environ.get(
            "INFERENCE_DATABASE_URL", f"sqlite:///{data / 'inference.db'}"
        )
        self.HISTORY_RETENTION_DAYS = env_float("HISTORY_RETENTION_DAYS", 30.0)
        self.HISTORY_PURGE_SECONDS = env_float("HISTORY_PURGE_SECONDS", 3600.0)
        # Ratings of answers (POST/DELETE .../feedback) each person may send per window.
        self.FEEDBACK_RATE_LIMIT = env_int("FEEDBACK_RATE_LIMIT", 60, minimum=0)
        self.FEEDBACK_RATE_WINDOW_SECONDS = env_float(
            "FEEDBACK_RATE_WINDOW_SECONDS", 600.0, minimum=1.0
        )
        self.USERS_SERVICE_URL = os.environ.get("USERS_SERVICE_URL", "http://127.0.0.1:8001")
        self.USERS_PUBLIC_URL = os.environ.get("USERS_PUBLIC_URL", "http://127.0.0.1:8001")
        self.INFERENCE_PUBLIC_URL = os.environ.get("INFERENCE_PUBLIC_URL", "")
        self.JWT_ISSUER = os.environ.get("JWT_ISSUER", "medtriage-users")
        self.JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "medtriage")
        self.JWKS_CACHE_SECONDS = env_float("JWKS_CACHE_SECONDS", 3600.0)
        self.JWKS_MIN_REFETCH_SECONDS = env_float("JWKS_MIN_REFETCH_SECONDS", 30.0)
        self.JWKS_TIMEOUT_SECONDS = env_float("JWKS_TIMEOUT_SECONDS", 2.0)
        self.USERS_OPENAPI_CACHE_SECONDS = env_float("USERS_OPENAPI_CACHE_SECONDS", 60.0)
        self.TOKEN_COOKIE = "medtriage_token"  # noqa: S105 - a cookie name, not a secret  # nosec B105
        # Both services share cookies (same host, other port): keep the session cookie apart.
        self.SESSION_COOKIE_NAME = "medtriage_inference_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.WTF_CSRF_TIME_LIMIT = None
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        # Reverse proxies in front (ALB = 1) whose X-Forwarded-For/-Proto/-Port are trusted.
        self.TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
        # TensorFlow threads per worker (0 = TensorFlow's default); see gunicorn_conf.py.
        self.TF_INTRA_OP_THREADS = env_int("TF_INTRA_OP_THREADS", 1)
        self.TF_INTER_OP_THREADS = env_int("TF_INTER_OP_THREADS", 1)
        # Named in urgent reasons; no country is assumed (defaults are generic wording).
        self.EMERGENCY_NUMBER = os.environ.get("EMERGENCY_NUMBER", "your local emergency number")
        self.POISON_HELP = os.environ.get("POISON_HELP", "your local poison control centre")
        self.CRISIS_LINE = os.environ.get("CRISIS_LINE", "a local crisis line")
        # Dynamic micro-batching of the model call (medtriage/batching.py): concurrent
        # questions in one worker share one call of up to INFERENCE_BATCH_MAX questions (1 =
        # off), the first waiting at most INFERENCE_BATCH_WAIT_MS for company.
        self.INFERENCE_BATCH_MAX = env_int("INFERENCE_BATCH_MAX", 32, minimum=1)
        self.INFERENCE_BATCH_WAIT_MS = env_float("INFERENCE_BATCH_WAIT_MS", 2.0, minimum=0.0)

    def as_dict(self) -> dict:
        return dict(vars(self))
