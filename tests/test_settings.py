"""Settings: the TOML file's defaults, environment overrides, clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from remediator.errors import ConfigError
from remediator.settings import Settings, load_settings

REPO = Path(__file__).parents[1]


def test_field_defaults_mirror_the_shipped_toml() -> None:
    shipped = tomllib.loads((REPO / "config" / "remediator.toml").read_text())
    defaults = Settings.model_construct()
    for key, value in shipped.items():
        current = getattr(defaults, key)
        if hasattr(current, "get_secret_value"):
            current = current.get_secret_value()
        if hasattr(current, "model_dump"):
            current = current.model_dump(mode="json")
        assert str(current) == str(value), key
    assert set(shipped) == set(Settings.model_fields)


def test_the_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('client_id = "from-file"\nhttp_timeout = 12.5\n')
    monkeypatch.setenv("REMEDIATOR_CONFIG", str(config))
    monkeypatch.setenv("REMEDIATOR_HTTP_TIMEOUT", "7")
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", "k")
    settings = load_settings()
    assert (settings.client_id, settings.http_timeout) == ("from-file", 7.0)
    assert settings.secret_key.get_secret_value() == "k"
    assert "k" not in repr(settings.secret_key)


def test_config_dir_in_the_working_directory_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "remediator.toml").write_text('client_id = "local"\n')
    assert load_settings().client_id == "local"


def test_a_missing_named_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_CONFIG", "/nowhere/remediator.toml")
    with pytest.raises(ConfigError, match=r"/nowhere/remediator\.toml"):
        load_settings()


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_RATE_LIMIT_REQUESTS", "many")
    with pytest.raises(ConfigError, match="rate_limit_requests"):
        load_settings()
