"""PreparedSelect: on PostgreSQL the asyncpg path must read what SQLAlchemy would read."""

import ast
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy
from fastapi import FastAPI
from sqlalchemy import Select, String, TypeDecorator, bindparam, select, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, StatementError

from app.db.prepared import PINNED_SQLALCHEMY, PreparedSelect, PreparedWrite
from app.locations.repository import LISTED, LocationRepository
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


async def test_a_write_runs_in_the_transaction_on_the_driver_path_and_reports_violations(
    app: FastAPI, world: World
) -> None:
    """Single-resource writes (insert, versioned update and delete) take the driver's path on
    PostgreSQL, inside the session's transaction (a rollback undoes them), and a violated
    unique rule is SQLAlchemy's IntegrityError, as the services expect."""
    dialect = app.state.runtime.engine.dialect
    on_postgres = dialect.driver == "asyncpg"
    async with app.state.runtime.sessionmaker() as session:
        repository = LocationRepository(session)
        now = app.state.runtime.clock.now()
        values = {
            "organization_id": int(world.a.id),
            "code": "PREP1",
            "name": "準備拠点",
            "short_name": "準備",
            "delegate_number": None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        row = await repository.insert_returning(values, LISTED)
        assert (row[0], row[1], row[-1]) == ("PREP1", "準備拠点", 1)
        assert row[4].utcoffset() is not None
        key = (await session.execute(select(Location.id).where(Location.code == "PREP1"))).scalar_one()
        # The search form follows its source, as the ORM's would.
        assert (await session.execute(select(Location.name_search).where(Location.id == key))).scalar_one()
        assert await repository.update_versioned(key, 2, {"name": "古い版"}, LISTED) is None
        changed = await repository.update_versioned(key, 1, {"name": "新しい版", "updated_at": now}, LISTED)
        assert changed is not None
        assert (changed[1], changed[-1]) == ("新しい版", 2)
        assert not await repository.delete_versioned(key, 1)
        with pytest.raises(IntegrityError):
            await repository.insert_returning({**values, "code": "PREP1"}, LISTED)
        await session.rollback()
    async with app.state.runtime.read_sessionmaker() as session:
        found = await session.execute(select(Location.id).where(Location.code == "PREP1"))
        assert found.first() is None  # rolled back with the transaction
    written = PreparedWrite(
        update(Location).where(Location.id == bindparam("id")).values(name=bindparam("name"))
    )
    assert (written._driver_statement(dialect) is not None) is on_postgres


async def test_a_write_alone_commits_by_itself_and_nothing_joins_it_later(app: FastAPI, world: World) -> None:
    """PreparedWrite.alone, with no transaction begun: on PostgreSQL the statement commits by
    itself (another session sees it before this one ends), and the session then refuses to begin
    a transaction, whose writes would commit apart from that change; without the driver's path
    (SQLite) it runs in the session's transaction, committed with it."""
    on_postgres = app.state.runtime.engine.dialect.driver == "asyncpg"
    where = (Location.organization_id == bindparam("w_organization"), Location.code == bindparam("w_code"))
    renamed = PreparedWrite(
        update(Location).where(*where).values(name=bindparam("name")).returning(Location.name)
    )
    params = {"w_organization": int(world.a.id), "w_code": "L1"}
    async with app.state.runtime.sessionmaker() as session:
        assert [tuple(row) for row in await renamed.alone(session, {**params, "name": "単独拠点"})] == [
            ("単独拠点",)
        ]
        async with app.state.runtime.read_sessionmaker() as other:
            seen = (await other.execute(select(Location.name).where(*where), params)).scalar_one()
        assert (seen == "単独拠点") is on_postgres
        if on_postgres:
            with pytest.raises(RuntimeError, match="committed on its own"):
                await session.execute(select(Location.id).limit(1))
        else:
            await session.commit()


# -- SQLAlchemy's private API: one module, one pinned release ------------------------------------

APP = Path(__file__).resolve().parents[2] / "app"
PRIVATE_HOME = APP / "db" / "prepared.py"
# The one module of FastAPI's private API (tests/kernel/test_handler.py checks it), and the
# private attribute of FastAPI's that it reads: SQLAlchemy's are refused there as anywhere.
FASTAPI_HOME = APP / "http" / "handler.py"
FASTAPI_PRIVATE_ATTRIBUTES = frozenset({"_embed_body_fields"})
# Underscore names that SQLAlchemy documents as public (Row._mapping) or that are namedtuple's.
PUBLIC_UNDERSCORE = frozenset({"_mapping", "_asdict", "_fields", "_replace", "_make", "_t", "_tuple"})
PRIVATE_MODULES = (
    "sqlalchemy.util",
    "sqlalchemy.sql.visitors",
    "sqlalchemy.sql.base",
    "sqlalchemy.engine.default",
)


def test_the_installed_sqlalchemy_is_the_one_the_private_calls_were_written_for() -> None:
    assert sqlalchemy.__version__ == PINNED_SQLALCHEMY, (
        f"SQLAlchemy is {sqlalchemy.__version__}, but app/db/prepared.py uses SQLAlchemy's private API "
        f"as of {PINNED_SQLALCHEMY} (compiled._result_columns, compiled._bind_processors, "
        "TypeEngine._cached_result_processor and _cached_bind_processor, sqlalchemy.util.greenlet_spawn): "
        "check each against the new release (tests/kernel/test_prepared.py runs both paths), "
        "then set PINNED_SQLALCHEMY to the new version"
    )


def _own_names() -> set[str]:
    """Every underscore name `app/` defines itself (functions, classes, attributes, arguments)."""
    names: set[str] = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
                names.add(node.value)  # __slots__
    return names


def private_uses(path: Path, own: set[str]) -> list[str]:
    """The private names of another library (SQLAlchemy's) that a module of `app/` reaches."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name.startswith("_") and not name.startswith("__") and name not in own | PUBLIC_UNDERSCORE:
                found.append(f"{path.relative_to(APP.parent)}:{node.lineno} .{name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PRIVATE_MODULES):
            found.append(f"{path.relative_to(APP.parent)}:{node.lineno} from {node.module}")
    return found


def test_no_module_but_prepared_py_uses_sqlalchemy_private_api() -> None:
    own = _own_names()
    outside = [
        use
        for path in sorted(APP.rglob("*.py"))
        if path != PRIVATE_HOME
        for use in private_uses(path, own | FASTAPI_PRIVATE_ATTRIBUTES if path == FASTAPI_HOME else own)
    ]
    assert not outside, f"SQLAlchemy's private API outside app/db/prepared.py: {outside}"
    # The check finds what it looks for.
    inside = private_uses(PRIVATE_HOME, own)
    assert any("_bind_processors" in use for use in inside)
    assert any("sqlalchemy.util" in use for use in inside)
