"""The change feed's writer (SPEC §5.5): an audit event and its feed entry, in the change's transaction.

Why a reader that follows `seq > cursor ORDER BY seq` sees every change exactly once, in commit
order (the reader, app/journal/feed_reader.py, relies on this):

- An entry's number is taken by `UPDATE change_counters SET last = last + 1 ... RETURNING last`
  on the organization's counter row (an upsert, so that the first entry creates the row). The
  UPDATE locks that row until the transaction ends. A second transaction of the same
  organization that wants a number waits for the first to commit or roll back, then reads the
  counter as the first left it: after a commit it gets the next number, after a rollback the
  same number again (a rolled-back change gives its number back and never appears).
- So, per organization, numbers are handed out in commit order and without gaps: the committed
  entries are always exactly 1..last (less what retention pruned from the bottom). PostgreSQL
  makes a commit visible to new snapshots before it releases the row lock, so the waiting
  transaction's entry cannot become visible before the one it waited for.
- A reader's statement therefore sees a gap-free prefix of the organization's entries, and
  "everything after my cursor, in order" never skips an entry that commits later with a smaller
  number: there is none. A global sequence or an id column would not give that (a transaction
  can take 100, another 101 and commit first; a reader then moves past 100 for ever).
- The price is that an organization's audited writes are serialized from the moment they take a
  number until they commit. On PostgreSQL the number is therefore taken AT the commit: the entry
  is written with a negative placeholder (unique, below every cursor, from the sequence
  `change_placeholders`) and the deferred constraint trigger `number_change` (migration 0008)
  raises the counter, numbers the entry and sends the NOTIFY while COMMIT runs. The lock is held
  for the commit alone, with no round trip to this process in between; taken by a statement
  before the COMMIT it was held across the client's next turn of its event loop too, which under
  load serialized each organization's writes for milliseconds each. Other organizations are never
  affected. SQLite serializes all writers anyway: there the number is taken by a statement.
- A bulk change (a CSV upload) takes its numbers with one raise of the counter by a statement
  before its commit (`write_entries`): the trigger leaves entries with a number alone.

On PostgreSQL the audit event and the entry are one statement (one round trip; data-modifying
CTEs always run to completion). `pg_notify` is delivered at commit, and not at all after a
rollback. Its payload is `"<organization id>:<newest number>"` (`notice`; the trigger writes it
too): a process that hears it knows how far the organization's feed reaches without reading it.

The counter also stamps the totals of the user and location lists (`change_stamp`): every change
of a user, a location or the organization is audited through `AuditTrail.record_change` and so
moves it, in the change's own transaction.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Insert,
    Integer,
    ScalarSelect,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy import Sequence as DatabaseSequence
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.db.bulk import insert_rows
from app.db.prepared import PreparedWrite
from app.db.repository import Repository
from app.journal.metrics import FEED_ENTRIES_WRITTEN
from app.models import AuditEvent, Change, ChangeCounter

# The channel of PostgreSQL's LISTEN/NOTIFY (migration 0008's trigger names it too); the payload
# is written by `notice`.
CHANNEL = "ainas_changes"


_NOTICE = re.compile(r"([0-9]{1,18})(?::([0-9]{1,18}))?")


def notice(organization_id: int, last: int) -> str:
    """The NOTIFY payload of a change: `"<organization id>:<newest number>"`."""
    return f"{organization_id}:{last}"


def read_notice(payload: str) -> tuple[int, int | None] | None:
    """(organization id, newest number) of a payload; the number is None in the older payload of
    the organization id alone (an instance of the previous release, during a rolling deploy); None
    for anything else."""
    match = _NOTICE.fullmatch(payload)
    if match is None:
        return None
    organization, last = match.groups()
    return int(organization), int(last) if last is not None else None


# Audit action -> feed action, for every audited change that is a feed entry. Logins, lockouts,
# keys and passwords are audited but are not in the feed.
FEED_ACTIONS: Mapping[str, str] = {
    "organization.update": "organization.updated",
    "location.create": "location.created",
    "location.update": "location.updated",
    "location.delete": "location.deleted",
    "user.create": "user.created",
    "user.update": "user.updated",
    "user.delete": "user.deleted",
    "application_template.create": "application_template.created",
    "application_template.update": "application_template.updated",
    "application_template.delete": "application_template.deleted",
    "agent_designation.create": "agent_designation.created",
    "agent_designation.update": "agent_designation.updated",
    "agent_designation.delete": "agent_designation.deleted",
}

_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}
_EVENTS = cast(Table, AuditEvent.__table__)
_COUNTERS = cast(Table, ChangeCounter.__table__)
_CHANGES = cast(Table, Change.__table__)
_EVENT_COLUMNS = (
    "at",
    "organization_id",
    "actor_kind",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "changes",
    "request_id",
    "client_ip",
)
_ENTRY_COLUMNS = ("at", "action", "resource_type", "resource_id", "data")
# Where an entry's number comes from until its commit numbers it (PostgreSQL; migration 0008).
_PLACEHOLDERS = DatabaseSequence("change_placeholders")


def _take_numbers(dialect: Any, count: Any) -> Any:
    """The upsert that raises an organization's counter by `count` and returns its new value, the
    last of the numbers taken (the row stays locked until the transaction ends)."""
    statement = dialect.insert(_COUNTERS).values(
        organization_id=bindparam("organization_id", type_=Integer),
        last=count,
        pruned_through=literal_column("0"),
    )
    return statement.on_conflict_do_update(
        index_elements=[_COUNTERS.c.organization_id],
        set_={"last": _COUNTERS.c.last + statement.excluded.last},
    ).returning(_COUNTERS.c.last)


def _entry_values(number: Any) -> Any:
    """The entry's columns as a select of bound values and its number."""
    return select(
        bindparam("organization_id", type_=Integer),
        number,
        *(bindparam(f"entry_{name}", type_=_CHANGES.c[name].type) for name in _ENTRY_COLUMNS),
    )


