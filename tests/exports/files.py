"""CSV files as a spreadsheet user makes them, and the calls of the CSV endpoints."""

import csv
import io
from typing import Any

import httpx

from tests.fixtures.world import Org

LOCATION_HEADER = ["依頼人拠点コード", "依頼人拠点名", "依頼人拠点名（略称）", "記録等事務代行者委託番号"]
USER_HEADER = ["ログインID", "ユーザー名", "依頼人拠点コード", "依頼人拠点名", "権限", "最終ログイン日時"]


def csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text with CRLF, quoted where needed (what Excel saves)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def parse(content: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    """A downloaded file's rows (heading row first), read by the standard csv module."""
    return list(csv.reader(io.StringIO(content.decode(encoding), newline="")))


async def download(
    client: httpx.AsyncClient, org: Org, kind: str, headers: dict[str, str], **params: Any
) -> httpx.Response:
    """GET .../exports/{kind}."""
    return await client.get(f"{org.path}/exports/{kind}", params=params, headers=headers)


async def upload(
    client: httpx.AsyncClient,
    org: Org,
    kind: str,
    body: str | bytes,
    headers: dict[str, str],
    *,
    content_type: str = "text/csv",
    dry_run: bool = False,
) -> httpx.Response:
    """POST .../imports/{kind} with the CSV as the body."""
    content = body.encode("utf-8") if isinstance(body, str) else body
    return await client.post(
        f"{org.path}/imports/{kind}",
        content=content,
        params={"dry_run": "true"} if dry_run else {},
        headers={**headers, "Content-Type": content_type},
    )


async def locations_of(client: httpx.AsyncClient, org: Org) -> dict[str, dict[str, Any]]:
    """The organization's locations by code, through the JSON list."""
    response = await client.get(f"{org.path}/locations", params={"limit": 200}, headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return {item["code"]: item for item in response.json()["items"]}


async def audit_actions(client: httpx.AsyncClient, org: Org, action: str) -> list[dict[str, Any]]:
    """The organization's audit events whose action contains `action`."""
    response = await client.get(
        f"{org.path}/audit-events", params={"action": action, "limit": 200}, headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
