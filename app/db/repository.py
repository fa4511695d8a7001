"""The generic repository: the common queries every table shares. Domain repositories add their own."""

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.orm import Base
from app.db.prepared import PreparedSelect

ModelT = TypeVar("ModelT", bound=Base)
# From this offset on, a page is read by its ids first (see Repository.paged).
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

    @classmethod
    def paged(cls, statement: Select[Any], *, order_by: Sequence[Any], deep: bool) -> Select[Any]:
        """A page of a select, with the number of rows that match it in all as a last column.

        The window comes as the bound parameters `page_limit` and `page_offset`, so that one
        select serves every page. One round trip: the total rides along as a scalar subquery
        (`_total`). Not a window count, which would read every matching row before returning
        the first. A deep page (offset ≥ DEFERRED_JOIN_OFFSET) finds its ids through the ordering
        index alone, then reads those rows, instead of reading and discarding every row before.
        """
        total = select(func.count()).select_from(statement.order_by(None).subquery()).scalar_subquery()
        counted = statement.add_columns(total.label("_total"))
        limit, offset = bindparam("page_limit", type_=Integer), bindparam("page_offset", type_=Integer)
        if deep:
            key = cls.model.__mapper__.primary_key[0]
            ids = statement.with_only_columns(key).order_by(*order_by).limit(limit).offset(offset)
            return counted.where(key.in_(ids)).order_by(*order_by)
        return counted.order_by(*order_by).limit(limit).offset(offset)

    async def page(
        self, statement: Select[tuple[ModelT]], *, order_by: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[ModelT], int]:
        """One page of a filtered select of models and the number of rows that match it in all."""
        rows, total = await self.page_rows(statement, order_by=order_by, limit=limit, offset=offset)
        return [row[0] for row in rows], total

    async def page_rows(
        self,
        statement: Select[Any],
        *,
        order_by: Sequence[Any],
        limit: int,
        offset: int,
        ids_first: bool = False,
    ) -> tuple[list[Any], int]:
        """One page of rows of any select (each with `_total` last), and how many match in all.

        `ids_first`: read the page's ids first at any offset (see `paged`), for a select that
        joins what only the page needs to every row that matches.
        """
        paged = self.paged(statement, order_by=order_by, deep=ids_first or offset >= DEFERRED_JOIN_OFFSET)
        window = {"page_limit": limit, "page_offset": offset}
        rows = list((await self.session.execute(paged, window)).all())
        return rows, await self._total(rows, statement, {}, offset)

    async def page_prepared(
        self,
        paged: PreparedSelect,
        statement: Select[Any],
        params: Mapping[str, Any],
        *,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Sequence[Any]], int]:
        """`page_rows` for a PreparedSelect made by `paged` from `statement` (see app/db/prepared.py)."""
        rows = await paged.all(self.session, {**params, "page_limit": limit, "page_offset": offset})
        return rows, await self._total(rows, statement, params, offset)

    async def _total(
        self, rows: Sequence[Sequence[Any]], statement: Select[Any], params: Mapping[str, Any], offset: int
    ) -> int:
        if rows:
            return int(rows[0][-1])
        if offset == 0:
            return 0
        # A page past the end carries no total: count apart.
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        return int(await self.session.scalar(count, dict(params)) or 0)
