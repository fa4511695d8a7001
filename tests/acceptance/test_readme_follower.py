"""The README's Python follower of the change feed, run as written against a real server that
restarts under it: it waits, asks again with the same cursor, and misses nothing."""

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.changes.feed import changes_path
from tests.reliability.live import LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner, leaks

__all__ = ["leaks"]  # the fixture: the follower's traffic is scanned for secrets too

README = Path(__file__).resolve().parents[2] / "README.md"


class Enough(Exception):
    """Raised by the test's `apply` once it has seen what it waits for."""


def readme_follow() -> Any:
    """The `follow` function of the README's Python block, compiled as written."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    (source,) = [block for block in blocks if "def follow(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 (the project's own README)
    return namespace["follow"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A running server on an SQLite database of its own."""
    with started_server("sqlite", tmp_path) as server:
        yield server


async def test_the_readme_follower_survives_a_restart(server: LiveServer, leaks: LeakScanner) -> None:
    live = LiveSession(server, leaks)
    world = await live.start()
    org = world.a
    cursor = (await live.http.get(changes_path(org), headers=org.basic())).json()["next_cursor"]
    seen: list[tuple[str, str]] = []
    failure: list[BaseException] = []

    def apply(action: str, resource_id: str, data: Any) -> None:
        seen.append((action, resource_id))
        if resource_id == "AFTER":
            raise Enough

    def run() -> None:
        try:
            readme_follow()(
                f"{server.base_url}/api/v1", org.id, org.api_key, org.api_password, cursor, apply, None
            )
        except Enough:
            return
        except BaseException as exc:  # shown by the assertion below
            failure.append(exc)

    follower = threading.Thread(target=run, daemon=True)
    follower.start()

    async def add_location(code: str) -> None:
        response = await live.http.post(
            f"{org.path}/locations",
            json={"code": code, "name": "再起動試験", "short_name": "再起動"},
            headers=org.admin.headers,
        )
        assert response.status_code == 201, response.text

    await add_location("BEFORE")
    for _ in range(100):
        if ("location.created", "BEFORE") in seen:
            break
        await asyncio.sleep(0.1)
    assert seen == [("location.created", "BEFORE")]

    await asyncio.to_thread(server.stop)  # the follower's long poll is answered or dropped
    await asyncio.sleep(1.5)  # it retries against a server that is not there
    await asyncio.to_thread(server.start)
    await add_location("AFTER")
    await asyncio.to_thread(follower.join, 120)
    await live.close()

    assert failure == []
    assert not follower.is_alive()
    assert seen == [("location.created", "BEFORE"), ("location.created", "AFTER")]
