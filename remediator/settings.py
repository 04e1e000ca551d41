"""Deployment settings: defaults in ``config/remediator.toml``, overridden by ``REMEDIATOR_*``."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from sqlalchemy.exc import ArgumentError

from remediator.errors import ConfigError
from remediator.policy import Policy
from remediator.schedule import parse_time, zone

DEFAULT_CONFIG_FILE = Path("config/remediator.toml")
PREFIX = "REMEDIATOR_"
# Variables with the prefix that are not settings: which file to read, where playbooks are.
NOT_SETTINGS = frozenset({"REMEDIATOR_CONFIG", "REMEDIATOR_PLAYBOOKS_DIR"})
# Prefixes left to the project's own test and benchmark tooling (never read by the remediator).
TOOLING_PREFIXES = ("REMEDIATOR_TEST_", "REMEDIATOR_BENCH_")


def config_file() -> Path | None:
    """The TOML file to read: ``REMEDIATOR_CONFIG``, else ``config/remediator.toml`` if present."""
    named = os.environ.get("REMEDIATOR_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


class Settings(BaseSettings):
    """Every setting the remediator reads. Field defaults mirror ``config/remediator.toml``."""

    model_config = SettingsConfigDict(env_prefix="REMEDIATOR_", extra="forbid")

    fortnox_api_url: str = "https://api.fortnox.se/3"
    fortnox_oauth_url: str = "https://apps.fortnox.se/oauth-v1"
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    redirect_uri: str = "http://127.0.0.1:8000/oauth/callback"
    scopes: list[str] = Field(
        default_factory=lambda: ["bookkeeping", "companyinformation", "settings", "profile"]
    )
    database_url: str = "sqlite:///remediator.db"
    database_upgrade: bool = False
    secret_key: SecretStr = SecretStr("")
    key_file: Path = Path(".remediator.key")
    http_timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    rate_limit_requests: int = Field(default=25, ge=1)
    rate_limit_window: float = Field(default=5.0, gt=0)
    rate_limit_margin: float = Field(default=0.1, ge=0)
    retry_attempts: int = Field(default=6, ge=1)
    retry_max_seconds: float = Field(default=60.0, gt=0)
    refresh_margin_seconds: int = Field(default=300, ge=0)
    refresh_lock_seconds: float = Field(default=60.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    public_url: str = "http://127.0.0.1:8000"
    # The HTTP service (``remediator serve``).
    intake_secret: SecretStr = SecretStr("")
    callback_secret: SecretStr = SecretStr("")
    api_token: SecretStr = SecretStr("")
    signature_tolerance_seconds: int = Field(default=300, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    worker_concurrency: int = Field(default=32, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    database_threads: int = Field(default=3, ge=1)
    join_seconds: float = Field(default=60.0, ge=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    fix_holds_seconds: float = Field(default=3600.0, ge=0)
    unavailable_retry_attempts: int = Field(default=5, ge=0)
    unavailable_retry_seconds: float = Field(default=30.0, gt=0)
    unavailable_retry_max_seconds: float = Field(default=900.0, gt=0)
    run_timeout_seconds: float = Field(default=600.0, gt=0)
    run_attempts: int = Field(default=3, ge=1)
    stuck_run_seconds: float = Field(default=900.0, gt=0)
    callback_attempts: int = Field(default=8, ge=1)
    callback_retry_seconds: float = Field(default=2.0, gt=0)
    callback_retry_max_seconds: float = Field(default=600.0, gt=0)
    callback_timeout: float = Field(default=10.0, gt=0)
    oauth_state_seconds: int = Field(default=600, ge=1)
    link_secret: SecretStr = SecretStr("")
    reconnect_link_seconds: int = Field(default=604_800, ge=60)
    # Keep-alive (docs/ahead.md): refresh tokens rotated before they die, grants proven daily.
    keepalive_max_age_days: float = Field(default=30.0, gt=0, lt=45)
    keepalive_probe: bool = True
    backoffice_url: str = ""
    # The service's daily jobs (docs/ahead.md): once a day at a local time, once per deployment.
    schedule_enabled: bool = True
    schedule_time: str = "03:00"
    schedule_timezone: str = "Europe/Stockholm"
    schedule_spread_minutes: float = Field(default=30.0, ge=0, le=720)
    schedule_poll_seconds: float = Field(default=60.0, gt=0)
    # Checks ahead (docs/ahead.md): from this many days before a financial year ends, the
    # first day of the next one is checked too; the accounts checked are those of the latest
    # preflight_vouchers vouchers of the export's series, looked for this many days back.
    preflight_year_end_days: int = Field(default=30, ge=0, le=366)
    preflight_vouchers: int = Field(default=3, ge=0, le=20)
    preflight_voucher_days: int = Field(default=31, ge=1, le=366)
    policy: Policy = Field(default_factory=Policy)
    # The web console (``/console``).
    console_session_hours: float = Field(default=12.0, gt=0)
    console_link_hours: float = Field(default=72.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _a_database_url(cls, value: str) -> str:
        try:
            sa.engine.make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL (sqlite:///path/remediator.db or "
                "postgresql+psycopg://user@host/db)"
            ) from None
        return value

    @field_validator("schedule_time")
    @classmethod
    def _a_time_of_day(cls, value: str) -> str:
        try:
            parse_time(value)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return value

    @field_validator("schedule_timezone")
    @classmethod
    def _a_time_zone(cls, value: str) -> str:
        try:
            zone(value)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - nor secret dirs
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``REMEDIATOR_*`` variables that are no setting (a typo is refused, not ignored), each
    with the nearest setting's variable when one is close."""
    known = {PREFIX + name.upper() for name in Settings.model_fields} | NOT_SETTINGS
    found = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in known or name.startswith(TOOLING_PREFIXES):
            continue
        near = difflib.get_close_matches(name, sorted(known), n=1)
        found.append(f"{name} (did you mean {near[0]}?)" if near else name)
    return found


def _read_toml(path: Path) -> None:
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None


def load_settings() -> Settings:
    """Read the settings now (environment and file as they are at this moment)."""
    named = os.environ.get("REMEDIATOR_CONFIG")
    if named and not Path(named).is_file():
        raise ConfigError(f"REMEDIATOR_CONFIG names {named}, which is not a readable file")
    unknown = unknown_variables(os.environ)
    if unknown:
        raise ConfigError(f"unknown setting in the environment: {', '.join(unknown)}")
    path = config_file()
    if path is not None:
        _read_toml(path)
    try:
        return Settings()
    except SettingsError as err:
        raise ConfigError(_not_json(err)) from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def _not_json(err: SettingsError) -> str:
    """A list or table setting given in the environment must be JSON."""
    field = str(err).split('"')[1] if '"' in str(err) else "?"
    return (
        f"invalid settings: {PREFIX}{field.upper()} must be JSON for a list or table setting, "
        f'e.g. {PREFIX}SCOPES=\'["bookkeeping", "settings"]\' or '
        f'{PREFIX}POLICY=\'{{"create_account": "review"}}\''
    )
