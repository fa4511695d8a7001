"""依頼人組織: a requester organization."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.filters import search_form_column
from app.db.orm import Base, Timestamped, UTCDateTime, trigram_indexes


class Organization(Timestamped, Base):
    """An organization; its public id is `id` written as 9 decimal digits."""

    __tablename__ = "organizations"
    # AUTOINCREMENT on SQLite (a sequence on PostgreSQL): an id is never handed out twice.
    __table_args__ = (
        *trigram_indexes("organizations", "name_search", "short_name_search"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    short_name: Mapped[str] = mapped_column(String(10))
    api_password_hash: Mapped[str | None] = mapped_column(String(255))
    api_password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Changes with the API password: linked-system tokens and cached Basic checks under the
    # old one stop working at once.
    api_password_stamp: Mapped[str | None] = mapped_column(String(32))
    # What name filters compare (NFKC, case-folded); last, as migration 0006 adds them.
    name_search: Mapped[str] = search_form_column("name")
    short_name_search: Mapped[str] = search_form_column("short_name")
