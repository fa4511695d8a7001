"""APIキー: an identifier a linked system presents together with its organization's API password."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, UTCDateTime


class ApiKey(Base):
    """An API key; several may be active at once so that a linked system can rotate."""

    __tablename__ = "api_keys"
    # Ids are never reused (tokens and idempotency records name keys by id).
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    key: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # HMAC (service key) of key id, password stamp and the password last verified with argon2:
    # lets HTTP Basic requests skip argon2 while the same password stands (see api_keys/service).
    credential_digest: Mapped[str | None] = mapped_column(String(64))
    # Failed API-password attempts are throttled per key, not locked (SPEC §5.1).
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    throttled_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
