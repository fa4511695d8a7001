"""Running servers announce the certificate keys they open (`ainas rotate-certificate-key` checks).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_instances",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("certificate_key_ids", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_instances")),
    )


def downgrade() -> None:
    op.drop_table("service_instances")
