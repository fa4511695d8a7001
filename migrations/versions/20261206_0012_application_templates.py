"""Application templates (申請テンプレート, SPEC §2.8).

A name is unique within its organization (a unique constraint: two creates at once cannot both
commit). Parties and 使用の本拠の位置 are JSON objects. Locations and designations that templates
name cannot be deleted under them (RESTRICT; the services answer 409 first, naming how many).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "application_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("procedure", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("agent_designation_id", sa.Integer(), nullable=True),
        sa.Column("use", sa.String(length=16), nullable=True),
        sa.Column("owner", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("user", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("user_same_as_owner", sa.Boolean(), nullable=False),
        sa.Column("base_location", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("notes", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("name_search", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_application_templates_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_application_templates_location_id_locations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["agent_designation_id"],
            ["agent_designations.id"],
            name=op.f("fk_application_templates_agent_designation_id_agent_designations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_templates")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_application_templates_organization_id_name")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_application_templates_organization_id_location_id",
        "application_templates",
        ["organization_id", "location_id"],
    )
    op.create_index("ix_application_templates_location_id", "application_templates", ["location_id"])
    op.create_index(
        "ix_application_templates_agent_designation_id", "application_templates", ["agent_designation_id"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_application_templates_agent_designation_id", table_name="application_templates")
    op.drop_index("ix_application_templates_location_id", table_name="application_templates")
    op.drop_index("ix_application_templates_organization_id_location_id", table_name="application_templates")
    op.drop_table("application_templates")
