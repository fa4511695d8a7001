"""Agents (代理人) and designated agents (依頼先代理人), SPEC §2.7.

The agent directory; each organization's designations of its agents, for one location or all; and
the defaults, one row per (designation, procedure), whose unique index over (organization, location
with all locations as 0, procedure) is the database's guard of "one default per location and
procedure" under concurrency. The same expression makes "the same agent once per location (or once
for all locations)" a unique index. Expression indexes work on both databases.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCATION_KEY = sa.text("coalesce(location_id, 0)")
TRIGRAM_COLUMNS = ("name_search", "short_name_search")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("short_name", sa.String(length=10), nullable=False),
        sa.Column("registration_number", sa.String(length=10), nullable=True),
        sa.Column("prefecture", sa.String(length=2), nullable=False),
        sa.Column("procedures", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=13), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name_search", sa.Text(), nullable=False),
        sa.Column("short_name_search", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_agents_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("kind", "registration_number", name=op.f("uq_agents_kind_registration_number")),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.create_index(
                f"ix_agents_{column}_trgm",
                "agents",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
    op.create_table(
        "agent_designations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("procedures", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_agent_designations_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_designations_agent_id_agents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_agent_designations_location_id_locations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_designations")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_agent_designations_agent_location",
        "agent_designations",
        ["organization_id", "agent_id", LOCATION_KEY],
        unique=True,
    )
    op.create_index(
        "ix_agent_designations_organization_id_location_id",
        "agent_designations",
        ["organization_id", "location_id"],
    )
    op.create_index("ix_agent_designations_agent_id", "agent_designations", ["agent_id"])
    op.create_index("ix_agent_designations_location_id", "agent_designations", ["location_id"])
    op.create_table(
        "agent_designation_defaults",
        sa.Column("designation_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["designation_id"],
            ["agent_designations.id"],
            name=op.f("fk_agent_designation_defaults_designation_id_agent_designations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("designation_id", "procedure", name=op.f("pk_agent_designation_defaults")),
    )
    op.create_index(
        "uq_agent_designation_defaults_slot",
        "agent_designation_defaults",
        ["organization_id", LOCATION_KEY, "procedure"],
        unique=True,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("uq_agent_designation_defaults_slot", table_name="agent_designation_defaults")
    op.drop_table("agent_designation_defaults")
    op.drop_index("ix_agent_designations_location_id", table_name="agent_designations")
    op.drop_index("ix_agent_designations_agent_id", table_name="agent_designations")
    op.drop_index("ix_agent_designations_organization_id_location_id", table_name="agent_designations")
    op.drop_index("uq_agent_designations_agent_location", table_name="agent_designations")
    op.drop_table("agent_designations")
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.drop_index(f"ix_agents_{column}_trgm", table_name="agents")
    op.drop_table("agents")
