"""The generic repository: the common queries every table shares. Domain repositories add their own."""

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.base import Base

ModelT = TypeVar("ModelT", bound=Base)
# From this offset on, a page is read by its ids first (see Repository.page_rows).
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

    async def page(
        self, statement: Select[tuple[ModelT]], *, order_by: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[ModelT], int]:
        """One page of a filtered select of models and the number of rows that match it in all."""
        rows, total = await self.page_rows(statement, order_by=order_by, limit=limit, offset=offset)
        return [row[0] for row in rows], total

    async def page_rows(
        self, statement: Select[Any], *, order_by: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[Any], int]:
        """One page of rows of any select, and how many match in all.

        One round trip: the total rides along as a scalar subquery (an extra last column,
        `_total`, on each row). Not a window count, which would read every matching row before
        returning the first. Only a page past the end (no rows, offset > 0) needs a second query.
        """
        total = select(func.count()).select_from(statement.order_by(None).subquery()).scalar_subquery()
        counted = statement.add_columns(total.label("_total"))
        if offset >= DEFERRED_JOIN_OFFSET:
            # A deep page: find its ids through the ordering index alone, then read those rows,
            # instead of reading and discarding every row before the offset.
            key = self.model.__mapper__.primary_key[0]
            ids = statement.with_only_columns(key).order_by(*order_by).limit(limit).offset(offset)
            paged = counted.where(key.in_(ids)).order_by(*order_by)
        else:
            paged = counted.order_by(*order_by).limit(limit).offset(offset)
        result = await self.session.execute(paged)
        rows = list(result.all())
        if rows:
            return rows, int(rows[0][-1])
        if offset == 0:
            return [], 0
        total = await self.session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        return [], int(total or 0)
