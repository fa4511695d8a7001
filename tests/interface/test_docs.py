"""SPEC §5.3: the interactive docs work with no internet (every asset served by the service, no
other host named), answers carry nosniff and pages frame-ancestors 'none', and the docs can be
switched off. SPEC §5.4: the registration notice carries 登録日 in Japan time and the login URL."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.config.clock import ManualClock
from app.config.settings import Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.principals import operator
from tests.fixtures.world import post_organization


class _Assets(HTMLParser):
    """Every URL a page loads or links: script src, link href, img src, and any other attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url", "action", "data") and value:
                self.urls.append(value)


def _assets(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_load_only_from_the_service(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # No other host anywhere in the page, inline script included.
    assert "http://" not in response.text
    assert "https://" not in response.text
    urls = _assets(response.text)
    assert any(url.endswith(".js") for url in urls), urls
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
        suffix = "." + url.rsplit(".", 1)[-1]
        assert EXPECTED_TYPES[suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 0
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_swagger_ui_reads_the_document_here_and_asks_no_validator(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert "url: '/openapi.json'" in page
    assert '"validatorUrl": null' in page
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "frame-ancestors 'none'" in redirect.headers["content-security-policy"]


async def test_every_answer_carries_nosniff_and_refuses_framing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    caller = await operator(app, client)
    answers = [
        await client.get("/healthz"),
        await client.get("/openapi.json"),
        await client.get("/api/v1/me", headers=caller.headers),
        await client.get("/api/v1/me"),  # a problem
        await client.get("/api/v1/no-such-thing"),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'", answer.url


@pytest.fixture
async def docs_off(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    settings: Settings = make_settings(database.url, docs_enabled=False)
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await application.state.runtime.engine.dispose()


async def test_docs_can_be_switched_off(docs_off: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/docs/assets/swagger-ui-bundle.js"):
        response = await docs_off.get(path)
        assert response.status_code == 404, path
    assert (await docs_off.get("/openapi.json")).status_code == 200  # generated clients need it


def test_the_switch_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AINAS_DOCS_ENABLED", "false")
    monkeypatch.setenv("AINAS_LOGIN_URL", "https://ainas.example.jp/login")
    settings = Settings()
    assert settings.docs_enabled is False
    assert settings.login_url == "https://ainas.example.jp/login"
    monkeypatch.setenv("AINAS_LOGIN_URL", "javascript:alert(1)")
    with pytest.raises(ValueError, match="login_url"):
        Settings()


# -- SPEC §5.4: the registration notice -----------------------------------------------------------


@pytest.fixture
async def late_evening(database: TestDatabase) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """20:30 UTC on 31 March is 05:30 on 1 April in Japan."""
    settings = make_settings(database.url, login_url="https://ainas.example.jp/login")
    application = create_app(settings, ManualClock(datetime(2026, 3, 31, 20, 30, tzinfo=UTC)))
    from tests.fixtures.database import empty_all_tables

    await empty_all_tables(application.state.runtime.engine, database.backend)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield application, http
    await application.state.runtime.engine.dispose()


async def test_registration_notice_has_the_japan_date_and_the_login_url(
    late_evening: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = late_evening
    caller = await operator(app, client)
    response = await post_organization(client, caller, "株式会社登録", "登録", "r.admin", "登録 太郎")
    assert response.status_code == 201, response.text
    notice = response.json()["registration_notice"]
    assert notice["registration_date"] == "2026-04-01"  # UTC would say 2026-03-31
    assert notice["login_url"] == "https://ainas.example.jp/login"
    assert response.json()["organization"]["created_at"] == "2026-03-31T20:30:00Z"


async def test_login_url_is_null_until_configured(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    response = await post_organization(client, caller, "株式会社登録", "登録", "r.admin", "登録 太郎")
    notice = response.json()["registration_notice"]
    assert notice["login_url"] is None
    assert notice["registration_date"] == "2026-04-01"  # 09:00 UTC: 18:00 in Japan
