"""Helpers of the certificate tests: a registration and what a refusal must leave behind."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.fixtures.certificates import P12, upload
from tests.fixtures.world import Org
from tests.security.state import differences, snapshot


async def register(client: httpx.AsyncClient, org: Org, p12: P12, **headers: str) -> dict[str, Any]:
    """Register as the organization's admin; fails the test unless it answers 201."""
    response = await upload(client, org.path, org.admin, p12, **headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def refused_without_a_trace(
    app: FastAPI, client: httpx.AsyncClient, org: Org, p12: P12, status: int, code: str
) -> dict[str, Any]:
    """Upload, expect the refusal, and check that no table changed."""
    before = await snapshot(app.state.runtime.engine)
    response = await upload(client, org.path, org.admin, p12)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    assert differences(before, await snapshot(app.state.runtime.engine)) == []
    return problem
