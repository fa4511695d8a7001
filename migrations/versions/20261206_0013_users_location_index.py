"""An index on users.location_id alone.

Deleting a location makes PostgreSQL check the foreign key of users (`SELECT ... FROM users WHERE
location_id = $1`), and the service counts the users assigned to it first. The only index with
the column led with organization_id, so both read every user of the table or of the
organization: at 200,000 users per organization, each delete of a location read them all.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:20:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index("ix_users_location_id", "users", ["location_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_users_location_id", table_name="users")
