"""The OpenAPI document as frontend teams and generated clients meet it (SPEC §5.2, §5.3): every
filter a flat optional query parameter, names a developer would write, error examples that are
true for their operation, and a generated client that lists everything with no filters."""

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.cli import DEFAULT_OPENAPI_PATH, openapi_document
from app.text.messages import MESSAGES
from tests.fixtures.world import World

DOCUMENT: dict[str, Any] = openapi_document()


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _lists() -> list[tuple[str, dict[str, Any]]]:
    """Every list operation: a GET answering a page ({items, total, limit, offset})."""
    found = []
    for method, path, operation in _operations():
        answer = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if method == "GET" and answer.get("schema", {}).get("$ref", "").endswith("Page"):
            found.append((path, operation))
    return found


def _kind(schema: dict[str, Any]) -> str:
    """A schema's type, following a reference (an enum of strings is a string)."""
    if "$ref" in schema:
        target = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return "string" if "enum" in target else str(target.get("type", "object"))
    return str(schema.get("type"))


def test_every_list_takes_flat_optional_query_parameters() -> None:
    lists = _lists()
    assert {path for path, _ in lists} == {
        "/api/v1/organizations",
        "/api/v1/organizations/{org_id}/locations",
        "/api/v1/organizations/{org_id}/users",
        "/api/v1/organizations/{org_id}/api-keys",
        "/api/v1/organizations/{org_id}/audit-events",
        "/api/v1/organizations/{org_id}/certificates",
        "/api/v1/certificates",
        "/api/v1/agents",
        "/api/v1/organizations/{org_id}/agent-designations",
        "/api/v1/organizations/{org_id}/application-templates",
        "/api/v1/organizations/{org_id}/webhook-endpoints",
        "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}/deliveries",
    }
    wrong = []
    for path, operation in lists:
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            schema = parameter["schema"]
            kinds = {_kind(option) for option in schema.get("anyOf", [schema])}
            if schema.get("type") == "array":
                kinds.add(_kind(schema["items"]) if _kind(schema["items"]) == "object" else "array")
            if parameter.get("required") or "object" in kinds:
                wrong.append((path, parameter["name"], parameter.get("required"), schema))
    assert wrong == []
    users = dict(lists)["/api/v1/organizations/{org_id}/users"]
    names = [parameter["name"] for parameter in users["parameters"]]
    assert names == ["org_id", "login_id", "name", "location_code", "role", "limit", "offset", "sort"]
    role = next(parameter for parameter in users["parameters"] if parameter["name"] == "role")
    assert role["schema"]["type"] == "array"  # repeatable


def test_schema_and_operation_names_are_those_a_developer_would_write() -> None:
    schemas = set(DOCUMENT["components"]["schemas"])
    assert {
        "LocationPage",
        "UserPage",
        "OrganizationPage",
        "ApiKeyPage",
        "AuditEventPage",
        "TokenRequest",
    } <= schemas
    assert [name for name in schemas if "_" in name or name.startswith("Body")] == []
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert len(ids) == len(set(ids))
    assert {"list_locations", "create_location", "token", "list_users"} <= set(ids)


def test_the_api_key_label_is_described_as_a_label() -> None:
    label = DOCUMENT["components"]["schemas"]["ApiKeyCreate"]["properties"]["label"]
    text = json.dumps(label, ensure_ascii=False)
    assert "ラベル" in text
    assert "label" in text
    assert "ユーザー名" not in text


def test_the_committed_document_is_this_one() -> None:
    assert json.loads(Path(DEFAULT_OPENAPI_PATH).read_text()) == DOCUMENT


def _documented(method: str, path: str) -> dict[int, set[tuple[str, tuple[str, ...]]]]:
    """(code, field error codes) of each example, by status."""
    operation = DOCUMENT["paths"][path][method.lower()]
    found: dict[int, set[tuple[str, tuple[str, ...]]]] = {}
    for status, answer in operation["responses"].items():
        for example in (
            answer.get("content", {}).get("application/problem+json", {}).get("examples", {}).values()
        ):
            value = example["value"]
            errors = tuple(sorted(error["code"] for error in value.get("errors", [])))
            found.setdefault(int(status), set()).add((value["code"], errors))
    return found


