"""Requester certificates (依頼人証明書, SPEC §2.6): metadata in the clear, file and password sealed.

At most one current certificate per organization (a partial unique index on both databases), and
the operators' "expiring soon" list reads the current ones by not_after.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text("replaced_at IS NULL")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("subject_name", sa.Text(), nullable=False),
        sa.Column("representative_name", sa.Text(), nullable=True),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("serial_number", sa.String(length=128), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("sealed_file", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_password", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_certificates_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
    )
    op.create_index(
        "ix_certificates_organization_id_created_at", "certificates", ["organization_id", "created_at"]
    )
    op.create_index(
        "uq_certificates_organization_id_current",
        "certificates",
        ["organization_id"],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )
    op.create_index(
        "ix_certificates_not_after_current",
        "certificates",
        ["not_after"],
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_certificates_not_after_current", table_name="certificates")
    op.drop_index("uq_certificates_organization_id_current", table_name="certificates")
    op.drop_index("ix_certificates_organization_id_created_at", table_name="certificates")
    op.drop_table("certificates")
