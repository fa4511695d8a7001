"""The committed OpenAPI document is the contract: it must equal what the code serves."""

import json
from pathlib import Path

import httpx

from app.cli import DEFAULT_OPENAPI_PATH, openapi_document


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads(Path(DEFAULT_OPENAPI_PATH).read_text())
    assert committed == openapi_document(), (
        "openapi/openapi.json is out of date: run `.venv/bin/ainas openapi` and commit the result"
    )


async def test_openapi_is_served_with_security_schemes(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    schemes = document["components"]["securitySchemes"]
    assert schemes["password"]["type"] == "oauth2"
    assert schemes["password"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["linkedSystemBasic"]["scheme"] == "basic"
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
