"""Webhook endpoints (SPEC §5.7): where an organization's changes are pushed, and the secret that signs them."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, Timestamped, UTCDateTime


class WebhookEndpoint(Timestamped, Base):
    """An endpoint; its signing secret sealed (and, for a day after a rotation, the previous one)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_organization_id_created_at", "organization_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # Feed actions (SPEC §5.5); empty: all of them.
    event_types: Mapped[list[Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Why the service disabled it (gone, failing); null when enabled or disabled by a person.
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    # Which configured key sealed the secrets (app/security/sealing.py).
    key_id: Mapped[str] = mapped_column(String(16))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sealed_previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # Messages are signed with the previous secret too until then.
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
