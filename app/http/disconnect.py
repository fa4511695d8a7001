"""Noticing that a client has gone, for a handler that answers late (a long poll)."""

import contextlib

from fastapi import Request


async def client_gone(request: Request) -> None:
    """Returns once the client has closed the connection (ASGI `http.disconnect`), or its request
    can no longer be read; a body nobody read is read and dropped on the way."""
    with contextlib.suppress(Exception):
        while (await request.receive())["type"] != "http.disconnect":
            pass
