"""Registering requester certificates (SPEC §2.6): each good file registers with the fields its
certificate says, each bad one gets its own code and leaves every table as it was."""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.certificates import repository as certificates_repository
from app.certificates.schemas import Certificate
from app.cli import openapi_document
from app.config.clock import ManualClock
from tests.certificates.helpers import refused_without_a_trace, register
from tests.fixtures import certificates as files
from tests.fixtures.certificates import P12, upload
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.principals import OPERATOR_PASSWORD, login
from tests.fixtures.world import PASSWORD, Org, World

REGISTER_OPERATION = openapi_document()["paths"]["/api/v1/organizations/{org_id}/certificates"]["post"]
ISSUER = "CN=商業登記認証局３,O=法務省,C=JP"
# What an audit event leaves out of a certificate's public form: it changes by itself.
NOT_RECORDED = {
    "updated_at",
    "version",
    "days_until_expiry",
    "organization_name",
    "subject_matches_organization",
}
Factory = Callable[[datetime], P12]


@pytest.mark.parametrize(
    ("factory", "key_type", "subject_name", "representative_name"),
    [
        (files.rsa_2048, "RSA-2048", files.ORGANIZATION, files.REPRESENTATIVE),
        (files.ec_p256, "EC-P256", files.ORGANIZATION, files.REPRESENTATIVE),
        (files.bmp_names, "EC-P256", files.ORGANIZATION, files.REPRESENTATIVE),
        (files.common_name_only, "EC-P256", "見本　花子", None),
        (files.without_key_usage, "EC-P256", files.ORGANIZATION, files.REPRESENTATIVE),
    ],
    ids=["rsa-2048", "ec-p256", "bmp-string-names", "cn-only", "no-key-usage"],
)
async def test_a_good_file_registers_with_its_fields(
    client: httpx.AsyncClient,
    world: World,
    clock: ManualClock,
    factory: Factory,
    key_type: str,
    subject_name: str,
    representative_name: str | None,
) -> None:
    p12 = factory(clock.now())
    response = await upload(client, world.a.path, world.a.admin, p12)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["id"]) == 32
    assert body["id"] == body["id"].upper()
    assert int(body["id"], 16) >= 0
    assert response.headers["location"] == f"{world.a.path}/certificates/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body == {
        "id": body["id"],
        "organization_id": world.a.id,
        "organization_name": "株式会社テスト自動車",
        "subject_name": subject_name,
        "representative_name": representative_name,
        "subject_matches_organization": False,  # the files are ＡＩＮＡＳ自動車販売's
        "issuer": ISSUER,
        "serial_number": p12.serial_number,
        "not_before": "2026-03-02T09:00:00Z",
        "not_after": "2027-04-01T09:00:00Z",
        "fingerprint_sha256": p12.fingerprint,
        "key_type": key_type,
        "status": "active",
        "days_until_expiry": 365,
        "created_at": "2026-04-01T09:00:00Z",
        "created_by": "a.admin",
        "replaced_at": None,
        "updated_at": "2026-04-01T09:00:00Z",
        "version": 1,
    }
    read = await client.get(response.headers["location"], headers=world.a.admin.headers)
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == '"1"'
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"action": "certificate.register"},
        headers=world.a.admin.headers,
    )
    (event,) = events.json()["items"]
    assert event["resource"] == {"type": "certificate", "id": body["id"]}
    assert event["actor"] == {"kind": "user", "id": "a.admin"}
    # The public form, as registered: never the file or the password.
    recorded = {name: value for name, value in body.items() if name not in NOT_RECORDED}
    assert event["changes"] == {name: [None, value] for name, value in recorded.items()}


