"""Audit events: append-only, written in the same transaction as the change they record."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, UTCDateTime


class AuditEvent(Base):
    """One recorded change or security event."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(
            "ix_audit_events_organization_id_at_id",
            "organization_id",
            "at",
            "id",
            postgresql_include=["action", "actor_id", "resource_type"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Not a foreign key: the trail must outlive what it describes.
    organization_id: Mapped[int | None] = mapped_column(Integer)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(64))

    @property
    def actor(self) -> dict[str, str | None]:
        """Who did it, as the public event nests it."""
        return {"kind": self.actor_kind, "id": self.actor_id}

    @property
    def resource(self) -> dict[str, str | None]:
        """What it was done to, as the public event nests it."""
        return {"type": self.resource_type, "id": self.resource_id}
