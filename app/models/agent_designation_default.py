"""Which designation is the default for a location (or all locations) and a procedure."""

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base
from app.models.agent_designation import LOCATION_KEY


class AgentDesignationDefault(Base):
    """One (designation, procedure) that is a default: a row per procedure of a default designation.

    The unique index is the one guard of "at most one default per organization, location (or all
    locations) and procedure" (SPEC §2.7): two concurrent "make default" requests cannot both
    commit. `organization_id` and `location_id` are copies of the designation's, written with it.
    """

    __tablename__ = "agent_designation_defaults"
    __table_args__ = (
        Index(
            "uq_agent_designation_defaults_slot",
            "organization_id",
            LOCATION_KEY,
            "procedure",
            unique=True,
        ),
    )

    designation_id: Mapped[int] = mapped_column(
        ForeignKey("agent_designations.id", ondelete="CASCADE"), primary_key=True
    )
    procedure: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[int | None] = mapped_column(Integer)