@pytest.mark.parametrize(
    ("factory", "code", "field"),
    [
        (files.expired, "certificate_expired", "file"),
        (files.not_yet_valid, "certificate_not_yet_valid", "file"),
        (files.rsa_1024, "certificate_key_too_weak", "file"),
        (files.ec_p224, "certificate_key_too_weak", "file"),
        (files.not_for_signing, "certificate_not_for_signing", "file"),
        (files.no_key, "certificate_key_missing", "file"),
        (files.key_mismatch, "certificate_key_mismatch", "file"),
        (files.garbage, "certificate_unreadable", "file"),
        (files.pem, "certificate_unreadable", "file"),
        (files.too_large, "certificate_too_large", "file"),
        (files.wrong_password, "certificate_password_incorrect", "password"),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
async def test_a_bad_file_is_refused_with_its_code_and_nothing_is_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    clock: ManualClock,
    factory: Factory,
    code: str,
    field: str,
) -> None:
    problem = await refused_without_a_trace(app, client, world.a, factory(clock.now()), 422, code)
    assert problem["status"] == 422
    # The OpenAPI document shows this very answer among the operation's examples.
    documented = REGISTER_OPERATION["responses"]["422"]["content"]["application/problem+json"]["examples"]
    assert {"code": code, "field": field} in [
        {"code": example["value"]["code"], "field": example["value"]["errors"][0]["field"]}
        for example in documented.values()
        if example["value"].get("errors")
    ]
    assert problem["type"] == f"urn:ainas:problem:{code}"
    (error,) = problem["errors"]
    assert error["field"] == field
    assert error["code"] == code
    assert error["message"] == problem["detail"]
    assert all(ord(character) < 128 for character in problem["detail"]) is False  # Japanese by default


async def test_refusals_name_what_is_wrong_in_english_too(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    cases: list[tuple[P12, str]] = [
        (
            files.expired(clock.now()),
            "The certificate expired at 2026-03-31 18:00 JST. Register the renewed certificate.",
        ),
        (
            files.rsa_1024(clock.now()),
            "The key is too weak (RSA-1024): RSA needs at least 2048 bits, elliptic curves P-256 or stronger.",
        ),
        (files.too_large(clock.now()), "The certificate file is too large (limit 65536 bytes)."),
    ]
    for p12, detail in cases:
        response = await upload(client, world.a.path, world.a.admin, p12, **{"Accept-Language": "en"})
        assert response.status_code == 422
        assert response.json()["detail"] == detail


async def test_a_serial_number_up_to_64_bytes_registers_and_a_longer_one_is_refused(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    """RFC 5280 allows 20 bytes; 64 are kept (128 hexadecimal digits); more is a clear 422, not a 500."""
    longest = files.long_serial(clock.now(), 64)
    registered = await register(client, world.a, longest)
    assert registered["serial_number"] == longest.serial_number
    assert len(registered["serial_number"]) == 128
    read = await client.get(f"{world.a.path}/certificates/{registered['id']}", headers=world.a.admin.headers)
    assert read.json()["serial_number"] == longest.serial_number
    problem = await refused_without_a_trace(
        app, client, world.b, files.long_serial(clock.now(), 65), 422, "certificate_serial_number_too_long"
    )
    (error,) = problem["errors"]
    assert error["field"] == "file"
    documented = REGISTER_OPERATION["responses"]["422"]["content"]["application/problem+json"]["examples"]
    assert "certificate_serial_number_too_long" in [
        example["value"]["code"] for example in documented.values()
    ]
    response = await upload(
        client, world.b.path, world.b.admin, files.long_serial(clock.now(), 65), **{"Accept-Language": "en"}
    )
    assert response.json()["detail"] == (
        "The certificate's serial number is longer than 64 bytes (RFC 5280 allows 20): it is not a "
        "certificate AINAS can sign with."
    )


async def test_an_iteration_count_bomb_is_refused_fast_while_another_organization_registers(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    """2^31-1 rounds named by the MAC: refused from the DER, before any child, so that one
    organization's loop of bombs keeps no slot from another's registration."""
    settings = app.state.runtime.settings
    settings.certificate_parse_concurrency, settings.certificate_parse_timeout_seconds = 1, 10.0
    bomb, good = files.costly(clock.now()), files.ec_p256(clock.now())

    async def timed(org: Org, p12: P12) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = await upload(client, org.path, org.admin, p12)
        return response, time.monotonic() - started

    answers = await asyncio.gather(*[timed(world.a, bomb) for _ in range(6)], timed(world.b, good))
    *bombs, (registered, _) = answers
    assert registered.status_code == 201, registered.text
    for response, seconds in bombs:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "certificate_unreadable"
        assert seconds < 3.0  # opening it would take the whole 10 s time limit
    assert registered.json()["fingerprint_sha256"] == good.fingerprint


async def test_a_file_too_costly_to_open_is_refused_in_bounded_time(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    """2^31 rounds of key derivation named by the file: refused, and the service still answers."""
    app.state.runtime.settings.certificate_parse_timeout_seconds = 3.0
    started = datetime.now()
    await refused_without_a_trace(
        app, client, world.a, files.costly(clock.now()), 422, "certificate_unreadable"
    )
    assert datetime.now() - started < timedelta(seconds=30)
    # The service still answers, and a good file still registers.
    await register(client, world.a, files.ec_p256(clock.now()))


async def test_the_second_registration_replaces_the_first(
    client: httpx.AsyncClient, world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await register(client, world.a, files.rsa_2048(clock.now()))
    clock.advance(timedelta(minutes=5))
    second = await register(client, world.a, files.ec_p256(clock.now()))
    headers = world.a.admin.headers
    old = (await client.get(f"{world.a.path}/certificates/{first['id']}", headers=headers)).json()
    assert old["status"] == "replaced"
    assert old["replaced_at"] == "2026-04-01T09:05:00Z"
    assert old["version"] == 2
    listed = (await client.get(f"{world.a.path}/certificates", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [second["id"], first["id"]]
    assert [item["status"] for item in listed["items"]] == ["active", "replaced"]
    assert listed["total"] == 2
    # Read from their columns (never the sealed ones), each item is what its single read answers.
    deep_from_the_second_item(monkeypatch, certificates_repository)
    cases: list[tuple[dict[str, str | int], int]] = [({}, 2), ({"sort": "not_after"}, 2), ({"offset": 1}, 1)]
    for params, count in cases:
        page = await client.get(f"{world.a.path}/certificates", params=params, headers=headers)
        items = await assert_listed_as_alone(
            client, page, Certificate, lambda item: f"{world.a.path}/certificates/{item['id']}", headers
        )
        assert len(items) == count, params
    organization = (await client.get(world.a.path, headers=headers)).json()
    assert organization["certificate"]["id"] == second["id"]
    events = await client.get(
        f"{world.a.path}/audit-events", params={"action": "certificate."}, headers=headers
    )
    in_order = sorted(events.json()["items"], key=lambda event: int(event["id"]))
    actions = [(event["action"], event["resource"]["id"]) for event in in_order]
    assert actions == [
        ("certificate.register", first["id"]),
        ("certificate.replace", first["id"]),
        ("certificate.register", second["id"]),
    ]
    assert in_order[1]["changes"] == {
        "status": ["active", "replaced"],
        "replaced_at": [None, "2026-04-01T09:05:00Z"],
    }
    register_event = in_order[2]
    assert register_event["changes"]["replaces"] == [None, first["id"]]


async def test_the_same_certificate_twice_is_a_conflict(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    p12 = files.ec_p256(clock.now())
    first = await register(client, world.a, p12)
    problem = await refused_without_a_trace(app, client, world.a, p12, 409, "certificate_already_registered")
    assert problem["status"] == 409
    documented = REGISTER_OPERATION["responses"]["409"]["content"]["application/problem+json"]["examples"]
    assert "certificate_already_registered" in [example["value"]["code"] for example in documented.values()]
    # Another organization may hold the same file (a group's shared certificate), and once
    # replaced, a certificate may be registered again (as a new registration).
    await register(client, world.b, p12)
    await register(client, world.a, files.rsa_2048(clock.now()))
    again = await register(client, world.a, p12)
    assert again["id"] != first["id"]
    assert again["fingerprint_sha256"] == first["fingerprint_sha256"]


async def test_a_chain_certificate_in_the_file_is_kept_but_not_required(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    key = files.ec_key("secp256r1", slot=3)
    cert = files.certificate(key, clock.now())
    alone = files.P12(files.export(key, cert, chain=None), files.PASSWORD, cert)
    assert (await register(client, world.a, alone))["fingerprint_sha256"] == alone.fingerprint


async def test_status_and_days_until_expiry_are_computed_when_read(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    start = clock.now()
    registered = await register(
        client, world.a, files.good(files.ec_key(), start, not_after=start + timedelta(days=10))
    )
    item = f"{world.a.path}/certificates/{registered['id']}"

    async def seen() -> tuple[str, int, Any]:
        headers = (await login(client, "a.admin", PASSWORD)).headers  # tokens expire as time moves
        body = (await client.get(item, headers=headers)).json()
        organization = (await client.get(world.a.path, headers=headers)).json()
        return body["status"], body["days_until_expiry"], organization["certificate"]["status"]

    assert await seen() == ("active", 10, "active")
    clock.advance(timedelta(days=9, hours=12))
    assert await seen() == ("active", 0, "active")
    clock.advance(timedelta(hours=12))  # exactly not_after: valid through it (RFC 5280)
    assert await seen() == ("active", 0, "active")
    clock.advance(timedelta(seconds=1))
    assert await seen() == ("expired", -1, "expired")
    clock.advance(timedelta(days=3))
    assert await seen() == ("expired", -4, "expired")


async def test_operators_list_what_expires_soon_across_organizations(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    now = clock.now()
    soon_replaced = await register(
        client, world.a, files.good(files.ec_key(), now, not_after=now + timedelta(days=5, hours=1))
    )
    clock.advance(timedelta(seconds=1))
    in_use = await register(
        client, world.a, files.good(files.ec_key(), now, not_after=now + timedelta(days=20, hours=1))
    )
    clock.advance(timedelta(seconds=1))
    later = await register(
        client, world.b, files.good(files.ec_key(), now, not_after=now + timedelta(days=200, hours=1))
    )

    async def listed(**params: Any) -> list[str]:
        operator = (
            await login(client, "operator1", OPERATOR_PASSWORD)
        ).headers  # tokens expire as time moves
        response = await client.get("/api/v1/certificates", params=params, headers=operator)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed() == [soon_replaced["id"], in_use["id"], later["id"]]  # soonest expiry first
    assert await listed(expires_within_days=19) == []
    assert await listed(expires_within_days=20) == [in_use["id"]]
    assert await listed(expires_within_days=365) == [in_use["id"], later["id"]]
    assert await listed(status="replaced") == [soon_replaced["id"]]
    assert await listed(status=["active", "replaced"], sort="-created_at") == [
        later["id"],
        in_use["id"],
        soon_replaced["id"],
    ]
    clock.advance(timedelta(days=21))
    assert await listed(expires_within_days=0) == [in_use["id"]]  # expired, not replaced: still to remind
    assert await listed(status="expired") == [in_use["id"]]
    operator = (await login(client, "operator1", OPERATOR_PASSWORD)).headers
    body = (
        await client.get("/api/v1/certificates", params={"expires_within_days": 0}, headers=operator)
    ).json()
    assert body["items"][0]["organization_id"] == world.a.id
    assert body["items"][0]["organization_name"] == "株式会社テスト自動車"  # whom to remind
    assert body["items"][0]["days_until_expiry"] == -1
    refused = await client.get("/api/v1/certificates", params={"expires_within_days": -1}, headers=operator)
    assert refused.status_code == 422
    admin = await login(client, "a.admin", PASSWORD)
    assert (await client.get("/api/v1/certificates", headers=admin.headers)).status_code == 403


@pytest.mark.parametrize(
    ("organization_name", "matches"),
    [
        ("株式会社ＡＩＮＡＳ自動車販売", True),
        ("ＡＩＮＡＳ自動車販売", True),  # without the legal form
        ("（株）ＡＩＮＡＳ自動車販売", True),
        ("株式会社ａｉｎａｓ　自動車販売", True),  # case and spaces
        ("株式会社テスト自動車", False),  # another company: flagged, not refused
    ],
)
async def test_a_subject_of_another_company_is_flagged_not_refused(
    client: httpx.AsyncClient, world: World, clock: ManualClock, organization_name: str, matches: bool
) -> None:
    renamed = await client.patch(
        world.a.path, json={"name": organization_name}, headers=world.a.admin.headers
    )
    assert renamed.status_code == 200, renamed.text
    registered = await register(client, world.a, files.good(files.ec_key(), clock.now()))
    assert registered["organization_name"] == organization_name
    assert registered["subject_matches_organization"] is matches
    organization = await client.get(world.a.path, headers=world.a.admin.headers)
    assert organization.json()["certificate"]["subject_matches_organization"] is matches


async def test_deleting_destroys_the_sealed_secrets_and_audits_the_metadata(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    p12 = files.rsa_2048(clock.now())
    registered = await register(client, world.a, p12)
    item = f"{world.a.path}/certificates/{registered['id']}"
    headers = world.a.admin.headers
    stale = await client.delete(item, headers={**headers, "If-Match": '"7"'})
    assert stale.status_code == 412
    deleted = await client.delete(item, headers={**headers, "If-Match": '"1"'})
    assert deleted.status_code == 204
    assert (await client.get(item, headers=headers)).status_code == 404
    assert (await client.get(world.a.path, headers=headers)).json()["certificate"] is None
    async with app.state.runtime.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT count(*) FROM certificates"))).scalar()
    assert rows == 0
    events = await client.get(
        f"{world.a.path}/audit-events", params={"action": "certificate.delete"}, headers=headers
    )
    (event,) = events.json()["items"]
    assert event["resource"] == {"type": "certificate", "id": registered["id"]}
    assert event["changes"]["fingerprint_sha256"] == [p12.fingerprint, None]
    assert event["changes"]["subject_name"] == [files.ORGANIZATION, None]
    assert event["changes"]["status"] == ["active", None]
    assert event["changes"]["not_after"] == [registered["not_after"], None]
    assert set(event["changes"]) == set(registered) - NOT_RECORDED


async def test_the_organization_answer_shows_the_certificate_to_operators_and_admins_only(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    admin = await client.get(world.a.path, headers=world.a.admin.headers)
    assert admin.json()["certificate"] is None
    registered = await register(client, world.a, files.ec_p256(clock.now()))
    for headers in (world.a.admin.headers, world.operator.headers):
        body = (await client.get(world.a.path, headers=headers)).json()
        assert body["certificate"]["id"] == registered["id"]
        assert body["certificate"]["subject_name"] == files.ORGANIZATION
    for headers in (
        world["location_admin_all"].headers,
        world["staff_submitter_l1"].headers,
        world.a.basic(),
    ):
        response = await client.get(world.a.path, headers=headers)
        assert response.status_code == 200
        assert "certificate" not in response.json()
    renamed = await client.patch(
        world.a.path,
        json={"short_name": "改名"},
        headers={**world.a.admin.headers, "If-Match": admin.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["certificate"]["id"] == registered["id"]
    listed = await client.get("/api/v1/organizations", headers=world.operator.headers)
    assert all("certificate" not in item for item in listed.json()["items"])


async def test_other_organizations_and_other_roles_cannot_reach_a_certificate(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    registered = await register(client, world.a, files.ec_p256(clock.now()))
    item = f"{world.a.path}/certificates/{registered['id']}"
    assert (await client.get(item, headers=world.b.admin.headers)).status_code == 404
    assert (
        await client.get(f"{world.b.path}/certificates/{registered['id']}", headers=world.b.admin.headers)
    ).status_code == 404
    assert (
        await client.get(f"{world.b.path}/certificates/{registered['id']}", headers=world.operator.headers)
    ).status_code == 404
    for headers in (
        world["location_admin_all"].headers,
        world["staff_submitter_l1"].headers,
        world.a.basic(),
    ):
        assert (await client.get(item, headers=headers)).status_code == 403
        assert (await client.get(f"{world.a.path}/certificates", headers=headers)).status_code == 403
    assert (
        await client.get(
            item.lower().replace(world.a.path.lower(), world.a.path), headers=world.a.admin.headers
        )
    ).status_code == 200
    assert (
        await client.get(f"{world.a.path}/certificates/not-an-id", headers=world.a.admin.headers)
    ).status_code == 404


async def test_the_upload_is_multipart_with_a_file_and_a_password(
    client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    path = f"{world.a.path}/certificates"
    headers = world.a.admin.headers
    as_json = await client.post(path, json={"file": "x", "password": "y"}, headers=headers)
    assert as_json.status_code == 415
    assert as_json.json()["code"] == "multipart_required"
    p12 = files.ec_p256(clock.now())
    no_password = await client.post(path, files={"file": ("a.p12", p12.data)}, headers=headers)
    assert no_password.status_code == 422
    assert [(error["field"], error["code"]) for error in no_password.json()["errors"]] == [
        ("password", "missing")
    ]
    extra = await client.post(
        path,
        files={"file": ("a.p12", p12.data)},
        data={"password": p12.password, "note": "x"},
        headers=headers,
    )
    assert extra.status_code == 422
    assert [(error["field"], error["code"]) for error in extra.json()["errors"]] == [
        ("note", "extra_forbidden")
    ]
    unauthenticated = await client.post(path, json={})
    assert unauthenticated.status_code == 401


async def test_swagger_ui_gets_a_file_picker(app: FastAPI) -> None:
    document = app.openapi()
    body = document["paths"]["/api/v1/organizations/{org_id}/certificates"]["post"]["requestBody"]
    schema_ref = body["content"]["multipart/form-data"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert schema["properties"]["file"]["format"] == "binary"
    assert schema["properties"]["password"]["format"] == "password"
    assert schema["required"] == ["file", "password"]
