"""PostgreSQL refusing a connection because it has too many (max_connections, a role's or a
database's limit) is the database being unavailable: 503 with Retry-After, never a 500."""

import asyncio
import secrets

import asyncpg
import httpx
import pytest

from app.main import create_app
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase

pytestmark = pytest.mark.postgres_only


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def test_too_many_connections_is_503(postgres_database: TestDatabase) -> None:
    role = f"ainas_limited_{secrets.token_hex(4)}"
    asyncio.run(_admin(postgres_database.url, f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0'))
    try:
        limited = postgres_database.url.replace("postgres@", f"{role}@", 1)

        async def request() -> httpx.Response:
            app = create_app(make_settings(limited, db_timeout_seconds=2))
            try:
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    return await http.post(
                        "/api/v1/auth/token",
                        data={"grant_type": "password", "username": "someone", "password": "whatever it is"},
                    )
            finally:
                await app.state.runtime.engine.dispose()

        response = asyncio.run(request())
    finally:
        asyncio.run(_admin(postgres_database.url, f'DROP ROLE "{role}"'))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"].isdigit()
