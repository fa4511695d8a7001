"""Swagger UI in a real browser with no route to the internet: it renders from the service's own
assets, and "Try it out" on the location list, with nothing filled but the organization, lists
every location. Needs Debian's chromium (`apt-get install chromium`, which .ci/run does); skipped
without it, except in CI (the `CI` environment variable set), where a missing browser fails."""

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.server import AINAS, ROOT, free_port, new_secret, run, server_env
from tests.interface.browser import CHROMIUM, chromium

IN_CI = bool(os.environ.get("CI"))
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not IN_CI,
    reason="Debian's chromium is not installed (apt-get install chromium): the browser check is left out",
)
OPERATOR_PASSWORD = "operator passphrase for the browser"


def _seed(base: str) -> dict[str, Any]:
    """An operator's organization with three locations; its linked-system credentials."""
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "browser.ops", "password": OPERATOR_PASSWORD},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        onboarded = http.post(
            "/api/v1/organizations",
            json={
                "name": "株式会社ブラウザ",
                "short_name": "ブラウザ",
                "admins": [{"login_id": "b.admin", "name": "管理 花子"}],
            },
            headers=headers,
        )
        assert onboarded.status_code == 201, onboarded.text
        notice = onboarded.json()["registration_notice"]
        for code, name in (("T1", "東京本店"), ("O1", "大阪支店"), ("N1", "名古屋支店")):
            created = http.post(
                f"/api/v1/organizations/{notice['organization_id']}/locations",
                json={"code": code, "name": name, "short_name": name},
                headers=headers,
            )
            assert created.status_code == 201, created.text
    return notice  # type: ignore[no-any-return]


@needs_chromium
def test_swagger_ui_renders_offline_and_try_it_out_lists_locations(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.fail(
            "CI is set but Debian's chromium is not installed: .ci/run installs it (apt-get install -y chromium)"
        )
    database = f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}"
    env = server_env(database, new_secret())
    subprocess.run([AINAS, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [AINAS, "create-operator", "browser.ops"],
        cwd=ROOT,
        env=env,
        input=OPERATOR_PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    port = free_port()
    with run(["serve", "--port", str(port)], env, port) as server:
        notice = _seed(server.base_url)
        with chromium() as page:
            page.call("Page.navigate", url=f"{server.base_url}/docs")
            title = page.wait_for("document.querySelector('.swagger-ui .info .title')?.textContent")
            assert "AINAS" in title
            page.wait_for("document.querySelector('[id$=\"-list_locations\"] .opblock-summary') !== null")
            page.evaluate(
                f"ui.preauthorizeBasic('linkedSystemBasic', {json.dumps(notice['api_key'])}, "
                f"{json.dumps(notice['api_initial_password'])})"
            )
            page.evaluate(
                "(document.querySelector('[id$=\"-list_locations\"] .opblock-summary-control')"
                " || document.querySelector('[id$=\"-list_locations\"] .opblock-summary')).click()"
            )
            page.wait_for("document.querySelector('[id$=\"-list_locations\"] .try-out__btn') !== null")
            page.evaluate("document.querySelector('[id$=\"-list_locations\"] .try-out__btn').click()")
            page.wait_for(
                'document.querySelector(\'[id$="-list_locations"] tr[data-param-name="org_id"] input\') !== null'
            )
            # Typed as a person types it (Swagger UI reads its inputs through React's events).
            page.evaluate(
                'document.querySelector(\'[id$="-list_locations"] tr[data-param-name="org_id"] input\').focus()'
            )
            page.call("Input.insertText", text=notice["organization_id"])
            time.sleep(1)  # Swagger UI debounces what is typed
            page.evaluate("document.querySelector('[id$=\"-list_locations\"] .execute').click()")
            shot = Path(os.environ.get("AINAS_SCREENSHOT_DIR", str(tmp_path))) / "swagger-ui.png"
            try:
                status = page.wait_for(
                    "document.querySelector('[id$=\"-list_locations\"] .live-responses-table tr.response .response-col_status')?.textContent"
                )
                body = page.evaluate(
                    "document.querySelector('[id$=\"-list_locations\"] .live-responses-table .response-col_description pre')?.textContent"
                )
            finally:
                page.screenshot(shot)  # what a person would have seen, also when it failed
            requested, console = page.requested, page.console
    assert status.strip() == "200", body
    listed = json.loads(body)
    assert listed["total"] == 3
    assert {item["code"] for item in listed["items"]} == {"T1", "O1", "N1"}
    outside = [url for url in requested if not url.startswith((server.base_url, "data:", "blob:"))]
    assert outside == []
    assert f"{server.base_url}/docs/assets/swagger-ui-bundle.js" in requested
    assert [line for line in console if "Content Security Policy" in line] == []


@pytest.mark.parametrize(("ci", "outcome"), [("1", "1 failed"), ("", "1 skipped")])
def test_without_chromium_the_browser_check_fails_in_ci_and_is_skipped_elsewhere(
    ci: str, outcome: str
) -> None:
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    env.update(PATH=str(Path(AINAS).parent), CI=ci)  # the virtual environment only: no chromium on it
    result = subprocess.run(  # noqa: S603 (this test file, fixed arguments)
        [
            str(Path(AINAS).parent / "python"),
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            f"{__file__}::test_swagger_ui_renders_offline_and_try_it_out_lists_locations",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
