"""申請テンプレート: the defaults of an application that staff file again and again (SPEC §2.8)."""

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.filters import search_form_column
from app.db.orm import Base, Timestamped
from app.models.location import Location


class ApplicationTemplate(Timestamped, Base):
    """A template of one organization, for one location or all (`location_id` NULL).

    The parties (`owner`, `user`) and `base_location` are small JSON objects, validated and
    normalized by the schemas before they are stored, and always replaced whole.
    """

    __tablename__ = "application_templates"
    __table_args__ = (
        # The database's own guard of "a name once per organization" (two creates at once).
        UniqueConstraint("organization_id", "name"),
        Index("ix_application_templates_organization_id_location_id", "organization_id", "location_id"),
        Index("ix_application_templates_location_id", "location_id"),
        Index("ix_application_templates_agent_designation_id", "agent_designation_id"),
        # Ids are never reused: feed entries and audit events name templates by id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(50))
    procedure: Mapped[str] = mapped_column(String(32))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    agent_designation_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_designations.id", ondelete="RESTRICT")
    )
    use: Mapped[str | None] = mapped_column(String(16))
    owner: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    user: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    user_same_as_owner: Mapped[bool] = mapped_column(Boolean)
    base_location: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    notes: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    # Loaded by the queries that show a template (its location's code); never lazily.
    location: Mapped[Location | None] = relationship(lazy="raise")
    # What the name filter compares (NFKC, case-folded).
    name_search: Mapped[str] = search_form_column("name")
