"""Environment parsing for both services: one behaviour for a bad value, a start-up error that
names the variable (never a silent fallback to the default)."""

from __future__ import annotations

import os

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A configuration variable has a value the service cannot use."""


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def env_str(name: str, default: str) -> str:
    return _raw(name) or default


def _number(name: str, default, minimum, kind: type, what: str):
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    return _number(name, default, minimum, int, "an integer")


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    return _number(name, default, minimum, float, "a number")


def env_bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")
