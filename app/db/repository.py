"""The generic repository: the common queries every table shares. Domain repositories add their own."""

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    CTE,
    Insert,
    Integer,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.filters import with_search_forms
from app.db.orm import Base
from app.db.prepared import PreparedSelect, PreparedWrite
from app.db.totals import Counted, Totals, totals_of

ModelT = TypeVar("ModelT", bound=Base)
# From this offset on, a page is read by its ids first (see Repository.listed).
DEFERRED_JOIN_OFFSET = 1000

# What `Repository.insert_alongside` is given: the other inserts of a new row, made from the CTE
# that inserted it (one row per row it returned); a module's function, so that the statement is
# built once per shape.
Alongside = Callable[[CTE], Sequence[Insert]]
# The prefix of the new row's values among the statement's bound values (the others' are theirs).
_ROW = "row_"


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

    async def insert_alongside(
        self,
        values: Mapping[str, Any],
        returning: Sequence[Any],
        alongside: Alongside,
        parameters: Mapping[str, Any],
    ) -> Sequence[Any]:
        """`insert_returning`, with the writes that `alongside` makes from the new row (bound by
        `parameters`) in the same statement: the request's whole change, committed by itself
        when the request has begun no transaction (PreparedWrite.alone). A violated constraint
        raises SQLAlchemy's IntegrityError, and nothing of the statement is written."""
        table = self._table()
        row = with_search_forms(table, [values])[0]
        statement = _insert_alongside(table, tuple(row), tuple(returning), alongside)
        bound = {**{f"{_ROW}{name}": value for name, value in row.items()}, **parameters}
        return (await statement.alone(self.session, bound))[0]

    async def update_versioned(
        self, key: int | str, version: int, values: Mapping[str, Any], returning: Sequence[Any]
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

    async def delete_versioned(self, key: int | str, version: int) -> bool:
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
    def listed(
        cls,
        statement: Select[Any],
        *,
        order_by: Sequence[Any],
        deep: bool,
        stamp: ScalarSelect[Any] | None = None,
    ) -> "ListSelect":
        """The list select of one shape (filters, scope, sort, depth): every list's one path.

        `statement` selects the rows that match, with every value a bound parameter (FilterSet's
        `bound_conditions`, a scope's tenant id, ...); the page window comes as the bound
        parameters `page_limit` and `page_offset`, so that one select serves every page. Build it
        once per shape (a repository keeps them, e.g. in an `lru_cache`d function) and run it with
        `page`: PostgreSQL then runs it as a prepared statement of its driver (app/db/prepared.py).

        Planned for its values at every execution (`replanned`, app/db/prepared.py): a plan made
        for one tenant's size is the wrong one for another's.

        One statement: the total rides along as a scalar subquery (`_total`), exact. Not a
        window count, which would read every matching row before returning the first. A deep page
        (offset ≥ DEFERRED_JOIN_OFFSET, or always for a select that joins what only the page needs)
        finds its ids through the ordering index alone, then reads those rows, instead of reading
        and discarding every row before.

        `stamp`: a scalar select (over the same bound parameters) of a value that moves with every
        committed change that may change which rows match, and is NULL where it cannot tell. With
        it, `page` counts only when the stamp moved since the last count of the same rows (see
        `page`). Every row then ends with `_stamp` too (after `_total` where there is one).
        """
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        extra = [count.scalar_subquery().label("_total")]
        if stamp is not None:
            extra.append(stamp.label("_stamp"))
            count = count.add_columns(stamp.label("_stamp"))
        page = cls._paged(statement.add_columns(*extra), statement, order_by, deep)
        if stamp is None:
            return ListSelect(PreparedSelect(page, replanned=True), PreparedSelect(count, replanned=True))
        quick = cls._paged(statement.add_columns(stamp.label("_stamp")), statement, order_by, deep)
        # Read after `quick` in the same session when the stamp moved: its objects are read anew.
        page = page.execution_options(populate_existing=True)
        return ListSelect(
            PreparedSelect(page, replanned=True),
            PreparedSelect(count, replanned=True),
            PreparedSelect(quick, replanned=True),
        )

    @classmethod
    def _paged(
        cls, selected: Select[Any], statement: Select[Any], order_by: Sequence[Any], deep: bool
    ) -> Select[Any]:
        """`selected` (the list's select with extra columns) limited to the page window."""
        limit, offset = bindparam("page_limit", type_=Integer), bindparam("page_offset", type_=Integer)
        if deep:
            key = cls.model.__mapper__.primary_key[0]
            ids = statement.with_only_columns(key).order_by(*order_by).limit(limit).offset(offset)
            return selected.where(key.in_(ids)).order_by(*order_by)
        return selected.order_by(*order_by).limit(limit).offset(offset)

    async def page(
        self, listed: "ListSelect", params: Mapping[str, Any], *, limit: int, offset: int
    ) -> tuple[Sequence[Sequence[Any]], int]:
        """One page of a list select and how many match in all. Each row has the list's columns,
        then `_total` (and `_stamp`, see `listed`) or, when the total was remembered, `_stamp`
        alone. A select of mapped objects gives rows whose first column is the object.

        A stamped list remembers its totals per process (app/db/totals.py), each with the stamp
        its count read in the same statement. When a total of the same count (same SQL, same
        values) is remembered, the page is read first WITHOUT counting, with the current stamp:
        the same stamp means that nothing that may change the matching rows committed since the
        count, so the remembered total is exact. Otherwise (a first read, a moved stamp, a NULL
        stamp) the page is read with its count and the stamp, in one statement, and that total is
        remembered. Never inside a transaction that may have written (its own rows would be
        counted before its stamp moves): there, every page counts and nothing is remembered.
        """
        window = {**params, "page_limit": limit, "page_offset": offset}
        remembered = self._remembered(listed, params)
        rows: Sequence[Sequence[Any]] | None = None
        if remembered is not None and listed.quick is not None:
            totals, key = remembered
            known = totals.get(key)
            if known is not None:
                rows = await listed.quick.all(self.session, window)
                if rows and rows[0][-1] == known.stamp:
                    return rows, known.total
        if rows is None or rows:  # not read yet, or read and the stamp moved
            rows = await listed.page.all(self.session, window)
            if rows:
                if listed.quick is None:
                    return rows, int(rows[0][-1])
                self._remember(remembered, rows[0][-1], rows[0][-2])
                return rows, int(rows[0][-2])
        if offset == 0:
            return rows, 0
        # A page past the end carries no total: count apart.
        counted = await listed.count.first(self.session, params)
        if counted is None:
            return rows, 0
        if listed.quick is not None:
            self._remember(remembered, counted[-1], counted[0])
        return rows, int(counted[0])

    def _remembered(self, listed: "ListSelect", params: Mapping[str, Any]) -> tuple[Totals, Hashable] | None:
        """Where a stamped list's totals are remembered, and the key of this count; None where
        totals are not remembered (no stamp, a write transaction, values that are not hashable)."""
        engine = self.session.bind
        if listed.quick is None or not isinstance(engine, AsyncEngine):
            return None
        if (
            self.session.in_transaction()
            and engine.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
        ):
            return None
        values = tuple(sorted(params.items()))
        try:
            hash(values)
        except TypeError:
            return None
        return totals_of(engine.sync_engine.pool), (listed.count_key(engine.dialect), values)

    @staticmethod
    def _remember(remembered: tuple[Totals, Hashable] | None, stamp: Any, total: Any) -> None:
        """Remember a total counted with this stamp; where the stamp cannot tell (NULL), forget
        the one remembered, so that the next page counts at once."""
        if remembered is None:
            return
        totals, key = remembered
        if stamp is None:
            totals.forget(key)
        else:
            totals.put(key, Counted(stamp, int(total)))


@dataclass(frozen=True, slots=True)
class ListSelect:
    """A list's select of one shape, built once (`Repository.listed`): the page with its total,
    the count alone for a page past the end and, for a stamped list, the page without its count
    (`quick`; the count and the page then carry the stamp too)."""

    page: PreparedSelect
    count: PreparedSelect
    quick: PreparedSelect | None = None
    # The count's SQL per database (see `count_key`).
    _keys: dict[tuple[str, str], Hashable] = field(default_factory=dict, compare=False, repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the page's columns: the list's, then `_total` (and `_stamp`)."""
        return self.page.columns

    def count_key(self, dialect: Dialect) -> Hashable:
        """What names this count on a database of this dialect: its SQL as compiled there, with
        the values the statement carries itself. Lists of other sorts and depths share it (they
        count the same rows); two statements that differ in anything but their bound values
        do not. Compiled once per dialect."""
        name = (dialect.name, dialect.driver)
        found = self._keys.get(name)
        if found is None:
            compiled = self.count.statement.compile(dialect=dialect)
            carried = tuple(sorted((bound, repr(value)) for bound, value in compiled.params.items()))
            found = self._keys[name] = (compiled.string, carried)
        return found


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


@lru_cache(maxsize=64)
def _insert_alongside(
    table: Table, names: tuple[str, ...], returning: tuple[Any, ...], alongside: Alongside
) -> PreparedWrite:
    """INSERT of one row as a CTE, the inserts `alongside` makes from it, and the row's `returning`
    columns: one statement (see Repository.insert_alongside)."""
    created = (
        insert(table)
        .values({name: bindparam(f"{_ROW}{name}", type_=table.c[name].type) for name in names})
        .returning(*returning)
        .cte("created")
    )
    statement = select(*(created.c[column.key] for column in returning))
    for number, other in enumerate(alongside(created)):
        statement = statement.add_cte(other.cte(f"alongside_{number}"))
    return PreparedWrite(statement)


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
