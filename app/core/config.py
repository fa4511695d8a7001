"""Settings: every environment variable the service reads, read once into one object."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    """Configuration from `AINAS_*` environment variables (and `DATABASE_URL`)."""

    model_config = SettingsConfigDict(env_prefix="AINAS_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite+aiosqlite:///./ainas.db",
        validation_alias="DATABASE_URL",
    )
    secret_key: str = DEVELOPMENT_SECRET_KEY
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    temporary_password_hours: int = Field(default=72, ge=1, le=24 * 30)
    # NIST SP 800-63B: no periodic expiry unless an operator switches it on.
    password_max_age_days: int | None = Field(default=None, ge=1)
    # OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    api_key_failure_threshold: int = Field(default=5, ge=1)
    api_key_throttle_seconds: int = Field(default=60, ge=1)
    idempotency_hours: int = Field(default=24, ge=1)
    # The change feed keeps entries at least this long (SPEC §5.5); older ones are pruned.
    change_retention_days: int = Field(default=30, ge=1, le=3650)
    cors_origins: list[str] = []
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # At least the requests one process serves at once: a request that waits for a connection in
    # Python costs more CPU (asyncio's waiting machinery) than one that waits in PostgreSQL
    # (creates at 32 concurrent callers: 1.9 ms of CPU each with 20 connections, 1.5 with 40).
    # Two processes at 40 fit PostgreSQL's default max_connections of 100.
    db_pool_size: int = Field(default=40, ge=1)
    db_timeout_seconds: float = Field(default=5.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept plain postgres/sqlite URLs and select the async driver the service uses."""
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> "Settings":
        """A published or short signing key would let anyone forge tokens: it is accepted only in
        development on the embedded SQLite database, never with PostgreSQL or in production."""
        weak = self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < MIN_SECRET_KEY_LENGTH
        if weak and (self.environment != "development" or not self.is_sqlite):
            raise ValueError(
                f"AINAS_SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
                f"characters (AINAS_ENVIRONMENT={self.environment}, database "
                f"{'SQLite' if self.is_sqlite else 'PostgreSQL'}); e.g. openssl rand -base64 48"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite database."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
