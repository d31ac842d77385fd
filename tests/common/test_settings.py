"""Environment parsing shared by both services: a bad value stops start-up, naming the variable."""

from __future__ import annotations

import pytest

from common.settings import ConfigError, env_bool, env_float, env_int


@pytest.mark.parametrize(
    ("parse", "raw", "expected"),
    [
        (env_int, "12", 12),
        (env_int, " 7 ", 7),
        (env_float, "2.5", 2.5),
        (env_bool, "yes", True),
        (env_bool, "OFF", False),
        (env_bool, "1", True),
    ],
)
def test_good_values_parse(monkeypatch, parse, raw, expected) -> None:
    monkeypatch.setenv("MEDTRIAGE_TEST_VAR", raw)
    assert parse("MEDTRIAGE_TEST_VAR", 0) == expected


@pytest.mark.parametrize(("parse", "default"), [(env_int, 3), (env_float, 1.5), (env_bool, True)])
def test_unset_or_empty_gives_the_default(monkeypatch, parse, default) -> None:
    monkeypatch.delenv("MEDTRIAGE_TEST_VAR", raising=False)
    assert parse("MEDTRIAGE_TEST_VAR", default) == default
    monkeypatch.setenv("MEDTRIAGE_TEST_VAR", "  ")
    assert parse("MEDTRIAGE_TEST_VAR", default) == default


@pytest.mark.parametrize(
    ("parse", "raw"), [(env_int, "ten"), (env_float, "1,5"), (env_bool, "maybe")]
)
def test_bad_values_raise_naming_the_variable(monkeypatch, parse, raw) -> None:
    monkeypatch.setenv("MEDTRIAGE_TEST_VAR", raw)
    with pytest.raises(ConfigError, match="MEDTRIAGE_TEST_VAR"):
        parse("MEDTRIAGE_TEST_VAR", 0)


def test_minimum_is_enforced(monkeypatch) -> None:
    monkeypatch.setenv("MEDTRIAGE_TEST_VAR", "-1")
    with pytest.raises(ConfigError, match="at least 0"):
        env_int("MEDTRIAGE_TEST_VAR", 1, minimum=0)


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("inference_service", "MODEL_POLL_SECONDS"),
        ("user_management_service", "USERS_TOKEN_TTL_SECONDS"),
    ],
)
def test_both_services_refuse_a_bad_value_at_start(
    monkeypatch, tmp_path, service, variable
) -> None:
    import importlib

    monkeypatch.setenv(variable, "soon")
    monkeypatch.setenv("MEDTRIAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("USERS_DATA_DIR", str(tmp_path))
    config = importlib.import_module(f"{service}.config")
    with pytest.raises(ConfigError, match=variable):
        config.Config()


def test_both_services_read_the_same_cookie_setting(monkeypatch, tmp_path) -> None:
    from inference_service.config import Config as InferenceConfig
    from user_management_service.config import Config as UsersConfig

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("MEDTRIAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("USERS_DATA_DIR", str(tmp_path))
    assert InferenceConfig().SESSION_COOKIE_SECURE is True
    assert UsersConfig().SESSION_COOKIE_SECURE is True
