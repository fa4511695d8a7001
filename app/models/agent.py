"""代理人: an agent of the association's directory, through whom OSS filings are made (SPEC §2.7)."""

from sqlalchemy import CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.filters import search_form_column
from app.db.orm import Base, Timestamped, trigram_indexes


class Agent(Timestamped, Base):
    """An agent of the directory; its public id is `id` written as 9 decimal digits.

    `procedures` holds the procedure codes it files, separated by single spaces in the order of
    SPEC §2.7's table (app/agents/procedures.py writes and reads them).
    """

    __tablename__ = "agents"
    __table_args__ = (
        # Unique within a kind; NULLs (no number) are distinct on both databases.
        UniqueConstraint("kind", "registration_number"),
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        *trigram_indexes("agents", "name_search", "short_name_search"),
        # Ids are never reused: designations and feed entries name agents by id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(50))
    short_name: Mapped[str] = mapped_column(String(10))
    registration_number: Mapped[str | None] = mapped_column(String(10))
    prefecture: Mapped[str] = mapped_column(String(2))
    procedures: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(13))
    status: Mapped[str] = mapped_column(String(16))
    # What name filters compare (NFKC, case-folded).
    name_search: Mapped[str] = search_form_column("name")
    short_name_search: Mapped[str] = search_form_column("short_name")