def test_every_example_is_a_problem_of_its_status() -> None:
    wrong = []
    for method, path, operation in _operations():
        for status, answer in operation["responses"].items():
            for name, example in (
                answer.get("content", {}).get("application/problem+json", {}).get("examples", {}).items()
            ):
                value = example["value"]
                if value["status"] != int(status) or value["code"] not in MESSAGES:
                    wrong.append((method, path, status, name))
                if any(error["code"] not in MESSAGES for error in value.get("errors", [])):
                    wrong.append((method, path, status, name))
    assert wrong == []
    # Not every operation shows the same example any more.
    created = _documented("POST", "/api/v1/organizations/{org_id}/locations")
    deleted = _documented("DELETE", "/api/v1/organizations/{org_id}/locations/{code}")
    assert ("location_code_taken", ()) in created[409]
    assert deleted[409] == {
        ("location_in_use", ()),
        ("location_has_designations", ()),
        ("location_has_templates", ()),
    }
    assert 409 not in _documented("GET", "/api/v1/organizations/{org_id}/locations")


async def test_the_answers_the_service_gives_are_among_the_documented_examples(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = world.a.admin.headers
    org = f"/api/v1/organizations/{world.a.id}"
    staff = {
        "login_id": "new.staff",
        "name": "新人",
        "password": "first day passphrase",
        "role": "staff_preparer",
        "location_code": "L1",
    }
    tries: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/locations", {"json": {"code": "L1", "name": "拠点", "short_name": "拠点"}}),
        ("POST", "/locations", {"json": {"code": "X1", "name": "ｶﾞﾚｰｼﾞ", "short_name": "拠点"}}),
        ("POST", "/locations", {"content": b"code=X1", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/locations", {"json": {"code": "X1"}, "headers": {"Idempotency-Key": "k" * 300}}),
        ("DELETE", "/locations/{code}", {"code": "L1"}),
        ("PATCH", "/locations/{code}", {"code": "L1", "json": {}, "headers": {"If-Match": "nonsense"}}),
        ("PATCH", "/locations/{code}", {"code": "L1", "json": {}, "headers": {"If-Match": '"99"'}}),
        ("PATCH", "/locations/{code}", {"code": "L1", "json": {"delegate_number": "１"}}),
        ("GET", "/locations/{code}", {"code": "NOPE"}),
        ("GET", "/locations", {"headers": {"Authorization": ""}}),
        ("GET", "/users", {"params": {"limit": 500}}),
        ("POST", "/users", {"json": {**staff, "role": "manager"}}),
        ("POST", "/users", {"json": {**staff, "location_code": "ZZ"}}),
        ("POST", "/users", {"json": {**staff, "login_id": "submitter.l1"}}),
        ("POST", "/users", {"json": {**staff, "password": "password"}}),
        ("DELETE", "/users/{login_id}", {"login_id": "a.admin"}),
        ("POST", "/api-keys", {"json": {"label": "a\u0000"}}),
        ("PUT", "/api-password", {"json": {"new_password": "short"}}),
    ]
    unexpected = []
    for method, suffix, options in tries:
        template = "/api/v1/organizations/{org_id}" + suffix
        path = org + suffix.format(code=options.pop("code", ""), login_id=options.pop("login_id", ""))
        headers = {**admin, **options.pop("headers", {})}
        headers = {name: value for name, value in headers.items() if value}
        response = await client.request(method, path, headers=headers, **options)
        problem = response.json()
        errors = tuple(sorted(error["code"] for error in problem.get("errors", [])))
        documented = _documented(method, template).get(response.status_code, set())
        if (problem.get("code"), errors) not in documented:
            unexpected.append((method, template, response.status_code, problem.get("code"), errors))
    token = await client.post("/api/v1/auth/token", json={"grant_type": "password"})
    if (token.json()["code"], ()) not in _documented("POST", "/api/v1/auth/token").get(
        token.status_code, set()
    ):
        unexpected.append(("POST", "/api/v1/auth/token", token.status_code, token.json()["code"], ()))
    assert unexpected == []


async def test_try_it_out_with_nothing_filled_lists_everything(
    world: World, client: httpx.AsyncClient
) -> None:
    """What Swagger UI sends when nothing is filled in: the required parameters only."""
    totals = {}
    for path, operation in _lists():
        required = {p["name"] for p in operation.get("parameters", []) if p.get("required")}
        in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert required <= in_path, (path, required)  # only the path's own names must be filled
        if in_path - {"org_id"}:
            continue  # a list under one resource (an endpoint's deliveries): a path to fill in
        url = path.replace("{org_id}", world.a.id)
        caller = (
            world.operator if path in ("/api/v1/organizations", "/api/v1/certificates") else world.a.admin
        )
        response = await client.get(url, headers=caller.headers)
        assert response.status_code == 200, (path, response.text)
        totals[path] = response.json()["total"]
    assert totals["/api/v1/organizations"] == 2
    assert totals["/api/v1/organizations/{org_id}/locations"] == 2
    assert totals["/api/v1/organizations/{org_id}/users"] == 6
    assert totals["/api/v1/organizations/{org_id}/api-keys"] == 1
    assert totals["/api/v1/organizations/{org_id}/audit-events"] > 0
    assert totals["/api/v1/organizations/{org_id}/certificates"] == 0
    assert totals["/api/v1/certificates"] == 0


# -- a client generated from the document ---------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """`openapi-python-client` run on the committed document, imported as `ainas_client`."""
    root = tmp_path_factory.mktemp("client")
    tool = Path(sys.executable).with_name("openapi-python-client")
    # The tool formats what it writes with ruff, from PATH: this environment's.
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(  # noqa: S603 (the pinned dev tool, fixed arguments)
        [
            str(tool),
            "generate",
            "--path",
            str(DEFAULT_OPENAPI_PATH),
            "--meta",
            "none",
            "--output-path",
            str(root / "ainas_client"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("ainas_client")
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.startswith("ainas_client")]:
            del sys.modules[name]


def _operation(package: ModuleType, name: str) -> ModuleType:
    """The generated module of an operation, whatever its tag's folder is called."""
    api = Path(package.__file__).parent / "api"  # type: ignore[arg-type]
    [found] = list(api.glob(f"*/{name}.py"))
    return importlib.import_module(f"ainas_client.api.{found.parent.name}.{name}")


async def test_a_generated_client_lists_everything_with_no_filters(
    app: FastAPI, world: World, generated: ModuleType
) -> None:
    def client_of(token: str) -> Any:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {token}"},
        )
        return generated.AuthenticatedClient(
            base_url="http://testserver", token=token
        ).set_async_httpx_client(http)

    admin = client_of(world.a.admin.token)
    operator = client_of(world.operator.token)
    organizations = await _operation(generated, "list_organizations").asyncio_detailed(client=operator)
    assert organizations.status_code == 200
    assert organizations.parsed.total == 2
    totals = {}
    for name in ("list_locations", "list_users", "list_api_keys", "list_audit_events"):
        answer = await _operation(generated, name).asyncio_detailed(client=admin, org_id=world.a.id)
        assert answer.status_code == 200, (name, answer.content)
        totals[name] = (answer.parsed.total, len(answer.parsed.items))
    assert totals["list_locations"] == (2, 2)
    assert totals["list_users"] == (6, 6)
    assert totals["list_api_keys"] == (1, 1)
    assert totals["list_audit_events"][0] > 0
    users = await _operation(generated, "list_users").asyncio_detailed(client=admin, org_id=world.a.id)
    assert {user.location_name for user in users.parsed.items} == {None, "第一拠点", "第二拠点"}
    filtered = await _operation(generated, "list_users").asyncio_detailed(
        client=admin, org_id=world.a.id, location_code="L2"
    )
    assert [user.login_id for user in filtered.parsed.items] == ["submitter.l2"]
