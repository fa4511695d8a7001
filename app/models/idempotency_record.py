"""Stored answers of POST requests made with an Idempotency-Key."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, UTCDateTime


class IdempotencyRecord(Base):
    """The answer given to one principal's POST with one Idempotency-Key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # subject:role:location of the caller (see app/idempotency/service.py).
    principal: Mapped[str] = mapped_column(String(128))
    # HMACs under the service secret; the body is encrypted (see app/idempotency/service.py).
    key: Mapped[str] = mapped_column(String(255))
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
