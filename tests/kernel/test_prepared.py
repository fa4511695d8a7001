"""PreparedSelect: on PostgreSQL the asyncpg path must read what SQLAlchemy would read."""

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Select, String, TypeDecorator, bindparam, select, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError

from app.db.prepared import PreparedSelect
from app.models import Location, User
from tests.fixtures.world import World

# Columns of every kind the hot reads return: ints, text, NULLs, booleans, aware datetimes.
USERS = (
    select(
        User.id,
        User.login_id,
        User.role,
        User.location_id,
        Location.code,
        User.password_temporary,
        User.locked_until,
        User.created_at,
    )
    .outerjoin(Location, Location.id == User.location_id)
    .where(User.organization_id == bindparam("organization_id"))
    .order_by(User.id)
)


class Shouting(TypeDecorator[str]):
    """A type that converts what it reads: only SQLAlchemy applies that."""

    impl = String()
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.upper()


async def _both(app: FastAPI, statement: Select[Any], params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    prepared = PreparedSelect(statement)
    async with app.state.runtime.read_sessionmaker() as session:
        fast = [tuple(row) for row in await prepared.all(session, params)]
        plain = [tuple(row) for row in (await session.execute(statement, params)).all()]
    return fast, plain


async def test_rows_are_those_sqlalchemy_reads(app: FastAPI, world: World) -> None:
    fast, plain = await _both(app, USERS, {"organization_id": int(world.a.id)})
    assert len(plain) > 5
    assert fast == plain
    assert {row[3] is None for row in fast} == {True, False}  # with and without a location
    assert all(row[7].utcoffset() is not None for row in fast)  # aware datetimes


async def test_the_driver_path_is_taken_only_where_it_reads_the_same(app: FastAPI, world: World) -> None:
    dialect = app.state.runtime.engine.dialect
    in_list = select(User.id).where(User.id.in_(bindparam("ids", expanding=True))).order_by(User.id)
    converted = select(type_coerce(User.login_id, Shouting())).where(User.id == bindparam("id"))
    on_postgres = dialect.driver == "asyncpg"
    assert (PreparedSelect(USERS)._driver_statement(dialect) is not None) is on_postgres
    assert PreparedSelect(in_list)._driver_statement(dialect) is None
    assert PreparedSelect(converted)._driver_statement(dialect) is None
    users, _ = await _both(app, USERS, {"organization_id": int(world.a.id)})
    ids = [users[0][0], users[-1][0]]
    fast, plain = await _both(app, in_list, {"ids": ids})
    assert fast == plain == [(ids[0],), (ids[1],)]
    fast, plain = await _both(app, converted, {"id": ids[0]})
    assert fast == plain == [(users[0][1].upper(),)]


async def test_a_value_is_converted_as_sqlalchemy_would_bind_it(app: FastAPI, world: World) -> None:
    """UTCDateTime stores UTC and refuses naive values: its bind step runs on either path."""
    statement = select(User.id).where(User.created_at <= bindparam("at", type_=User.created_at.type))
    tokyo = app.state.runtime.clock.now().astimezone(ZoneInfo("Asia/Tokyo"))
    fast, plain = await _both(app, statement.order_by(User.id), {"at": tokyo})
    assert fast == plain
    assert len(fast) > 5
    prepared = PreparedSelect(statement)
    async with app.state.runtime.read_sessionmaker() as session:
        with pytest.raises((ValueError, StatementError), match="naive datetime"):
            await prepared.all(session, {"at": tokyo.replace(tzinfo=None)})


async def test_once_the_session_holds_a_connection_the_read_runs_in_its_transaction(
    app: FastAPI, world: World
) -> None:
    """No second connection while the session holds one, and the request's own changes show."""
    statement = select(User.login_id).where(User.id == bindparam("id"))
    prepared = PreparedSelect(statement)
    async with app.state.runtime.sessionmaker() as session:
        user_id = (await session.execute(select(User.id).order_by(User.id).limit(1))).scalar_one()
        await session.execute(
            update(User).where(User.id == user_id).values(login_id="changed.in.transaction")
        )
        assert await prepared.first(session, {"id": user_id}) == ("changed.in.transaction",)
        await session.rollback()
        # After the rollback the session holds no connection: a borrowed one reads what is committed.
        assert (await prepared.first(session, {"id": user_id}) or [""])[0] != "changed.in.transaction"
