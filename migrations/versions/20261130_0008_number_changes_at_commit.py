"""Change feed: on PostgreSQL, entries are numbered when their transaction commits.

Until now the writer numbered an entry by raising the organization's counter in its own statement,
and the counter row stayed locked until the commit: a client round trip and a turn of the server's
event loop later. Under load that wait serialized an organization's writes for milliseconds each.
Now an entry is written with a negative placeholder number (from a sequence; unique, and below
every cursor), and a deferred constraint trigger numbers it during COMMIT: it raises the counter,
gives the entry its number and sends the NOTIFY. The row lock is still held until the commit
ends, so numbers stay gap-free and in commit order (app/journal/feed.py), but it is held for the
commit alone. Entries written with their number already (bulk changes, which take their numbers
with one raise of the counter) are left as they are.

The NOTIFY payload is `"<organization id>:<number>"` (app.journal.feed.notice). SQLite numbers
entries as before: its writers are serialized anyway.

Rolling deploy: run this migration first. Instances of the previous release keep working after
it (they write numbered entries, which the trigger leaves alone, and their NOTIFY of the
organization id alone makes the new release's readers read); the new release needs it.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30 00:00:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NUMBER_CHANGE = """
CREATE FUNCTION ainas_number_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    number bigint;
BEGIN
    INSERT INTO change_counters AS counter (organization_id, last, pruned_through)
    VALUES (NEW.organization_id, 1, 0)
    ON CONFLICT (organization_id) DO UPDATE SET last = counter.last + 1
    RETURNING counter.last INTO number;
    UPDATE changes SET seq = number WHERE organization_id = NEW.organization_id AND seq = NEW.seq;
    PERFORM pg_notify('ainas_changes', NEW.organization_id::text || ':' || number::text);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE change_placeholders AS bigint")
    op.execute(NUMBER_CHANGE)
    op.execute(
        "CREATE CONSTRAINT TRIGGER number_change AFTER INSERT ON changes "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.seq < 0) "
        "EXECUTE FUNCTION ainas_number_change()"
    )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER number_change ON changes")
    op.execute("DROP FUNCTION ainas_number_change()")
    op.execute("DROP SEQUENCE change_placeholders")
