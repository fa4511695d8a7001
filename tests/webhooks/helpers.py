"""Webhook test helpers: endpoints through the API, changes that make feed entries, the worker."""

from typing import Any

import httpx
from fastapi import FastAPI

from app.webhooks.worker import WebhookWorker
from tests.fixtures.principals import login
from tests.fixtures.world import Org, full_width_number


async def create_endpoint(client: httpx.AsyncClient, org: Org, url: str, **body: Any) -> dict[str, Any]:
    """POST an endpoint as the organization's admin; its answer (with the secret)."""
    response = await client.post(
        f"{org.path}/webhook-endpoints", json={"url": url, **body}, headers=org.admin.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_location(client: httpx.AsyncClient, org: Org, number: int) -> dict[str, Any]:
    """A new location: one feed entry."""
    response = await client.post(
        f"{org.path}/locations",
        json={
            "code": f"W{number:04d}",
            "name": f"拠点{full_width_number(number)}",
            "short_name": f"拠{full_width_number(number)}",
        },
        headers=org.admin.headers,
    )
    assert response.status_code == 201, response.text
    location: dict[str, Any] = response.json()
    return location


async def drain(app: FastAPI) -> None:
    """Deliver everything due now, as one instance's worker does."""
    worker = WebhookWorker(app.state.runtime)
    try:
        await worker.drain()
    finally:
        await worker.client.close()


async def log_in_again(client: httpx.AsyncClient, org: Org) -> None:
    """A fresh token for the organization's admin (after the test moved the clock past its expiry)."""
    org.admin = await login(client, org.admin.login_id, org.admin.password)
