"""Snapshots of the whole database, to prove that a refused request changed nothing."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import Base

Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(engine: AsyncEngine) -> Snapshot:
    """Every row of every table, in a stable order."""
    tables: Snapshot = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name == "service_instances":
                continue  # running servers refresh their rows by themselves (app/certificates/instances.py)
            rows = (await connection.execute(text(f"SELECT * FROM {table.name}"))).all()  # noqa: S608 (own table names)
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """Tables whose rows differ, with (a few of) the rows that appeared or went away."""
    found = []
    for name in before:
        if before[name] != after[name]:
            gone = [row for row in before[name] if row not in after[name]]
            new = [row for row in after[name] if row not in before[name]]
            found.append(f"{name}: gone {gone[:3]} new {new[:3]}")
    return found
