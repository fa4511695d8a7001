"""依頼人拠点: a location (store) of an organization."""

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.filters import search_form_column
from app.db.orm import Base, Timestamped, trigram_indexes


class Location(Timestamped, Base):
    """A location; `code` is unique within its organization and never changes."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("organization_id", "code"),
        *trigram_indexes("locations", "code", "name_search", "short_name_search", "delegate_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(50))
    short_name: Mapped[str] = mapped_column(String(10))
    delegate_number: Mapped[str | None] = mapped_column(String(20))
    # What name filters compare (NFKC, case-folded); last, as migration 0006 adds them.
    name_search: Mapped[str] = search_form_column("name")
    short_name_search: Mapped[str] = search_form_column("short_name")
