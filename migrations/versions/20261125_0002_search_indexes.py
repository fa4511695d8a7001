"""Search indexes: trigram indexes for partial-match filters, btree indexes for list orderings.

The repositories filter with `column.icontains(value, autoescape=True)`, which PostgreSQL runs as
`column ILIKE '%value%' ESCAPE '/'`. A GIN index with pg_trgm's `gin_trgm_ops` answers such a
filter for a value of three characters or more (shorter values have no trigram: PostgreSQL then
uses the organization's btree index and filters the rows). SQLite runs the same filter as
`lower(column) LIKE lower(...)`, which no SQLite index serves, so it only gets the btree indexes.

Lists are ordered within one organization: users by login_id, locations by code (served by the
unique constraint on organization_id, code), audit events by time (served by
ix_audit_events_organization_id_at). The id is the last sort key of every list, so it is the last
column of each ordering index, which lets a page be read in index order with no sort.

Trigram indexes cannot serve a needle of one or two characters (it has no trigram), and
PostgreSQL's estimate for one is poor: it may scan the whole GIN index (see docs/performance.md,
"Findings"). Filters on short needles are best written so that no trigram index matches them.

pg_trgm is a trusted extension (PostgreSQL 13 and later): the database's owner may create it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index name, table, column) of every partial-match filter of SPEC §5.2.
TRIGRAM_INDEXES = (
    ("ix_locations_code_trgm", "locations", "code"),
    ("ix_locations_name_trgm", "locations", "name"),
    ("ix_locations_short_name_trgm", "locations", "short_name"),
    ("ix_locations_delegate_number_trgm", "locations", "delegate_number"),
    ("ix_users_login_id_trgm", "users", "login_id"),
    ("ix_users_name_trgm", "users", "name"),
    ("ix_organizations_name_trgm", "organizations", "name"),
    ("ix_organizations_short_name_trgm", "organizations", "short_name"),
)


def upgrade() -> None:
    """Upgrade schema."""
    # Users of one organization in login_id order (the default sort of the user list). On
    # PostgreSQL it also carries the filtered columns, so that a filter no other index serves (a
    # name of one or two characters, a role) is checked in the index: the count and the page of
    # a large organization are then index-only scans instead of a heap read per user.
    op.create_index(
        "ix_users_organization_id_login_id_id",
        "users",
        ["organization_id", "login_id", "id"],
        postgresql_include=["name", "role", "location_id"],
    )
    # The audit trail of one organization in time order, id last (the list's tiebreaker); on
    # PostgreSQL with the filtered columns, so that filters and counts stay in the index.
    op.drop_index("ix_audit_events_organization_id_at", table_name="audit_events")
    op.create_index(
        "ix_audit_events_organization_id_at_id",
        "audit_events",
        ["organization_id", "at", "id"],
        postgresql_include=["action", "actor_id", "resource_type"],
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        op.create_index(
            name,
            table,
            [sa.text(f"{column} gin_trgm_ops")],
            postgresql_using="gin",
        )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _ in reversed(TRIGRAM_INDEXES):
            op.drop_index(name, table_name=table)
        # RESTRICT: should anything else have come to use pg_trgm, the downgrade stops rather than
        # dropping it.
        op.execute("DROP EXTENSION IF EXISTS pg_trgm")
    op.drop_index("ix_audit_events_organization_id_at_id", table_name="audit_events")
    op.create_index("ix_audit_events_organization_id_at", "audit_events", ["organization_id", "at"])
    op.drop_index("ix_users_organization_id_login_id_id", table_name="users")
