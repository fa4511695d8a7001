"""The README walkthrough against a real `ainas start` process on the embedded SQLite database."""

import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.server import AINAS, ROOT, free_port, new_secret, server_env, wait_until_up

BANNER_RULE = "=" * 72


def read_banner(process: subprocess.Popen[str], seconds: float = 60) -> str:
    """What the process printed up to the closing line of the first-operator banner."""
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stream = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if sum(BANNER_RULE in printed for printed in seen) == 2:
            return "".join(seen)
    raise AssertionError("".join(seen))


def test_start_prints_a_first_operator_who_can_onboard_and_manage(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'ainas.db'}", new_secret())
    process = subprocess.Popen(  # noqa: S603
        [AINAS, "start", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        text = read_banner(process)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, process)
        login_id = text.split("login ID : ")[1].split()[0]
        password = text.split("password : ")[1].split()[0]
        with httpx.Client(base_url=base, timeout=10) as http:
            walkthrough(http, login_id, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
    # A second start finds the operator and prints no new credentials.
    second = subprocess.run(  # noqa: S603
        [AINAS, "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert "password" not in second.stdout
    assert os.path.exists(tmp_path / "ainas.db")


def walkthrough(http: httpx.Client, login_id: str, password: str) -> None:
    """Token, /me, onboarding, a location, a staff user, deleting the staff user: as the README shows."""
    token = http.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": login_id, "password": password}
    )
    assert token.status_code == 200
    assert token.json()["password_change_required"] is True
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    changed = http.put(
        "/api/v1/me/password",
        json={"current_password": password, "new_password": "association passphrase 2026"},
        headers=bearer,
    )
    assert changed.status_code == 204
    token = http.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": login_id, "password": "association passphrase 2026"},
    )
    op: dict[str, str] = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = http.get("/api/v1/me", headers=op)
    assert me.json()["kind"] == "operator"
    assert me.headers["x-request-id"]

    onboarded = http.post(
        "/api/v1/organizations",
        json={
            "name": "株式会社サンプル自動車",
            "short_name": "サンプル自動車",
            "admins": [{"login_id": "sample.admin", "name": "見本 太郎"}],
        },
        headers=op,
    )
    assert onboarded.status_code == 201
    notice: dict[str, Any] = onboarded.json()["registration_notice"]
    org = f"/api/v1/organizations/{notice['organization_id']}"
    initial = notice["admins"][0]["initial_password"]
    admin_token = http.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "sample.admin", "password": initial}
    )
    temporary = {"Authorization": f"Bearer {admin_token.json()['access_token']}"}
    assert (
        http.put(
            "/api/v1/me/password",
            json={"current_password": initial, "new_password": "admin passphrase 2026"},
            headers=temporary,
        ).status_code
        == 204
    )
    admin_token = http.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "sample.admin", "password": "admin passphrase 2026"},
    )
    admin = {"Authorization": f"Bearer {admin_token.json()['access_token']}"}

    location = http.post(
        f"{org}/locations", json={"code": "HQ", "name": "本社", "short_name": "本社"}, headers=admin
    )
    assert location.status_code == 201
    staff = http.post(
        f"{org}/users",
        json={
            "login_id": "staff.one",
            "name": "担当 一郎",
            "password": "first day passphrase",
            "location_code": "HQ",
            "role": "staff_submitter",
        },
        headers=admin,
    )
    assert staff.status_code == 201
    listed = http.get(f"{org}/users", params={"role": "staff_submitter"}, headers=admin)
    assert listed.json()["total"] == 1
    etag = http.get(f"{org}/users/staff.one", headers=admin).headers["etag"]
    assert http.delete(f"{org}/users/staff.one", headers={**admin, "If-Match": etag}).status_code == 204
    linked = http.get(f"{org}/locations", auth=(notice["api_key"], notice["api_initial_password"]))
    assert linked.status_code == 200
    assert linked.json()["items"][0]["code"] == "HQ"
