"""The generic repository: the common queries every table shares. Domain repositories add their own."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.filters import with_search_forms
from app.db.orm import Base
from app.db.prepared import PreparedSelect, PreparedWrite

ModelT = TypeVar("ModelT", bound=Base)
# From this offset on, a page is read by its ids first (see Repository.listed).
DEFERRED_JOIN_OFFSET = 1000


class Repository(Generic[ModelT]):
    """Reads and writes of one model through one session. Flushes, never commits."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: int) -> ModelT | None:
        """The row with this primary key, or None."""
        return await self.session.get(self.model, id_)

    async def one_or_none(self, statement: Select[tuple[ModelT]]) -> ModelT | None:
        """The single row a select finds, or None."""
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add(self, obj: ModelT) -> ModelT:
        """Insert and flush, so that ids and constraint violations surface now."""
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def update(self, obj: ModelT, values: dict[str, Any]) -> ModelT:
        """Set attributes and flush; the ORM bumps `version` and refuses a stale row."""
        for name, value in values.items():
            setattr(obj, name, value)
        await self.session.flush()
        return obj

    async def delete(self, obj: ModelT) -> None:
        """Delete and flush."""
        await self.session.delete(obj)
        await self.session.flush()

    async def insert_returning(self, values: Mapping[str, Any], returning: Sequence[Any]) -> Sequence[Any]:
        """Insert one row (search forms follow their sources) and return its `returning` columns:
        one statement built once per shape, run on the driver's prepared path
        (app/db/prepared.py), with no object built and flushed. A violated constraint raises
        SQLAlchemy's IntegrityError."""
        table = self._table()
        row = with_search_forms(table, [values])[0]
        return (await _insert(table, tuple(row), tuple(returning)).in_transaction(self.session, row))[0]

    async def update_versioned(
        self, key: int, version: int, values: Mapping[str, Any], returning: Sequence[Any]
    ) -> Sequence[Any] | None:
        """Set values on the row with this primary key if it is still at `version`, raising its
        version by one (search forms follow their sources): its `returning` columns after, or
        None when its version moved since it was read (someone else changed it first).

        The single-row twin of the list's path: one statement built once per shape, run on the
        driver's prepared path, with no object loaded and flushed."""
        table = self._table()
        row = with_search_forms(table, [values])[0]
        statement = _versioned_update(table, tuple(row), tuple(returning))
        params = {"w_key": key, "w_version": version, **{f"v_{name}": value for name, value in row.items()}}
        found = await statement.in_transaction(self.session, params)
        return found[0] if found else None

    async def delete_versioned(self, key: int, version: int) -> bool:
        """Delete the row with this primary key if it is still at `version`; False when it moved."""
        found = await _versioned_delete(self._table()).in_transaction(
            self.session, {"w_key": key, "w_version": version}
        )
        return bool(found)

    @classmethod
    def _table(cls) -> Table:
        table = cls.model.__table__
        assert isinstance(table, Table)
        return table

    @classmethod
    def listed(cls, statement: Select[Any], *, order_by: Sequence[Any], deep: bool) -> "ListSelect":
        """The list select of one shape (filters, scope, sort, depth): every list's one path.

        `statement` selects the rows that match, with every value a bound parameter (FilterSet's
        `bound_conditions`, a scope's tenant id, ...); the page window comes as the bound
        parameters `page_limit` and `page_offset`, so that one select serves every page. Build it
        once per shape (a repository keeps them, e.g. in an `lru_cache`d function) and run it with
        `page`: PostgreSQL then runs it as a prepared statement of its driver (app/db/prepared.py).

        One round trip: the total rides along as a scalar subquery (`_total`), exact. Not a
        window count, which would read every matching row before returning the first. A deep page
        (offset ≥ DEFERRED_JOIN_OFFSET, or always for a select that joins what only the page needs)
        finds its ids through the ordering index alone, then reads those rows, instead of reading
        and discarding every row before.
        """
        total = select(func.count()).select_from(statement.order_by(None).subquery()).scalar_subquery()
        counted = statement.add_columns(total.label("_total"))
        limit, offset = bindparam("page_limit", type_=Integer), bindparam("page_offset", type_=Integer)
        if deep:
            key = cls.model.__mapper__.primary_key[0]
            ids = statement.with_only_columns(key).order_by(*order_by).limit(limit).offset(offset)
            paged = counted.where(key.in_(ids)).order_by(*order_by)
        else:
            paged = counted.order_by(*order_by).limit(limit).offset(offset)
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        return ListSelect(PreparedSelect(paged), PreparedSelect(count))

    async def page(
        self, listed: "ListSelect", params: Mapping[str, Any], *, limit: int, offset: int
    ) -> tuple[Sequence[Sequence[Any]], int]:
        """One page of a list select (each row with `_total` last) and how many match in all.
        A select of mapped objects gives rows whose first column is the object."""
        rows = await listed.page.all(self.session, {**params, "page_limit": limit, "page_offset": offset})
        if rows:
            return rows, int(rows[0][-1])
        if offset == 0:
            return rows, 0
        # A page past the end carries no total: count apart.
        counted = await listed.count.first(self.session, params)
        return rows, int(counted[0]) if counted is not None else 0


@dataclass(frozen=True, slots=True)
class ListSelect:
    """A list's select of one shape, built once (`Repository.listed`): the page with its total,
    and the count alone for a page past the end."""

    page: PreparedSelect
    count: PreparedSelect

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the page's columns, `_total` last."""
        return self.page.columns


def _where_version(table: Table) -> tuple[Any, Any]:
    key = next(iter(table.primary_key.columns))
    return key == bindparam("w_key"), table.c.version == bindparam("w_version")


@lru_cache(maxsize=256)
def _insert(table: Table, names: tuple[str, ...], returning: tuple[Any, ...]) -> PreparedWrite:
    """INSERT of these columns of one row (see Repository.insert_returning)."""
    return PreparedWrite(
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in names})
        .returning(*returning)
    )


@lru_cache(maxsize=256)
def _versioned_update(table: Table, names: tuple[str, ...], returning: tuple[Any, ...]) -> PreparedWrite:
    """UPDATE of these columns of one row at one version (see Repository.update_versioned)."""
    return PreparedWrite(
        update(table)
        .where(*_where_version(table))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names})
        .values(version=table.c.version + 1)
        .returning(*returning)
    )


@lru_cache(maxsize=64)
def _versioned_delete(table: Table) -> PreparedWrite:
    """DELETE of one row at one version (see Repository.delete_versioned); RETURNING its key."""
    where = _where_version(table)
    return PreparedWrite(delete(table).where(*where).returning(next(iter(table.primary_key.columns))))
