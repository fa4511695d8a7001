"""Reading a download's rows from the database as a stream."""

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncEngine

# Rows fetched per round trip of the cursor, and written per chunk of a download.
BATCH_ROWS = 1000


async def stream_rows(
    engine: AsyncEngine, statement: Select[Any], params: Mapping[str, Any]
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The select's rows in batches, through a server-side cursor (PostgreSQL) on a connection of
    its own, held until the last batch: the request's session has ended before an answer streams,
    and memory holds one batch at a time however many rows there are."""
    async with engine.connect() as connection:
        result = await connection.stream(statement.execution_options(yield_per=BATCH_ROWS), dict(params))
        async for batch in result.partitions():
            yield batch
