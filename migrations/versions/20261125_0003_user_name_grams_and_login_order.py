"""Users at scale: name search by one- and two-character grams, and the most recent logins first.

Names are Japanese: the common search is a family name of two characters (田中), which has no
trigram, so pg_trgm cannot serve it and PostgreSQL filtered every user of the organization
(140 ms at 200,000 users). `ainas_grams(text)` lists every one- and two-character substring of a
text, lower-cased; a GIN index on (organization_id, ainas_grams(name)) finds the users whose name
holds every gram of the needle within one organization (btree_gin lets the integer column share
the GIN index). The repositories keep the LIKE that decides: grams only narrow the rows.

`sort=-last_login_at` walked the whole organization and sorted it; the index reads it in order.
Lists order nullable columns with NULL first ascending and last descending (as SQLite does):
"never logged in" sorts as the oldest.

PostgreSQL only for the grams (SQLite has neither GIN nor arrays); the order index on both.
btree_gin is a trusted extension (PostgreSQL 13 and later), as pg_trgm.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRAMS_FUNCTION = """
CREATE FUNCTION ainas_grams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(value), position, size)), '{}')
    FROM generate_series(1, length(value)) AS position, (VALUES (1), (2)) AS sizes(size)
    WHERE position + size - 1 <= length(value)
$$
"""


def upgrade() -> None:
    """Upgrade schema."""
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    # SQLite sorts NULL first ascending anyway, reads an index backwards, and its indexes are
    # not the measured ones: plain columns there.
    order = sa.text("last_login_at DESC NULLS LAST") if on_postgresql else "last_login_at"
    op.create_index("ix_users_organization_id_last_login_at_id", "users", ["organization_id", order, "id"])
    if not on_postgresql:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(GRAMS_FUNCTION)
    op.create_index(
        "ix_users_organization_id_name_grams",
        "users",
        ["organization_id", sa.text("ainas_grams(name)")],
        postgresql_using="gin",
    )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_users_organization_id_name_grams", table_name="users")
        op.execute("DROP FUNCTION ainas_grams(text)")
        op.execute("DROP EXTENSION IF EXISTS btree_gin")
    op.drop_index("ix_users_organization_id_last_login_at_id", table_name="users")
