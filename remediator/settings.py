"""Deployment settings: defaults in ``config/remediator.toml``, overridden by ``REMEDIATOR_*``."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from remediator.errors import ConfigError
from remediator.policy import Policy

DEFAULT_CONFIG_FILE = Path("config/remediator.toml")


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
    public_url: str = "http://127.0.0.1:8000"
    # The HTTP service (``remediator serve``).
    intake_secret: SecretStr = SecretStr("")
    callback_secret: SecretStr = SecretStr("")
    api_token: SecretStr = SecretStr("")
    signature_tolerance_seconds: int = Field(default=300, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    worker_concurrency: int = Field(default=32, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    join_seconds: float = Field(default=60.0, ge=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    fix_holds_seconds: float = Field(default=3600.0, ge=0)
    unavailable_retry_attempts: int = Field(default=5, ge=0)
    unavailable_retry_seconds: float = Field(default=30.0, gt=0)
    unavailable_retry_max_seconds: float = Field(default=900.0, gt=0)
    callback_attempts: int = Field(default=8, ge=1)
    callback_retry_seconds: float = Field(default=2.0, gt=0)
    callback_retry_max_seconds: float = Field(default=600.0, gt=0)
    callback_timeout: float = Field(default=10.0, gt=0)
    oauth_state_seconds: int = Field(default=600, ge=1)
    link_secret: SecretStr = SecretStr("")
    reconnect_link_seconds: int = Field(default=604_800, ge=60)
    policy: Policy = Field(default_factory=Policy)

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


def load_settings() -> Settings:
    """Read the settings now (environment and file as they are at this moment)."""
    named = os.environ.get("REMEDIATOR_CONFIG")
    if named and not Path(named).is_file():
        raise ConfigError(f"REMEDIATOR_CONFIG names {named}, which is not a readable file")
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
