"""The certificate's file and password are secrets (SPEC §2.6): stored only sealed, bound to their
organization and certificate, and never in an answer, a log line, an audit event or an
idempotency record. Every answer and log line of these tests also goes through the shared leak
scanner (tests/security/leaks.py)."""

import json
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.config.clock import ManualClock
from tests.certificates.helpers import register
from tests.fixtures import certificates as files
from tests.fixtures.certificates import P12, encodings, upload
from tests.fixtures.world import World
from tests.security.leaks import LeakScanner, client, leaks
from tests.security.state import snapshot

__all__ = ["client", "leaks"]


def needles(p12: P12) -> dict[str, bytes]:
    """The password, and the file in every encoding a leak could take."""
    found = {f"file {name}": value for name, value in encodings(p12.data).items()}
    found["password"] = p12.password.encode()
    found["password (UTF-16)"] = p12.password.encode("utf-16-be")
    return found


def cell_bytes(value: Any) -> bytes:
    """A database value as bytes to search: binary as stored, text as UTF-8, JSON as written."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def learn(leaks: LeakScanner, p12: P12) -> None:
    """Teach the shared scanner the password and the text encodings of the file."""
    leaks.learn(p12.password, "certificate password")
    for name, value in encodings(p12.data).items():
        if name != "raw":
            leaks.learn(value.decode(), f"certificate file ({name})")


async def test_no_answer_log_line_audit_event_or_record_holds_the_file_or_password(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock, leaks: LeakScanner
) -> None:
    answers: list[bytes] = []

    async def keep(response: httpx.Response) -> None:
        answers.append(b"\n".join([str(response.headers).encode(), await response.aread()]))

    client.event_hooks["response"].append(keep)
    kept, other, wrong = (
        files.rsa_2048(clock.now()),
        files.ec_p256(clock.now()),
        files.wrong_password(clock.now()),
    )
    for p12 in (kept, other, wrong):
        learn(leaks, p12)
    headers = world.a.admin.headers
    path = world.a.path

    first = await upload(client, path, world.a.admin, kept, **{"Idempotency-Key": "certificate-upload-1"})
    assert first.status_code == 201, first.text
    # A retry of the same upload: httpx, like curl and browsers, draws a new multipart boundary.
    retried = await upload(client, path, world.a.admin, kept, **{"Idempotency-Key": "certificate-upload-1"})
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == first.json()
    reused = await upload(client, path, world.a.admin, other, **{"Idempotency-Key": "certificate-upload-1"})
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert (await upload(client, path, world.a.admin, wrong)).status_code == 422
    assert (await upload(client, path, world.a.admin, files.garbage(clock.now()))).status_code == 422
    certificate = first.json()["id"]
    for read in (
        f"{path}/certificates",
        f"{path}/certificates/{certificate}",
        f"{path}/certificates/{certificate}/verification",
        path,
        f"{path}/audit-events",
    ):
        assert (await client.get(read, headers=headers)).status_code == 200
    assert (await client.get("/api/v1/certificates", headers=world.operator.headers)).status_code == 200
    second = await register(client, world.a, other)
    deleted = await client.delete(f"{path}/certificates/{second['id']}", headers=headers)
    assert deleted.status_code == 204

    found = []
    database = await snapshot(app.state.runtime.engine)
    assert database["idempotency_records"], "the upload's answer is kept for replays"
    assert database["audit_events"]
    for p12 in (kept, other, wrong):
        for name, needle in needles(p12).items():
            found += [f"answer {number}: {name}" for number, answer in enumerate(answers) if needle in answer]
            found += [f"log line: {name}" for line in leaks.log_lines if needle in line.encode()]
            found += [
                f"table {table}: {name}"
                for table, rows in database.items()
                for row in rows
                for cell in row
                if needle in cell_bytes(cell)
            ]
    assert found == []
    assert len(answers) == 13  # every answer of the test was scanned


async def test_a_sealed_value_copied_to_another_row_does_not_open(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    a = await register(client, world.a, files.rsa_2048(clock.now()))
    b = await register(client, world.b, files.ec_p256(clock.now()))
    verify_a = f"{world.a.path}/certificates/{a['id']}/verification"
    verify_b = f"{world.b.path}/certificates/{b['id']}/verification"
    opened = await client.get(verify_a, headers=world.a.admin.headers)
    assert opened.status_code == 200
    assert opened.json() == {
        "certificate_id": a["id"],
        "fingerprint_sha256": a["fingerprint_sha256"],
        "checked_at": "2026-04-01T09:00:00Z",
    }
    assert (await client.get(verify_b, headers=world.b.admin.headers)).status_code == 200

    async with app.state.runtime.engine.begin() as connection:
        # Organization A's sealed file and password (and their key) put in organization B's row.
        await connection.execute(
            text(
                "UPDATE certificates SET sealed_file = (SELECT sealed_file FROM certificates WHERE id = :a), "
                "sealed_password = (SELECT sealed_password FROM certificates WHERE id = :a), "
                "key_id = (SELECT key_id FROM certificates WHERE id = :a) WHERE id = :b"
            ),
            {"a": a["id"], "b": b["id"]},
        )
    moved = await client.get(verify_b, headers={**world.b.admin.headers, "Accept-Language": "en"})
    assert moved.status_code == 409
    assert moved.headers["content-type"] == "application/problem+json"
    assert moved.json()["code"] == "certificate_secret_unreadable"
    assert "Register the certificate again" in moved.json()["detail"]
    assert (await client.get(verify_a, headers=world.a.admin.headers)).status_code == 200

    async with app.state.runtime.engine.begin() as connection:
        # Within one row: the password's ciphertext in the file's place does not open either.
        await connection.execute(
            text(
                "UPDATE certificates SET sealed_file = sealed_password, sealed_password = sealed_file WHERE id = :a"
            ),
            {"a": a["id"]},
        )
    swapped = await client.get(verify_a, headers=world.a.admin.headers)
    assert swapped.status_code == 409
    assert swapped.json()["code"] == "certificate_secret_unreadable"
    # The rest of the API is unaffected: the certificates are still listed and readable.
    listed = await client.get(f"{world.b.path}/certificates", headers=world.b.admin.headers)
    assert [item["id"] for item in listed.json()["items"]] == [b["id"]]
