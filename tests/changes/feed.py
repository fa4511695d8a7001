"""Reading the change feed in tests: a cursor, a page, everything after a cursor."""

from typing import Any

import httpx

from tests.fixtures.world import Org


def changes_path(org: Org) -> str:
    return f"{org.path}/changes"


async def current_cursor(client: httpx.AsyncClient, org: Org, headers: dict[str, str]) -> str:
    """`next_cursor` of an answer without `after`: the current position."""
    response = await client.get(changes_path(org), headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["items"] == []
    cursor: str = body["next_cursor"]
    return cursor


async def page(
    client: httpx.AsyncClient, org: Org, headers: dict[str, str], after: str, **params: object
) -> dict[str, Any]:
    """One answer of the feed after `after`."""
    response = await client.get(changes_path(org), params={"after": after, **params}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


async def follow(
    client: httpx.AsyncClient, org: Org, headers: dict[str, str], after: str, limit: int = 100
) -> tuple[list[dict[str, Any]], str]:
    """Every change after `after`, following next_cursor until an answer has fewer than `limit`."""
    items: list[dict[str, Any]] = []
    while True:
        body = await page(client, org, headers, after, limit=limit)
        items.extend(body["items"])
        if body["items"]:
            assert body["next_cursor"] == body["items"][-1]["cursor"] or len(body["items"]) < limit
        after = body["next_cursor"]
        if len(body["items"]) < limit:
            return items, after


def summary(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(action, resource type, resource id) of each item."""
    return [(item["action"], item["resource"]["type"], item["resource"]["id"]) for item in items]
