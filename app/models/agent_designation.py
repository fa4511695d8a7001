"""依頼先代理人: an agent of the directory that an organization sends filings to (SPEC §2.7)."""

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.orm import Base, Timestamped
from app.models.agent import Agent
from app.models.location import Location

# A designation's location, with "all locations" (NULL) as 0: unique indexes then treat all
# locations as one value on both databases (NULLs are distinct in a unique index).
LOCATION_KEY = text("coalesce(location_id, 0)")


class AgentDesignation(Timestamped, Base):
    """An organization's designation of an agent, for one location or all (`location_id` NULL).

    `procedures` as in `Agent.procedures`. `is_default` is shown from here; the database's guard of
    "one default per location and procedure" is the table `agent_designation_defaults`.
    """

    __tablename__ = "agent_designations"
    __table_args__ = (
        # The same agent at most once per location (or once for all locations).
        Index(
            "uq_agent_designations_agent_location", "organization_id", "agent_id", LOCATION_KEY, unique=True
        ),
        Index("ix_agent_designations_organization_id_location_id", "organization_id", "location_id"),
        Index("ix_agent_designations_agent_id", "agent_id"),
        Index("ix_agent_designations_location_id", "location_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    procedures: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(100))
    # Loaded by the queries that show a designation; never lazily (async sessions cannot).
    agent: Mapped[Agent] = relationship(lazy="raise")
    location: Mapped[Location | None] = relationship(lazy="raise")