def _event_values() -> list[Any]:
    """The event's columns as bound values, in the order of _EVENT_COLUMNS."""
    return [bindparam(f"event_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS]


def _postgresql_statement() -> Any:
    """Audit event and entry in one statement; the entry's placeholder number is numbered at commit."""
    event = insert(_EVENTS).values(dict(zip(_EVENT_COLUMNS, _event_values(), strict=True)))
    placeholder = -_PLACEHOLDERS.next_value()
    return (
        insert(_CHANGES)
        .from_select(["organization_id", "seq", *_ENTRY_COLUMNS], _entry_values(placeholder))
        .add_cte(event.cte("event"))
    )


# Built once: SQLAlchemy caches their compiled SQL, asyncpg their prepared statements.
_POSTGRESQL = PreparedWrite(_postgresql_statement())
_SQLITE_EVENT = insert(_EVENTS)
_INSERT_ENTRY = insert(_CHANGES)
_TAKE = {
    name: _take_numbers(dialect, bindparam("count", type_=Integer)) for name, dialect in _DIALECTS.items()
}
_NOTIFY = select(func.pg_notify(CHANNEL, bindparam("payload", type_=String)))


def _recorded_from(created: CTE) -> tuple[Insert, Insert]:
    """The audit event and the feed entry of a new row, one of each per row `created` returns
    (see `insert_with_event_and_entry`); the entry's placeholder number is numbered at commit."""
    event_values = select(*_event_values()).select_from(created)
    entry_values = _entry_values(-_PLACEHOLDERS.next_value()).select_from(created)
    return (
        insert(_EVENTS).from_select(list(_EVENT_COLUMNS), event_values),
        insert(_CHANGES).from_select(["organization_id", "seq", *_ENTRY_COLUMNS], entry_values),
    )


def _parameters(event: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """The bound values of an event and its entry in one statement (`_POSTGRESQL`, `_recorded_from`)."""
    return {
        "organization_id": event["organization_id"],
        **{f"event_{name}": event[name] for name in _EVENT_COLUMNS},
        **{f"entry_{name}": entry[name] for name in _ENTRY_COLUMNS},
    }


def in_one_statement(session: AsyncSession) -> bool:
    """Whether an event and its entry are written by one statement, numbered at commit (PostgreSQL)."""
    return session.bind.dialect.name == "postgresql"


async def insert_with_event_and_entry(
    repository: Repository[Any],
    values: Mapping[str, Any],
    returning: Sequence[Any],
    event: Mapping[str, Any],
    entry: Mapping[str, Any],
) -> Sequence[Any]:
    """A new row (its `returning` columns), its audit event and its feed entry, written by one
    statement where `in_one_statement` (Repository.insert_alongside): the request's whole change."""
    row = await repository.insert_alongside(values, returning, _recorded_from, _parameters(event, entry))
    FEED_ENTRIES_WRITTEN.inc()
    return row


async def write_event_and_entry(session: AsyncSession, event: dict[str, Any], entry: dict[str, Any]) -> None:
    """Write an audit event (its columns) and a feed entry (`at`, `action`, `resource_type`,
    `resource_id`, `data`) of `event["organization_id"]`, in the session's transaction."""
    organization_id = event["organization_id"]
    FEED_ENTRIES_WRITTEN.inc()
    if in_one_statement(session):
        await _POSTGRESQL.in_transaction(session, _parameters(event, entry))
        return
    await session.execute(_SQLITE_EVENT, event)
    taken = await session.execute(_TAKE["sqlite"], {"organization_id": organization_id, "count": 1})
    number = taken.scalar_one()
    await session.execute(_INSERT_ENTRY, {"organization_id": organization_id, "seq": number, **entry})


async def write_entries(
    session: AsyncSession, organization_id: int, entries: Sequence[dict[str, Any]]
) -> None:
    """Write many feed entries of one organization (a bulk change, after its audit events): one
    raise of the counter numbers them all, one COPY writes them, one NOTIFY announces them."""
    if not entries:
        return
    dialect = session.bind.dialect.name
    taken = await session.execute(_TAKE[dialect], {"organization_id": organization_id, "count": len(entries)})
    last = taken.scalar_one()
    first = last - len(entries) + 1
    rows = [
        {"organization_id": organization_id, "seq": first + offset, **entry}
        for offset, entry in enumerate(entries)
    ]
    await insert_rows(session, _CHANGES, rows)
    FEED_ENTRIES_WRITTEN.inc(len(rows))
    if dialect == "postgresql":
        await session.execute(_NOTIFY, {"payload": notice(organization_id, last)})


# -- the counter as a stamp of list totals ----------------------------------------------------


class _counter_version(FunctionElement[str]):  # noqa: N801 (a SQL expression, named as SQLAlchemy's are)
    """The counter row's `last`; on PostgreSQL with the row version's transaction id (`xmin`),
    so that a counter row made again (tables emptied under a running process, a restored
    backup) never repeats a stamp an earlier row had."""

    type = String()
    inherit_cache = True
    name = "counter_version"


@compiles(_counter_version)
def _counter_version_anywhere(element: _counter_version, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(_counter_version, "postgresql")
def _counter_version_on_postgresql(element: _counter_version, compiler: Any, **kw: Any) -> str:
    last = compiler.process(element.clauses, **kw)
    return f"({last})::text || ':' || {_COUNTERS.name}.xmin::text"


def change_stamp() -> ScalarSelect[Any]:
    """The stamp of an organization's lists (`Repository.listed(..., stamp=...)`) over the bound
    `organization_id`: its counter, which moves with every committed change of its users,
    locations, designations, templates and itself (one audited change, one entry, through
    `AuditTrail.record_change`). NULL before the organization's first change: then every page
    counts. Logins, password resets and lockouts do not move it; they change no column a list
    filters on."""
    return (
        select(_counter_version(_COUNTERS.c.last))
        .where(_COUNTERS.c.organization_id == bindparam("organization_id"))
        .scalar_subquery()
    )
