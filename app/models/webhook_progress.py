"""How far each webhook endpoint's delivery went, and which instance delivers it now."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, UTCDateTime


class WebhookProgress(Base):
    """One row per endpoint: the feed position delivered (or given up) through, the current
    message's attempts, and the lease of the instance delivering it.

    Moved forward in the same transaction as the attempt's record; only the holder of an unexpired
    lease writes it (taken with FOR UPDATE SKIP LOCKED on PostgreSQL).
    """

    __tablename__ = "webhook_progress"
    __table_args__ = (Index("ix_webhook_progress_organization_id", "organization_id"),)

    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(Integer)
    # The feed number of the last message answered 2xx or given up (0: none).
    position: Mapped[int] = mapped_column(BigInteger)
    # Attempts made of the message after `position` (0: none yet).
    attempt: Mapped[int] = mapped_column(Integer)
    # When the message after `position` may be attempted (null: at once).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first failure since the last success (5 days of failures disable the endpoint).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
