"""What one webhook attempt costs the process: no search of the file system per attempt.

httpcore asks for `sniffio` on every lock, event and cancel shield of a request; when it is not
installed, each ask is a failed import, which Python does not remember, so every attempt searched
sys.path several times (a fifth of an attempt's CPU under load). The dependency is declared.
"""

import importlib.machinery

import pytest

from app.webhooks.client import DeliveryClient
from tests.conftest import make_settings
from tests.webhooks.receiver import receiving


async def test_attempts_import_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: object, **kwargs: object) -> object:
        searched.append(name)
        return find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    with receiving() as receiver:
        client = DeliveryClient(make_settings("sqlite+aiosqlite:///:memory:"))
        try:
            # The first attempt opens the connection and may load modules once.
            assert (await client.send(receiver.url, b"{}", {})).succeeded
            monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting)
            for _ in range(5):
                assert (await client.send(receiver.url, b"{}", {})).succeeded
        finally:
            await client.close()
    assert searched == []
