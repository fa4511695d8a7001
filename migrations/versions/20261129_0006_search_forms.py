"""Search forms: name filters ignore width and case (SPEC §5.2).

Text filters compare both sides in NFKC, case-folded (`app.text.rules.search_form`): `ﾃｽﾄ` finds
テスト, `ＡＢＣ` finds abc. Names are stored as typed (full-width), so each name column gets a
companion `*_search` column holding its search form, written by the service with the name on every
insert and change (`app.db.filters.search_form_column`), and backfilled here in batches with
the service's own rule. The indexes that served name filters move to the new columns: pg_trgm
for locations and organizations, the one- and two-character grams (migration 0003) and the
covering list index for users. Codes, login IDs and digits are ASCII: their columns already are
their search form up to case, which ILIKE ignores, and keep their indexes.

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-29 12:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.text.rules import search_form

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (source column, search-form column) pairs.
SEARCH_FORMS = {
    "organizations": (("name", "name_search"), ("short_name", "short_name_search")),
    "locations": (("name", "name_search"), ("short_name", "short_name_search")),
    "users": (("name", "name_search"),),
}
# Trigram indexes that move from the name columns to their search forms (PostgreSQL).
MOVED_TRIGRAM_INDEXES = (
    ("organizations", "name"),
    ("organizations", "short_name"),
    ("locations", "name"),
    ("locations", "short_name"),
)
BATCH = 5_000


def _backfill(table: str, pairs: Sequence[tuple[str, str]]) -> None:
    """Write every row's search forms, in batches by id."""
    bind = op.get_bind()
    columns = [sa.column("id", sa.Integer())]
    for source, target in pairs:
        columns += [sa.column(source, sa.String()), sa.column(target, sa.Text())]
    rows_of = sa.table(table, *columns)
    statement = (
        sa.update(rows_of)
        .where(rows_of.c.id == sa.bindparam("row_id"))
        .values({target: sa.bindparam(f"new_{target}") for _, target in pairs})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(rows_of.c.id, *(rows_of.c[source] for source, _ in pairs))
            .where(rows_of.c.id > last)
            .order_by(rows_of.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            statement,
            [
                {
                    "row_id": row[0],
                    **{
                        f"new_{target}": search_form(row[1 + index])
                        for index, (_, target) in enumerate(pairs)
                    },
                }
                for row in rows
            ],
        )
        last = rows[-1][0]


def upgrade() -> None:
    """Upgrade schema."""
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    for table, pairs in SEARCH_FORMS.items():
        for _, target in pairs:
            # SQLite adds a NOT NULL column only with a default; the service always writes it.
            op.add_column(
                table,
                sa.Column(
                    target,
                    sa.Text(),
                    nullable=on_postgresql,
                    server_default=None if on_postgresql else "",
                ),
            )
        _backfill(table, pairs)
        if on_postgresql:
            for _, target in pairs:
                op.alter_column(table, target, nullable=False)
    if not on_postgresql:
        return  # SQLite has neither pg_trgm nor grams; its list index has no INCLUDE.
    for table, column in MOVED_TRIGRAM_INDEXES:
        op.drop_index(f"ix_{table}_{column}_trgm", table_name=table)
        op.create_index(
            f"ix_{table}_{column}_search_trgm",
            table,
            [sa.text(f"{column}_search gin_trgm_ops")],
            postgresql_using="gin",
        )
    # Users' names are found by grams (any needle length), so their trigram index goes.
    op.drop_index("ix_users_name_trgm", table_name="users")
    op.drop_index("ix_users_organization_id_name_grams", table_name="users")
    op.create_index(
        "ix_users_organization_id_name_grams",
        "users",
        ["organization_id", sa.text("ainas_grams(name_search)")],
        postgresql_using="gin",
    )
    op.drop_index("ix_users_organization_id_login_id_id", table_name="users")
    op.create_index(
        "ix_users_organization_id_login_id_id",
        "users",
        ["organization_id", "login_id", "id"],
        postgresql_include=["name_search", "role", "location_id"],
    )


def downgrade() -> None:
    """Downgrade schema."""
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    if on_postgresql:
        op.drop_index("ix_users_organization_id_login_id_id", table_name="users")
        op.create_index(
            "ix_users_organization_id_login_id_id",
            "users",
            ["organization_id", "login_id", "id"],
            postgresql_include=["name", "role", "location_id"],
        )
        op.drop_index("ix_users_organization_id_name_grams", table_name="users")
        op.create_index(
            "ix_users_organization_id_name_grams",
            "users",
            ["organization_id", sa.text("ainas_grams(name)")],
            postgresql_using="gin",
        )
        op.create_index("ix_users_name_trgm", "users", [sa.text("name gin_trgm_ops")], postgresql_using="gin")
        for table, column in reversed(MOVED_TRIGRAM_INDEXES):
            op.drop_index(f"ix_{table}_{column}_search_trgm", table_name=table)
            op.create_index(
                f"ix_{table}_{column}_trgm",
                table,
                [sa.text(f"{column} gin_trgm_ops")],
                postgresql_using="gin",
            )
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35 and later): no table copy, which would
    # lose the expression index on lower(login_id).
    for table, pairs in reversed(SEARCH_FORMS.items()):
        for _, target in reversed(pairs):
            op.drop_column(table, target)
