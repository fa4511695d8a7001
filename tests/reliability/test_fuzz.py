"""Schema fuzzing (issue 5, item 2) with schemathesis 4 against a real server process, as a staff
user and as an admin, with positive and negative data for every operation of the OpenAPI document.

Every answer must: not be a 5xx; have a documented status, content type, headers and body schema;
be problem+json when it is an error; and carry no secret. Path parameters are drawn both at random
and from real resources (the caller's organization, a location, a user, a key), so that generated
bodies reach validation and business rules instead of stopping at 404.

The example count per operation and mode is small for CI; run longer with, e.g.:

    AINAS_FUZZ_EXAMPLES=300 AINAS_FUZZ_SEED=$RANDOM .venv/bin/python -m pytest tests/reliability/test_fuzz.py

Any finding fails the test with a curl command that reproduces it.
"""

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import _POSTGRES_OK, _POSTGRES_WHY
from tests.fixtures.principals import operator
from tests.reliability.live import LiveServer, LiveSession, fresh_database, new_server
from tests.security.leaks import LeakScanner

EXAMPLES = int(os.environ.get("AINAS_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("AINAS_FUZZ_SEED", "0"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Operations whose 422 FastAPI documents with its own HTTPValidationError (application/json).
FASTAPI_DEFAULT_422 = "HTTPValidationError"


@dataclass
class Fuzzed:
    """A fuzzing server with its world: who calls, and real ids for path parameters."""

    backend: str
    server: LiveServer
    document: dict[str, Any]
    headers: dict[str, dict[str, str]]
    path_values: dict[str, dict[str, str]]
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class Findings:
    """What a run saw: cases, statuses, and unexpected failures with a reproduction."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: dict[str, str] = field(default_factory=dict)


async def _prepare(
    live: LiveSession,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, str]]:
    world = await live.start()
    keys = await live.http.get(f"{world.a.path}/api-keys", headers=world.a.admin.headers)
    key_id = keys.json()["items"][0]["id"]
    staff = world["staff_submitter_l1"]
    headers = {"staff": staff.headers, "admin": world.a.admin.headers}
    path_values = {
        "staff": {"org_id": world.a.id, "code": "L1", "login_id": staff.login_id, "key_id": key_id},
        # The admin fuzzes other users than the staff caller, so that the staff run is not cut short.
        "admin": {"org_id": world.a.id, "code": "L2", "login_id": "preparer.l1", "key_id": key_id},
    }
    secrets = {world.a.api_password: "API password", world.b.api_password: "API password"}
    for caller in world.callers.values():
        secrets[caller.password] = "password"
        if caller.refresh_token:
            secrets[caller.refresh_token] = "refresh token"
    return headers, path_values, secrets


def _backends() -> list[Any]:
    skip = pytest.mark.skipif(not _POSTGRES_OK, reason=f"PostgreSQL not available: {_POSTGRES_WHY}")
    return ["sqlite", pytest.param("postgresql", marks=skip)]


@pytest.fixture(scope="module", params=_backends())
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A server on a database of its own, with the world built once for both callers."""
    directory = Path(tmp_path_factory.mktemp("fuzz"))
    with fresh_database(request.param, directory) as url:
        server = new_server(url, directory)
        server.start()
        try:

            async def prepare() -> Any:
                live = LiveSession(server, LeakScanner())
                try:
                    return await _prepare(live)
                finally:
                    await live.close()

            headers, path_values, secrets = asyncio.run(prepare())
            document = httpx.get(f"{server.base_url}/openapi.json").json()
            yield Fuzzed(request.param, server, document, headers, path_values, secrets)
        finally:
            server.stop()


def header(response: Any, name: str) -> str:
    """One header of a schemathesis response (whose header values are lists)."""
    value = response.headers.get(name, "")
    return str(value[0] if isinstance(value, list) and value else value)


def own_checks(response: Any, fuzzed: Fuzzed) -> list[str]:
    """Errors are problem+json with a matching status; no secret in any answer."""
    problems = []
    if response.status_code >= 400:
        if header(response, "content-type") != "application/problem+json":
            problems.append(f"error {response.status_code} is not problem+json")
        else:
            body = response.json()
            if body.get("status") != response.status_code or not body.get("code") or not body.get("type"):
                problems.append(f"malformed problem: {body}")
    text = response.text + "\n" + "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    for secret, kind in fuzzed.secrets.items():
        if secret in text:
            problems.append(f"answer carries a {kind}")
    if "$argon2" in text or fuzzed.server.secret_key in text or "Traceback" in text:
        problems.append("answer carries a hash, the signing key or a stack trace")
    return problems


def fuzz_operation(
    fuzzed: Fuzzed, caller: str, operation: Any, findings: Findings, session: requests.Session
) -> None:
    """Positive and negative cases of one operation."""
    fixed = {
        name: value
        for name, value in fuzzed.path_values[caller].items()
        if "{" + name + "}" in operation.path
    }
    headers = fuzzed.headers[caller]
    label = f"{operation.method.upper()} {operation.path}"

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies = [operation.as_strategy(mode)]
        if fixed:
            strategies.insert(0, operation.as_strategy(mode, path_parameters=fixed))

        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=st.one_of(*strategies))
        def run(case: Any) -> None:
            response = case.call(
                base_url=fuzzed.server.base_url, headers=headers, session=session, timeout=30
            )
            findings.cases += 1
            findings.statuses[response.status_code] += 1
            checks = list(CHECKS)
            components = case.meta.components.items() if case.meta is not None else []
            negated = {location for location, info in components if info.mode.is_negative}
            if negated == {ParameterLocation.BODY}:
                checks.append(negative_data_rejection)  # bodies only: any query value is some string
            failures: list[Failure] = []
            try:
                case.validate_response(response, checks=checks, headers=headers)
            except FailureGroup as group:
                failures = list(group.exceptions)
            except Failure as failure:
                failures = [failure]
            problems = [(failure, str(failure).splitlines()[0]) for failure in failures]
            problems += [(None, text) for text in own_checks(response, fuzzed)]
            for _failure, text in problems:
                key = f"{label} [{case.meta.generation.mode.value if case.meta else '?'}] {text}"
                findings.unexpected.setdefault(
                    key,
                    f"{response.status_code}: {case.as_curl_command(headers={'Authorization': '***'})[:600]}",
                )

        # Unsatisfiable: nothing to negate in this operation (e.g. it has no parameters at all).
        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            run()


@pytest.mark.parametrize("caller", ["staff", "admin"])
def test_fuzz_every_operation(fuzzed: Fuzzed, caller: str) -> None:
    schema = schemathesis.openapi.from_dict(fuzzed.document)
    findings = Findings()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            fuzz_operation(fuzzed, caller, result.ok(), findings, session)
    lines = fuzzed.server.log_lines()
    logged = [kind for secret, kind in fuzzed.secrets.items() if any(secret in line for line in lines)]
    report = f"{fuzzed.backend}/{caller}: {findings.cases} cases, statuses {dict(sorted(findings.statuses.items()))}"
    print(report)
    assert findings.cases >= len(fuzzed.document["paths"]) * EXAMPLES // 2, report
    assert not logged, f"server log lines carry secrets: {logged}"
    assert not any("$argon2" in line for line in lines)
    assert not findings.unexpected, (
        report
        + "\n"
        + "\n".join(f"- {key}\n    {repro}" for key, repro in list(findings.unexpected.items())[:40])
    )


# Defects the fuzzer once found, pinned deterministically.


def test_every_error_is_documented_as_problem_json(app: FastAPI) -> None:
    undocumented = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")) and "application/problem+json" not in response.get(
                    "content", {}
                ):
                    undocumented.append(f"{method.upper()} {path} {status}")
    assert undocumented == []


async def test_revoke_answer_matches_the_document(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/revoke", data={"token": "an-unknown-refresh-token"})
    assert response.status_code == 200
    declared = app.openapi()["paths"]["/api/v1/auth/revoke"]["post"]["responses"]["200"].get("content", {})
    assert response.headers.get("content-type") in declared or (response.content == b"" and not declared)


async def test_undecodable_body_answers_a_documented_status(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    response = await client.put(
        "/api/v1/me/password",
        content=b'{"current_password": "\xff\xfe"}',
        headers={**caller.headers, "Content-Type": "application/json"},
    )
    documented = app.openapi()["paths"]["/api/v1/me/password"]["put"]["responses"]
    assert str(response.status_code) in documented, response.text
