"""Hostile input (issue 5, item 3): for every text field of every request body, and for query
parameters, path parameters, headers and the token form, a corpus of hostile values.

Each one must get a 4xx problem+json, leave every table exactly as it was, and reach the logs
only as escaped JSON (one line per record, no forged members). The few values that are
legitimate text for a free-text field (a user name may contain `<` or `'`; a password may be any
characters, SPEC §3.4) may instead be accepted, and are then stored and answered verbatim.

The text fields come from the OpenAPI document: a body field this file does not know fails
`test_every_body_field_is_covered`, so a new field is never left out.
"""

import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from app.config.settings import Settings
from app.journal.audit_schemas import AuditFilters
from app.locations.schemas import LocationFilters
from app.models import ApiKey, User
from app.organizations.schemas import OrganizationFilters
from app.text.types import BlankIsNull
from app.users.schemas import UserFilters
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.principals import login
from tests.fixtures.world import PASSWORD, World, full_width_number
from tests.security.leaks import LeakScanner
from tests.security.state import Snapshot, differences, snapshot


def without_failed_password_change(before: Snapshot, after: Snapshot) -> Snapshot:
    """`after` with one failed password change taken out: its audit event and the failure counter
    it counted (the user's, or the linked system's key's). Anything else that changed still shows
    as a difference."""
    new_events = [row for row in after["audit_events"] if row not in before["audit_events"]]
    failures = ("auth.password_change_failed", "auth.api_key_failed")
    assert [row for row in new_events if not any(action in row for action in failures)] == [], new_events
    assert len(new_events) <= 1, new_events  # none when validation refused the body first
    return {
        **after,
        "audit_events": [row for row in after["audit_events"] if row in before["audit_events"]],
        "users": restored(before, after, User, "failed_login_count"),
        "api_keys": restored(before, after, ApiKey, "failed_attempts"),
    }


def restored(before: Snapshot, after: Snapshot, model: type[Any], column: str) -> list[tuple[Any, ...]]:
    """The rows of `model` after, with `column` as it was before wherever nothing else changed."""
    table = model.__table__
    index = [c.name for c in table.columns].index(column)
    rows_before = {row[0]: row for row in before[table.name]}

    def restore(row: tuple[Any, ...]) -> tuple[Any, ...]:
        old = rows_before.get(row[0])
        if old is None or row[:index] + row[index + 1 :] != old[:index] + old[index + 1 :]:
            return row
        return old

    return sorted((restore(row) for row in after[table.name]), key=repr)


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    """A wrong current password counts as a failed login, and a linked system's as a failure of its
    key (SPEC §5.1); the corpus sends hundreds of them, so both thresholds are raised here to keep
    the callers unthrottled throughout (lockout and throttle have tests of their own)."""
    return make_settings(database.url, lockout_threshold=100, api_key_failure_threshold=100)


PLACEHOLDER = "__HOSTILE__"
LOG_MEMBERS = {
    "at",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "client_ip",
    "exception",
}


@dataclass(frozen=True)
class Hostile:
    """One hostile value: its JSON text, and the field classes that may accept it as ordinary text."""

    label: str
    raw: bytes
    accepted_by: frozenset[str] = frozenset()


def _json(value: Any, accepted_by: set[str] | None = None, label: str = "") -> Hostile:
    return Hostile(label, json.dumps(value).encode(), frozenset(accepted_by or ()))


# "free": free text (user names, key labels); "secret": passwords, which may be any characters.
CORPUS = [
    _json("", label="empty"),
    _json(" \u3000\t ", label="white space only"),
    _json("Ａ" * 10_000, label="10,000 characters"),
    _json("abc\u0000defgh", {"secret"}, "NUL byte"),
    Hostile("invalid UTF-8", b'"abc\xff\xfe\xfddef"'),
    Hostile("lone surrogate", b'"abc\\ud800defgh"'),
    Hostile("lone low surrogate", b'"\\udc00abcdefgh"'),
    _json("abc\u202edefgh", {"secret"}, "right-to-left override"),
    _json("abc\u200fdefgh", {"secret"}, "right-to-left mark"),
    _json("abc\u200ddefgh", {"secret"}, "zero-width joiner"),
    _json("abc\u200bdefgh", {"secret"}, "zero-width space"),
    _json("'; DROP TABLE users; --", {"free", "secret"}, "SQL fragment"),
    _json("1' OR '1'='1", {"free", "secret"}, "SQL tautology"),
    _json("<script>alert(1)</script>", {"free", "secret"}, "HTML script"),
    _json('<img src=x onerror="alert(1)">', {"free", "secret"}, "HTML attribute"),
    _json('x\r\n{"level":"ERROR","message":"forged"}', {"secret"}, "log line injection"),
    Hostile("deeply nested JSON", b"[" * 50_000 + b"]" * 50_000),
    _json(12345, label="number"),
    _json(1e308, label="huge number"),
    _json(True, label="boolean"),
    _json(["L1"], label="array"),
    _json({"$ne": None}, label="object"),
]

