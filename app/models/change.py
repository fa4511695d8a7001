"""The change feed (SPEC §5.5): one entry per committed change, numbered per organization."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, UTCDateTime


class ChangeCounter(Base):
    """An organization's last feed number, and how far its feed was pruned.

    `last` is only ever raised under this row's lock by the transaction that writes the entry
    (see app/journal/feed.py for why that makes the numbers gap-free in commit order).
    """

    __tablename__ = "change_counters"

    # Not a foreign key: organizations are never deleted, and the insert path stays one statement.
    organization_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger)
    # Entries numbered up to this were deleted: an older cursor answers 410 cursor_expired.
    pruned_through: Mapped[int] = mapped_column(BigInteger)


class Change(Base):
    """One feed entry: what changed, and the resource as its GET answered right after (None: deleted)."""

    __tablename__ = "changes"
    # Pruning finds old entries by time.
    __table_args__ = (Index("ix_changes_at", "at"),)

    organization_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # 1, 2, 3, ... per organization. On PostgreSQL a negative placeholder until the entry's commit
    # numbers it (migration 0008's trigger; why: app/journal/feed.py); readers never see one.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    # The resource's JSON exactly as written after the change (null: deleted). Text, not JSON:
    # readers copy it into their answer as it is, without parsing it.
    data: Mapped[str | None] = mapped_column(Text)
