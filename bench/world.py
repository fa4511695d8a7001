"""The benchmark's callers, made through the service's own command line and HTTP API."""

import base64
import subprocess
from dataclasses import dataclass

import httpx

from bench.servers import ROOT, VENV_BIN

PASSWORD = "Ainas bench passphrase 2026"
OPERATOR = "bench.operator"


@dataclass
class Org:
    """An onboarded organization: its id, its admin's login, its API key and API password."""

    id: str
    admin_login: str
    api_key: str
    api_password: str

    @property
    def basic(self) -> str:
        """The Authorization header value of its linked system."""
        raw = f"{self.api_key}:{self.api_password}".encode()
        return f"Basic {base64.b64encode(raw).decode()}"


def create_operator(env: dict[str, str]) -> None:
    """`ainas create-operator`, the password on standard input."""
    subprocess.run(  # noqa: S603 (the service's own CLI)
        [str(VENV_BIN / "ainas"), "create-operator", OPERATOR],
        input=PASSWORD + "\n",
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


def token(base_url: str, login_id: str, password: str = PASSWORD) -> str:
    """A full access token; a temporary password is changed to the benchmark password first."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": login_id, "password": password}
        )
        answer.raise_for_status()
        body = answer.json()
        if not body.get("password_change_required"):
            return str(body["access_token"])
        changed = client.put(
            "/api/v1/me/password",
            json={"current_password": password, "new_password": PASSWORD},
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
        changed.raise_for_status()
    return token(base_url, login_id, PASSWORD)


def onboard(base_url: str, operator_token: str, name: str, short_name: str, admin_login: str) -> Org:
    """POST /organizations as the operator; the admin sets the benchmark password at first login."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post(
            "/api/v1/organizations",
            json={
                "name": name,
                "short_name": short_name,
                "admins": [{"login_id": admin_login, "name": "管理 太郎"}],
            },
            headers={"Authorization": f"Bearer {operator_token}"},
        )
        answer.raise_for_status()
    notice = answer.json()["registration_notice"]
    token(base_url, admin_login, notice["admins"][0]["initial_password"])
    return Org(notice["organization_id"], admin_login, notice["api_key"], notice["api_initial_password"])
