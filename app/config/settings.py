"""Settings: every environment variable the service reads, read once into one object."""

import base64
import binascii
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.config.local_secrets import refuse_unusable_secret, weakness

ENCRYPTION_KEY_BYTES = 32  # AES-256


def decode_encryption_key(value: str) -> bytes | None:
    """The 32 bytes of a base64 (standard or URL-safe) AES-256 key, or None when it is not one."""
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == ENCRYPTION_KEY_BYTES else None


class Settings(BaseSettings):
    """Configuration from `AINAS_*` environment variables (and `DATABASE_URL`)."""

    # Errors never echo the input: it holds the keys.
    model_config = SettingsConfigDict(
        env_prefix="AINAS_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite+aiosqlite:///./ainas.db",
        validation_alias="DATABASE_URL",
    )
    # Empty: generated once and kept beside the SQLite database (app/config/local_secrets.py);
    # required in production and with PostgreSQL.
    secret_key: str = ""
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
    # Generated secrets (a CSV upload's temporary passwords: 94 random bits, valid for 72 hours) are
    # not guessable at any hashing cost; the cost above is for chosen passwords. Still argon2id, at
    # 1 MiB and 1 pass (about 1 ms instead of 60): 10,000 new users hash in seconds, not minutes.
    argon2_generated_memory_kib: int = Field(default=1024, ge=8)
    argon2_generated_time_cost: int = Field(default=1, ge=1)
    # Hashes computed at once per process (19 MiB each at the default cost): one per core of a
    # 2-core machine. A password check waits up to hash_wait_seconds for its turn, then 503.
    hash_concurrency: int = Field(default=2, ge=1, le=64)
    hash_wait_seconds: float = Field(default=3.0, ge=0, le=60)
    api_key_failure_threshold: int = Field(default=5, ge=1)
    api_key_throttle_seconds: int = Field(default=60, ge=1)
    idempotency_hours: int = Field(default=24, ge=1)
    # The change feed keeps entries at least this long (SPEC §5.5); older ones are pruned.
    change_retention_days: int = Field(default=30, ge=1, le=3650)
    # Long polls of the change feed one principal (a user or an API key) may have waiting at once
    # in one process; the next answers 429. Per process: instances do not share the count.
    long_polls_per_principal: int = Field(default=10, ge=1, le=10000)
    cors_origins: list[str] = []
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are
    # believed; none by default, so that a client cannot choose the address the audit records.
    trusted_proxies: list[str] = []
    # Request line and headers together; larger requests answer 431 before the app sees them.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # At least the requests one process serves at once: a request that waits for a connection in
    # Python costs more CPU (asyncio's waiting machinery) than one that waits in PostgreSQL
    # (creates at 32 concurrent callers: 1.9 ms of CPU each with 20 connections, 1.5 with 40).
    # Two processes at 40 fit PostgreSQL's default max_connections of 100.
    db_pool_size: int = Field(default=40, ge=1)
    db_timeout_seconds: float = Field(default=5.0, gt=0)
    # What stands between the service and PostgreSQL (SPEC §6). `transaction`: a pooler in
    # transaction pooling mode (PgBouncer): no prepared statement outlives its transaction and no
    # startup parameter beyond what PgBouncer accepts by default. `none`: a direct connection.
    database_pooler: Literal["none", "transaction"] = "none"
    # LISTEN needs a session of its own: a direct connection to PostgreSQL, never the pooler.
    # Empty: DATABASE_URL.
    listen_database_url: str = ""
    # On SIGTERM: in-flight requests (and webhook attempts) get at most this long to finish.
    shutdown_grace_s: float = Field(default=10.0, ge=0, le=600)
    # `GET /metrics` answers Prometheus' text format to this bearer token; empty: 404.
    metrics_token: SecretStr | None = None
    # The interactive docs (/docs, /redoc); the OpenAPI document is served either way.
    docs_enabled: bool = True
    # The login page of AINAS's screens, printed on the registration notice (利用登録通知書).
    login_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    # Requester certificates (SPEC §2.6): the key-encryption key of their files and passwords,
    # base64 of 32 random bytes; required in production. Without it, development keeps a generated
    # one beside the SQLite database (app/security/sealing.py).
    certificate_key: SecretStr | None = None
    # Keys that still open certificates sealed before a rotation (`ainas rotate-certificate-key`).
    certificate_previous_keys: list[SecretStr] = []
    # A PKCS#12 file names its own key-derivation work: opening one is bounded in time.
    certificate_parse_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Files opened at once per process (each in a child process of its own); the rest wait.
    certificate_parse_concurrency: int = Field(default=2, ge=1, le=64)
    # Of those, files of one organization at once: one organization cannot keep others waiting.
    certificate_parse_per_organization: int = Field(default=1, ge=1, le=64)
    # Webhooks (SPEC §5.7). Development and tests only: also http:// and private addresses
    # (refused in production).
    webhook_allow_private: bool = False
    # Egress allow-list, comma-separated host names or addresses: when set, no other host is
    # resolved or contacted. Empty: any public host.
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = []
    # Multiplies every retry delay and the 5 days after which a failing endpoint is disabled
    # (tests and benchmarks shrink them instead of sleeping).
    webhook_retry_scale: float = Field(default=1.0, gt=0, le=1.0)
    # One attempt: connect, send and the answer's first KiB, all within this.
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=15.0)
    # How long an instance holds an endpoint's delivery without renewing it; a killed instance's
    # endpoints are taken over after it. Longer than an attempt, so that a slow attempt is never
    # taken over while it runs.
    webhook_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Endpoints one instance delivers to at once (also its HTTP connection pool).
    webhook_concurrency: int = Field(default=20, ge=1, le=1000)
    # Messages one instance sends per second at most, all endpoints together: a backlog (a
    # receiver back after an outage, a `recover`) is drained beside the requests the instance
    # serves, not instead of them. 0: no limit.
    webhook_rate: float = Field(default=250.0, ge=0, le=100_000)
    # The delivery worker runs inside `ainas serve` (off: only `ainas webhook-worker` delivers).
    webhook_worker: bool = True

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

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """`a.example,b.example` (the environment's form) as a list of lower-case names."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [str(host).strip().lower().strip("[]") for host in value if str(host).strip()]
        return value

    @model_validator(mode="after")
    def _webhooks_stay_public_in_production(self) -> "Settings":
        """Private addresses and plain HTTP are for development and tests (SPEC §5.7)."""
        if self.webhook_allow_private and self.environment == "production":
            raise ValueError("AINAS_WEBHOOK_ALLOW_PRIVATE=1 is refused when AINAS_ENVIRONMENT=production")
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("AINAS_WEBHOOK_LEASE_SECONDS must be longer than AINAS_WEBHOOK_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> "Settings":
        """A guessable signing key would let anyone forge tokens (see app/config/local_secrets.py)."""
        refuse_unusable_secret(
            "AINAS_SECRET_KEY",
            self.secret_key,
            production=self.environment == "production",
            database_url=self.database_url,
        )
        return self

    @model_validator(mode="after")
    def _check_certificate_keys(self) -> "Settings":
        """Certificate keys are AES-256 keys, distinct from the token signing key, and a production
        service cannot start without one (certificates sealed under a lost key are lost)."""
        hint = "32 random bytes in base64, e.g. openssl rand -base64 32"
        if self.certificate_key is None:
            if self.environment == "production":
                raise ValueError(f"AINAS_CERTIFICATE_KEY must be set in production ({hint})")
        else:
            raw = decode_encryption_key(self.certificate_key.get_secret_value())
            if raw is None:
                raise ValueError(f"AINAS_CERTIFICATE_KEY must be {hint}")
            # The key's bytes are judged, not their base64. Previous keys are not: a rotation away
            # from a weak key must stay possible.
            reason = weakness(raw.decode("latin-1"))
            if reason is not None:
                raise ValueError(f"AINAS_CERTIFICATE_KEY is refused: {reason} ({hint})")
        for key in self.certificate_previous_keys:
            if decode_encryption_key(key.get_secret_value()) is None:
                raise ValueError(f"each of AINAS_CERTIFICATE_PREVIOUS_KEYS must be {hint}")
        certificate_keys = [key.get_secret_value().strip() for key in self.certificate_previous_keys]
        if self.certificate_key is not None:
            certificate_keys.append(self.certificate_key.get_secret_value().strip())
        if self.secret_key.strip() in certificate_keys:
            raise ValueError("AINAS_CERTIFICATE_KEY must differ from AINAS_SECRET_KEY")
        return self

    @property
    def listen_url(self) -> str:
        """Where the change listener LISTENs: `AINAS_LISTEN_DATABASE_URL`, else `DATABASE_URL`."""
        return self.listen_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite database."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
