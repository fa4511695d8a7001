"""All SQL of the change feed's reader and of its pruning (the writer is app/journal/feed.py)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, literal, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.prepared import PreparedSelect
from app.models import Change, ChangeCounter

_ORGANIZATION = bindparam("organization_id", type_=Integer)
ENTRY_COLUMNS = ("seq", "at", "action", "resource_type", "resource_id", "data")


@dataclass(frozen=True, slots=True)
class FeedPage:
    """What one read saw, all from one snapshot of the database."""

    last: int  # the organization's newest committed number (0: no change yet)
    pruned_through: int  # entries numbered up to this are gone
    entries: Sequence[Sequence[Any]]  # ENTRY_COLUMNS, by number


def _read(resource_types: frozenset[str] | None) -> PreparedSelect:
    """Up to `limit` entries after `after` (of these resource types), with the organization's
    counter, in ONE statement: a statement reads one snapshot on both databases, so the entries
    and `last` agree (see next_position in feed_reader.py) and a prune cannot slip in between."""
    counter = select(ChangeCounter).where(ChangeCounter.organization_id == _ORGANIZATION)
    position = select(
        func.coalesce(counter.with_only_columns(ChangeCounter.last).scalar_subquery(), 0).label("last"),
        func.coalesce(counter.with_only_columns(ChangeCounter.pruned_through).scalar_subquery(), 0).label(
            "pruned_through"
        ),
    ).subquery("position")
    wanted = select(*(getattr(Change, name) for name in ENTRY_COLUMNS)).where(
        Change.organization_id == _ORGANIZATION, Change.seq > bindparam("after")
    )
    if resource_types is not None:
        wanted = wanted.where(
            or_(*(Change.resource_type == literal(name) for name in sorted(resource_types)))
        )
    entries = wanted.order_by(Change.seq).limit(bindparam("limit")).subquery("entries")
    return PreparedSelect(
        select(position.c.last, position.c.pruned_through, *(entries.c[name] for name in ENTRY_COLUMNS))
        .select_from(position.outerjoin(entries, true()))
        .order_by(entries.c.seq)
    )


_READS: dict[frozenset[str] | None, PreparedSelect] = {}
_POSITION = PreparedSelect(select(ChangeCounter.last).where(ChangeCounter.organization_id == _ORGANIZATION))


class ChangeRepository:
    """Reads an organization's feed; prunes every organization's old entries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def position(self, organization_id: int) -> int:
        """The organization's newest committed number (0 before its first change)."""
        row = await _POSITION.first(self.session, {"organization_id": organization_id})
        return int(row[0]) if row is not None else 0

    async def read(
        self, organization_id: int, after: int, limit: int, resource_types: frozenset[str] | None
    ) -> FeedPage:
        """Up to `limit` entries numbered after `after`, oldest first, of these types (None: all)."""
        statement = _READS.get(resource_types)
        if statement is None:
            statement = _READS[resource_types] = _read(resource_types)
        rows = await statement.all(
            self.session, {"organization_id": organization_id, "after": after, "limit": limit}
        )
        if not rows:  # the outer join always yields the position row; defensive only
            return FeedPage(0, 0, ())
        first = rows[0]
        entries = [row[2:] for row in rows] if first[2] is not None else []
        return FeedPage(int(first[0]), int(first[1]), entries)

    async def prunable(self, cutoff: datetime) -> list[tuple[int, int]]:
        """(organization, newest number written before `cutoff`) for every organization with any."""
        rows = await self.session.execute(
            select(Change.organization_id, func.max(Change.seq))
            .where(Change.at < cutoff)
            .group_by(Change.organization_id)
        )
        return [(int(organization_id), int(top)) for organization_id, top in rows.all()]

    async def mark_pruned(self, organization_id: int, through: int) -> None:
        """Declare entries up to `through` gone; readers behind it get 410 from now on."""
        await self.session.execute(
            update(ChangeCounter)
            .where(ChangeCounter.organization_id == organization_id, ChangeCounter.pruned_through < through)
            .values(pruned_through=through)
        )

    async def delete_pruned(self, organization_id: int) -> int:
        """Delete the entries the counter declares pruned; returns how many."""
        through = (
            select(ChangeCounter.pruned_through)
            .where(ChangeCounter.organization_id == organization_id)
            .scalar_subquery()
        )
        result = await self.session.execute(
            delete(Change).where(Change.organization_id == organization_id, Change.seq <= through)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