# Free-text fields; every other string field is strict (a code, an id, a full-width name, an enum).
FREE_TEXT = {
    "UserCreate.name",
    "UserUpdate.name",
    "AdminSeed.name",
    "ApiKeyCreate.label",
    # 備考 and descriptions: free text without control characters (a Label, a Note, Notes).
    "AgentDesignationCreate.note",
    "AgentDesignationUpdate.note",
    "ApplicationTemplateCreate.notes",
    "ApplicationTemplateUpdate.notes",
    "WebhookEndpointCreate.description",
    "WebhookEndpointUpdate.description",
}
SECRET = re.compile(r"password$")


@dataclass
class Target:
    """An operation with a body: who sends it, and a body that is accepted as it is."""

    method: str
    path: str
    caller: str
    body: Callable[[int], dict[str, Any]]
    path_values: dict[str, str]


def targets() -> dict[tuple[str, str], Target]:
    """A valid body for every operation that takes JSON; {n} makes created things unique."""
    org = "/api/v1/organizations"
    agents = "/api/v1/agents"
    designations = org + "/{org_id}/agent-designations"
    templates = org + "/{org_id}/application-templates"
    endpoints = org + "/{org_id}/webhook-endpoints"
    return {
        ("POST", org): Target(
            "POST",
            org,
            "operator",
            lambda n: {
                "name": "株式会社敵対",
                "short_name": "敵対",
                "admins": [{"login_id": f"h.admin{n}", "name": "敵対 管理者"}],
            },
            {},
        ),
        ("PATCH", org + "/{org_id}"): Target(
            "PATCH",
            org + "/{org_id}",
            "admin",
            lambda n: {"name": "株式会社テスト", "short_name": "テスト"},
            {},
        ),
        ("POST", org + "/{org_id}/locations"): Target(
            "POST",
            org + "/{org_id}/locations",
            "admin",
            lambda n: {"code": f"H{n}", "name": "敵対拠点", "short_name": "敵対", "delegate_number": "123"},
            {},
        ),
        ("PATCH", org + "/{org_id}/locations/{code}"): Target(
            "PATCH",
            org + "/{org_id}/locations/{code}",
            "admin",
            lambda n: {"name": "第一拠点", "short_name": "第一", "delegate_number": "456"},
            {"code": "L1"},
        ),
        ("POST", org + "/{org_id}/users"): Target(
            "POST",
            org + "/{org_id}/users",
            "admin",
            lambda n: {
                "login_id": f"h{n}",
                "name": "敵対",
                "password": "hostile passphrase 1",
                "location_code": "L1",
                "role": "staff_submitter",
            },
            {},
        ),
        ("PATCH", org + "/{org_id}/users/{login_id}"): Target(
            "PATCH",
            org + "/{org_id}/users/{login_id}",
            "admin",
            lambda n: {"name": "利用者", "location_code": "L2", "role": "staff_preparer"},
            {"login_id": "submitter.l2"},
        ),
        ("POST", org + "/{org_id}/api-keys"): Target(
            "POST", org + "/{org_id}/api-keys", "admin", lambda n: {"label": "敵対"}, {}
        ),
        # The linked system proves the current API password (admins need not).
        ("PUT", org + "/{org_id}/api-password"): Target(
            "PUT",
            org + "/{org_id}/api-password",
            "linked",
            lambda n: {"current_password": "{api_password}", "new_password": f"hostile api passphrase {n}"},
            {},
        ),
        ("PUT", "/api/v1/me/password"): Target(
            "PUT",
            "/api/v1/me/password",
            "preparer",
            lambda n: {"current_password": "{own_password}", "new_password": f"hostile new passphrase {n}"},
            {},
        ),
        # The agent, designation, template and endpoint of the {…_id} values, and the feed cursor,
        # are made by `prepare`; a designation needs an agent not yet designated: {new_agent_id}.
        ("POST", agents): Target(
            "POST",
            agents,
            "operator",
            lambda n: {
                "kind": "nisseiren",
                "name": f"敵対振興会{full_width_number(n)}",
                "short_name": "敵対",
                "prefecture": "13",
            },
            {},
        ),
        ("PATCH", agents + "/{agent_id}"): Target(
            "PATCH",
            agents + "/{agent_id}",
            "operator",
            lambda n: {"name": "敵対振興会", "short_name": "敵対", "phone": "03-1234-5678"},
            {"agent_id": "{agent_id}"},
        ),
        ("POST", designations): Target(
            "POST",
            designations,
            "admin",
            lambda n: {"agent_id": "{new_agent_id}", "procedures": ["continuous_inspection"]},
            {},
        ),
        ("PATCH", designations + "/{designation_id}"): Target(
            "PATCH",
            designations + "/{designation_id}",
            "admin",
            lambda n: {"procedures": ["continuous_inspection"], "note": "敵対"},
            {"designation_id": "{designation_id}"},
        ),
        ("POST", templates): Target(
            "POST",
            templates,
            "admin",
            lambda n: {"name": f"敵対テンプレート{full_width_number(n)}", "procedure": "new_registration"},
            {},
        ),
        ("PATCH", templates + "/{id}"): Target(
            "PATCH",
            templates + "/{id}",
            "admin",
            lambda n: {"name": "敵対テンプレート", "notes": "敵対"},
            {"id": "{template_id}"},
        ),
        ("POST", templates + "/{id}/copy"): Target(
            "POST",
            templates + "/{id}/copy",
            "admin",
            lambda n: {"name": f"敵対テンプレート写{full_width_number(n)}"},
            {"id": "{template_id}"},
        ),
        ("POST", endpoints): Target(
            "POST", endpoints, "admin", lambda n: {"url": "https://localhost/hook", "description": "敵対"}, {}
        ),
        ("PATCH", endpoints + "/{endpoint_id}"): Target(
            "PATCH",
            endpoints + "/{endpoint_id}",
            "admin",
            lambda n: {"url": "https://localhost/hook", "description": "敵対"},
            {"endpoint_id": "{endpoint_id}"},
        ),
        ("POST", endpoints + "/{endpoint_id}/recover"): Target(
            "POST",
            endpoints + "/{endpoint_id}/recover",
            "admin",
            lambda n: {"after": "{cursor}"},
            {"endpoint_id": "{endpoint_id}"},
        ),
    }


async def new_agent(client: httpx.AsyncClient, world: World, name: str) -> str:
    """An agent of the directory (a 日整連 振興会, every procedure it may file), added by the operator."""
    response = await client.post(
        "/api/v1/agents",
        json={"kind": "nisseiren", "name": name, "short_name": "敵対", "prefecture": "13"},
        headers=world.operator.headers,
    )
    assert response.status_code == 201, response.text
    agent_id: str = response.json()["id"]
    return agent_id


async def prepare(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """What the targets' {…} values stand for: one agent, one designation of it by A at all
    locations, one template and one webhook endpoint of A, and a cursor of A's change feed."""
    a = world.a
    agent_id = await new_agent(client, world, "敵対振興会")
    designation = await client.post(
        f"{a.path}/agent-designations",
        json={"agent_id": agent_id, "procedures": ["continuous_inspection"]},
        headers=a.admin.headers,
    )
    assert designation.status_code == 201, designation.text
    template = await client.post(
        f"{a.path}/application-templates",
        json={"name": "敵対テンプレート", "procedure": "new_registration"},
        headers=a.admin.headers,
    )
    assert template.status_code == 201, template.text
    endpoint = await client.post(
        f"{a.path}/webhook-endpoints", json={"url": "https://localhost/hook"}, headers=a.admin.headers
    )
    assert endpoint.status_code == 201, endpoint.text
    feed = await client.get(f"{a.path}/changes", headers=a.admin.headers)
    assert feed.status_code == 200, feed.text
    return {
        "{agent_id}": agent_id,
        "{designation_id}": designation.json()["id"],
        "{template_id}": template.json()["id"],
        "{endpoint_id}": endpoint.json()["id"],
        "{cursor}": feed.json()["next_cursor"],
    }


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A schema and its component name, following one $ref."""
    ref = schema.get("$ref")
    if ref is None:
        return "", schema
    name = ref.rsplit("/", 1)[-1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return name, resolved


def _string_fields(
    document: dict[str, Any], schema: dict[str, Any], prefix: tuple[Any, ...]
) -> list[tuple[str, tuple[Any, ...]]]:
    """(Schema.field, path in the body) of every string-valued property, nested ones included."""
    name, schema = _resolve(document, schema)
    found = []
    for prop, prop_schema in schema.get("properties", {}).items():
        options = prop_schema.get("anyOf", [prop_schema])
        for choice in options:
            _, option = _resolve(document, choice)
            if option.get("type") == "string" or "enum" in option:
                found.append((f"{name}.{prop}", (*prefix, prop)))
                break
            if option.get("type") == "array" and "$ref" in option.get("items", {}):
                found += _string_fields(document, option["items"], (*prefix, prop, 0))
                break
    return found


def body_fields(app: FastAPI) -> dict[tuple[str, str], list[tuple[str, tuple[Any, ...]]]]:
    """Every JSON request body's string fields, by operation, from the OpenAPI document."""
    document = app.openapi()
    fields = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                fields[(method.upper(), path)] = _string_fields(
                    document, content["application/json"]["schema"], ()
                )
    return fields


def blank_is_null(app: FastAPI) -> set[str]:
    """`Model.field` of every optional nullable body field where a blank means null (SPEC §5.3)."""
    found = set()
    for route in app.routes:
        model = getattr(getattr(getattr(route, "body_field", None), "field_info", None), "annotation", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            for schema in (model, *(sub for sub in _nested_models(model))):
                found.update(
                    f"{schema.__name__}.{name}"
                    for name, info in schema.model_fields.items()
                    if any(item is BlankIsNull for item in info.metadata)
                )
    return found


def _nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    nested = []
    for info in model.model_fields.values():
        for candidate in typing.get_args(info.annotation) or (info.annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                nested.append(candidate)
    return nested


BLANKS = {"empty", "white space only"}


def field_class(qualified: str) -> str:
    """free, secret or strict."""
    if SECRET.search(qualified):
        return "secret"
    return "free" if qualified in FREE_TEXT else "strict"


def with_placeholder(body: dict[str, Any], path: tuple[Any, ...]) -> bytes:
    """The body serialized with PLACEHOLDER (quoted) at `path`, ready to be replaced by raw JSON."""
    document = json.loads(json.dumps(body))
    holder: Any = document
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = PLACEHOLDER
    return json.dumps(document, ensure_ascii=False).encode()


class Callers:
    """Credentials by role; passwords that a hostile (but legitimate) value changed are followed."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.headers = {
            "operator": world.operator.headers,
            "admin": world.a.admin.headers,
            "preparer": world["staff_preparer_l1"].headers,
            "linked": world.a.basic(),
        }
        self.api_password = world.a.api_password
        self.own_password = PASSWORD

    async def followed(
        self, client: httpx.AsyncClient, target: Target, body: bytes, response: httpx.Response
    ) -> None:
        """After an accepted password change, use the new password from then on."""
        if response.status_code >= 300 or target.method != "PUT":
            return
        new_password = json.loads(body)["new_password"]
        if target.caller == "linked":
            self.api_password = new_password
            self.world.a.api_password = new_password
            self.headers["linked"] = self.world.a.basic()
            # The new password's first use is checked with argon2 and its digest kept, whatever
            # the request then does: done here, so that the next snapshot already holds it.
            assert (await client.get(self.world.a.path, headers=self.headers["linked"])).status_code == 200
        else:
            self.own_password = new_password
            self.headers["preparer"] = (await login(client, "preparer.l1", new_password)).headers


def check_logs(lines: list[str], start: int, problems: list[str], label: str) -> None:
    """Each log record is one line of JSON with only the service's own members."""
    for line in lines[start:]:
        if "\n" in line or "\r" in line:
            problems.append(f"{label}: a log record spans lines: {line[:120]!r}")
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"{label}: a log line is not JSON: {line[:120]!r}")
            continue
        if not isinstance(record, dict) or set(record) - LOG_MEMBERS:
            problems.append(
                f"{label}: a log line has members it should not: {sorted(set(record) - LOG_MEMBERS)}"
            )


def check_problem(response: httpx.Response, problems: list[str], label: str) -> None:
    """A 4xx answered as problem+json, whose status member matches, on one line of JSON."""
    if not 400 <= response.status_code < 500:
        problems.append(f"{label}: expected 4xx, got {response.status_code} {response.text[:200]}")
        return
    if response.headers.get("content-type") != "application/problem+json":
        problems.append(f"{label}: {response.status_code} is not problem+json")
        return
    body = response.json()
    if body.get("status") != response.status_code or not body.get("code"):
        problems.append(f"{label}: malformed problem {body}")
    if "\n" in response.text or "\r" in response.text:
        problems.append(f"{label}: the answer carries a raw line break")


def test_every_body_field_is_covered(app: FastAPI) -> None:
    """A new operation with a JSON body needs a valid body in `targets()` to be attacked."""
    assert set(body_fields(app)) == set(targets())
    assert sum(len(fields) for fields in body_fields(app).values()) >= 20


async def test_hostile_values_in_every_body_field(
    app: FastAPI, client: httpx.AsyncClient, world: World, leaks: LeakScanner
) -> None:
    engine = app.state.runtime.engine
    callers = Callers(world)
    lines = leaks.log_lines
    problems: list[str] = []
    tried = 0
    counter = iter(range(1, 1_000_000))
    blank_fields = blank_is_null(app)
    assert {
        "LocationCreate.delegate_number",
        "UserCreate.location_code",
        "ApiKeyCreate.label",
    } <= blank_fields
    prepared = await prepare(client, world)
    agents = iter(range(1, 1_000_000))
    for key, fields in body_fields(app).items():
        target = targets()[key]
        path_values = {name: prepared.get(value, value) for name, value in target.path_values.items()}
        path = target.path.format(org_id=world.a.id, **path_values)
        # current_password before new_password: a new one that is accepted changes the current one.
        for qualified, field_path in sorted(fields, key=lambda item: "new_password" in item[0]):
            kind = field_class(qualified)

            async def base(target: Target = target) -> dict[str, Any]:
                body = target.body(next(counter))
                for name, value in body.items():
                    if value == "{api_password}":
                        body[name] = callers.api_password
                    elif value == "{own_password}":
                        body[name] = callers.own_password
                    elif value == "{new_agent_id}":
                        body[name] = await new_agent(
                            client, world, f"敵対振興会別{full_width_number(next(agents))}"
                        )
                    elif isinstance(value, str) and value in prepared:
                        body[name] = prepared[value]
                return body

            # The body without the hostile value is accepted: a refusal below is the value's doing.
            valid = json.dumps(await base()).encode()
            response = await client.request(
                target.method,
                path,
                content=valid,
                headers={**callers.headers[target.caller], "Content-Type": "application/json"},
            )
            assert response.status_code < 300, f"valid body of {key} refused: {response.text}"
            await callers.followed(client, target, valid, response)
            for hostile in CORPUS:
                label = f"{target.method} {target.path} {qualified} <- {hostile.label}"
                raw = hostile.raw
                if kind == "secret" and "secret" in hostile.accepted_by:
                    raw = raw[:-1] + b' #pw"'  # not the same text as a name elsewhere
                body = with_placeholder(await base(), field_path).replace(f'"{PLACEHOLDER}"'.encode(), raw)
                headers = {**callers.headers[target.caller], "Content-Type": "application/json"}
                before = await snapshot(engine)
                logged = len(lines)
                response = await client.request(target.method, path, content=body, headers=headers)
                tried += 1
                check_logs(lines, logged, problems, label)
                await callers.followed(client, target, body, response)
                if response.status_code < 300 and kind in hostile.accepted_by:
                    continue
                if response.status_code < 300 and qualified in blank_fields and hostile.label in BLANKS:
                    continue  # a blank optional field is null
                check_problem(response, problems, label)
                after = await snapshot(engine)
                if qualified.endswith("Change.current_password") and response.status_code == 422:
                    # SPEC §5.1: a wrong current password counts as a failed login and is audited;
                    # exactly that, and nothing else, may change.
                    after = without_failed_password_change(before, after)
                problems += [f"{label}: changed {table}" for table in differences(before, after)]
    assert not problems, f"{len(problems)} of {tried} hostile bodies were mishandled:\n" + "\n".join(
        problems[:60]
    )
    print(f"hostile bodies: {tried}")


async def test_free_text_is_stored_and_answered_verbatim(client: httpx.AsyncClient, world: World) -> None:
    """SQL and HTML in a user name are text: stored as sent, answered as sent (JSON-escaped), tables intact."""
    a = world.a
    for index, name in enumerate(["'; DROP TABLE users; --", "<script>alert(1)</script>", "1' OR '1'='1"]):
        created = await client.post(
            f"{a.path}/users",
            json={
                "login_id": f"verbatim{index}",
                "name": name,
                "password": "verbatim passphrase",
                "location_code": None,
                "role": "staff_submitter",
            },
            headers=a.admin.headers,
        )
        assert created.status_code == 201, created.text
        read = await client.get(f"{a.path}/users/verbatim{index}", headers=a.admin.headers)
        assert read.json()["name"] == name
        assert read.headers["content-type"] == "application/json"
    listed = await client.get(f"{a.path}/users", params={"limit": 200}, headers=a.admin.headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 9  # the world's six users of A and these three


# Query strings, paths, headers and the token form. Search filters are text: a hostile search
# term is a search that matches nothing (a 200 with no items) or a 4xx, never a 5xx.
QUERY_VALUES = [
    "'; DROP TABLE locations; --",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "%",
    "_",
    "\\",
    "\u202e\u200d\u200b",
    "Ａ" * 101,
    "x\r\nX-Injected: yes",
]
# Every filter each list declares, read from its filter schema: a filter added later is tried too.
FILTERS = {
    "/organizations": list(OrganizationFilters.model_fields),
    "/organizations/{A}/locations": list(LocationFilters.model_fields),
    "/organizations/{A}/users": list(UserFilters.model_fields),
    "/organizations/{A}/audit-events": list(AuditFilters.model_fields),
}
PAGING = [
    {"limit": str(10**30)},
    {"limit": "0"},
    {"limit": "-1"},
    {"limit": "201"},
    {"limit": "ten"},
    {"offset": str(10**30)},
    {"offset": "-1"},
    {"offset": "-99999999999999999999"},
    {"offset": "1e3"},
    {"sort": "name; DROP TABLE users"},
    {"sort": "-" * 41},
    {"sort": "password_hash"},
]
PATH_VALUES = ["L1'--", "..%2F..%2Fadmin", "%ED%A0%80", "A" * 300, "%E2%80%AE1L", "%20", "L1%0D%0AX:1"]


def matches(item: dict[str, Any], name: str, value: str) -> bool:
    """Whether a listed item contains the search term literally (ignoring case), as a filter must."""
    fields = {
        "name": [item.get("name"), item.get("short_name")],
        "actor": [(item.get("actor") or {}).get("id")],
    }
    candidates = fields.get(name, [item.get(name)])
    return any(isinstance(text, str) and value.casefold() in text.casefold() for text in candidates)


async def test_hostile_queries_paths_headers_and_forms(
    app: FastAPI, client: httpx.AsyncClient, world: World, leaks: LeakScanner
) -> None:
    engine = app.state.runtime.engine
    headers = world.a.admin.headers
    problems: list[str] = []
    before = await snapshot(engine)
    tried = 0
    for template, names in FILTERS.items():
        path = "/api/v1" + template.format(A=world.a.id)
        for name in names:
            for value in QUERY_VALUES:
                response = await client.get(path, params={name: value}, headers=headers)
                tried += 1
                label = f"GET {template}?{name}={value[:20]!r}"
                if response.status_code == 200:
                    strays = [item for item in response.json()["items"] if not matches(item, name, value)]
                    if strays:
                        problems.append(
                            f"{label}: the search matched {len(strays)} items that do not contain it"
                        )
                else:
                    check_problem(response, problems, label)
            # A lone surrogate, percent-encoded as its (invalid) UTF-8 bytes.
            response = await client.get(f"{path}?{name}=%ED%A0%80", headers=headers)
            tried += 1
            if response.status_code != 200 or response.json()["total"]:
                check_problem(response, problems, f"GET {template}?{name}=<lone surrogate>")
        for paging in PAGING:
            response = await client.get(path, params=paging, headers=headers)
            tried += 1
            check_problem(response, problems, f"GET {template}?{paging}")
    for value in PATH_VALUES:
        for template in ("/locations/{v}", "/users/{v}", "/api-keys/{v}", "/users/{v}/password-reset"):
            method = "POST" if template.endswith("reset") else ("DELETE" if "api-keys" in template else "GET")
            response = await client.request(
                method, f"{world.a.path}{template.format(v=value)}", headers=headers
            )
            tried += 1
            check_problem(response, problems, f"{method} {template} with {value[:20]!r}")
    for org_id in ("00000000１", "%00000001", "1e8", "-00000001", "0" * 300):
        response = await client.get(f"/api/v1/organizations/{org_id}", headers=headers)
        tried += 1
        check_problem(response, problems, f"GET /organizations/{org_id[:12]}")
    location = f"{world.a.path}/locations/L1"
    for if_match in ['"1" , W/"x"', "*, *", '"' + "9" * 40 + '"', "\u3042".encode(), "-1"]:
        response = await client.patch(
            location, json={"name": "第一拠点"}, headers={**headers, "If-Match": if_match}
        )
        tried += 1
        check_problem(response, problems, f"PATCH with If-Match {if_match!r}")
    for key in ["x" * 256, "\u3042".encode() * 3, "a\tb", "a\x7fb"]:
        response = await client.post(
            f"{world.a.path}/api-keys", json={"label": "冪等"}, headers={**headers, "Idempotency-Key": key}
        )
        tried += 1
        check_problem(response, problems, f"POST with Idempotency-Key {key[:12]!r}")
    changed = differences(before, await snapshot(engine))
    problems += [f"hostile queries, paths and headers changed {table}" for table in changed]
    # The token endpoint audits each failed login (SPEC §2.5), so it is checked apart.
    for username in ["'; DROP TABLE users; --", "<script>", "Ａ" * 10_000, "a.admin' --", "\u202ea.admin"]:
        response = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": "whatever-it-is"},
        )
        tried += 1
        check_problem(response, problems, f"token with username {username[:20]!r}")
    response = await client.post(
        "/api/v1/auth/token",
        content=b"grant_type=password&username=a.admin&password=%FF%FE%FD",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    check_problem(response, problems, "token with an undecodable password")
    check_logs(leaks.log_lines, 0, problems, "queries, paths, headers")
    assert not problems, f"{len(problems)} of {tried} hostile requests were mishandled:\n" + "\n".join(
        problems[:60]
    )
    print(f"hostile queries, paths, headers and forms: {tried}")


async def test_nul_bytes_in_queries_paths_and_forms(client: httpx.AsyncClient, world: World) -> None:
    headers = world.a.admin.headers
    problems: list[str] = []
    for path, params in [
        (f"{world.a.path}/locations", {"name": "\x00"}),
        (f"{world.a.path}/users", {"login_id": "a\x00"}),
        (f"{world.a.path}/audit-events", {"actor": "\x00"}),
        ("/api/v1/organizations", {"name": "\x00"}),
    ]:
        response = await client.get(path, params=params, headers=headers)
        if response.status_code >= 500 or (response.status_code == 200 and response.json()["total"]):
            problems.append(f"GET {path}?{params!r}: {response.status_code} {response.text[:80]}")
    for path in (f"{world.a.path}/locations/L1%00", f"{world.a.path}/users/a.admin%00"):
        response = await client.get(path, headers=headers)
        if response.status_code != 404:
            problems.append(f"GET {path}: {response.status_code}")
    response = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "a\x00", "password": "x"}
    )
    if response.status_code != 400:
        problems.append(f"token with NUL username: {response.status_code}")
    assert not problems, "\n".join(problems)


async def test_duplicate_json_members_are_refused(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    engine = app.state.runtime.engine
    headers = {**world.a.admin.headers, "Content-Type": "application/json"}
    before = await snapshot(engine)
    bodies = {
        f"{world.a.path}/locations": '{"code": "D1", "name": "重複", "short_name": "重複", "code": "D2"}',
        f"{world.a.path}/users": (
            '{"login_id": "dup.user", "name": "重複", "password": "duplicate passphrase", '
            '"role": "staff_submitter", "location_code": "L1", "role": "staff_preparer", "location_code": "L2"}'
        ),
    }
    statuses = [
        (await client.post(path, content=body.encode(), headers=headers)).status_code
        for path, body in bodies.items()
    ]
    assert all(400 <= status < 500 for status in statuses), statuses
    assert not differences(before, await snapshot(engine))
