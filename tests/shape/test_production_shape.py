"""The production shape under a rolling restart and a crash (SPEC §6): HAProxy in front of two
instances that reach PostgreSQL through PgBouncer (transaction pooling), as bench/shape.py starts
them. Writers create locations with Idempotency-Keys, retrying on connection errors, 502 and 503;
a follower long-polls the change feed. Meanwhile one instance gets SIGTERM (drains) and the other
SIGKILL (loses whatever it was doing), and both come back. Then: every write was acknowledged,
exists once, and reached the follower exactly once, in the order each writer made them.

About a minute on the shared 2-core machine (mostly instances starting); `AINAS_SHAPE_SOAK=1` runs many more writes (minutes).
"""

import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.cli import migrate
from bench.shape import Shape, production_shape
from tests.acceptance.server import AINAS, onboard
from tests.fixtures.database import scratch_postgres_database

SOAK = os.environ.get("AINAS_SHAPE_SOAK") == "1"
WRITERS = 3
WRITES = 120 if SOAK else 14
RETRY_SECONDS = 60  # one write may retry this long (an instance restarts in 10-25 s when loaded)
RETRYABLE = {502, 503, 504}
OPERATOR = "shape.ops"
OPERATOR_PASSWORD = "shape operator passphrase"


@dataclass
class Outcome:
    """What a writer saw: the codes acknowledged, in order, and failures after retries."""

    acknowledged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    retries: int = 0


def with_retries(call: Callable[[], httpx.Response], outcome: Outcome) -> httpx.Response | None:
    """The first answer that is not a transport error, 502/503/504 or a retry still running."""
    deadline = time.monotonic() + RETRY_SECONDS
    while time.monotonic() < deadline:
        try:
            response = call()
        except httpx.TransportError:
            outcome.retries += 1
            time.sleep(0.1)
            continue
        in_progress = response.status_code == 409 and response.json().get("code") == "idempotency_in_progress"
        if response.status_code in RETRYABLE or in_progress:
            outcome.retries += 1
            time.sleep(0.1)
            continue
        return response
    return None


@pytest.fixture(scope="module")
def shape(programs: dict[str, str]) -> Iterator[Shape]:
    """The shape on a database of its own (PgBouncer and HAProxy installed: `programs`)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AINAS_")}
    env.update(
        {
            "AINAS_ENVIRONMENT": "test",
            "AINAS_ARGON2_MEMORY_KIB": "64",
            "AINAS_ARGON2_TIME_COST": "1",
            "AINAS_LOG_LEVEL": "WARNING",
            "AINAS_SHUTDOWN_GRACE_S": "5",
            "AINAS_DB_POOL_SIZE": "8",
            "AINAS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
    )
    env["AINAS_SECRET_KEY"] = secrets.token_urlsafe(48)
    env["AINAS_CERTIFICATE_KEY"] = secrets.token_urlsafe(32)
    with scratch_postgres_database("ainas_shape") as url:
        migrate(url)
        # The operator is made while the instances start (each command imports the application).
        operator = subprocess.Popen(  # noqa: S603 (our own executable, fixed arguments)
            [AINAS, "create-operator", OPERATOR],
            env={**env, "DATABASE_URL": url},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert operator.stdin is not None
        assert operator.stdout is not None
        operator.stdin.write(f"{OPERATOR_PASSWORD}\n")
        operator.stdin.close()
        try:
            with production_shape(url, env, migrate=False) as started:
                assert operator.wait(120) == 0, operator.stdout.read()
                yield started
        finally:
            if operator.poll() is None:
                operator.kill()


def test_writes_survive_a_drain_and_a_crash_and_reach_the_follower_once_in_order(shape: Shape) -> None:
    url = shape.url
    issued = httpx.post(
        f"{url}/api/v1/auth/token",
        data={"grant_type": "password", "username": OPERATOR, "password": OPERATOR_PASSWORD},
        timeout=30,
    )
    operator = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    notice = onboard(url, operator, "株式会社構成試験", "構成試験", "shape.admin", "構成 管理")
    org = f"{url}/api/v1/organizations/{notice['organization_id']}"
    basic = (notice["api_key"], notice["api_initial_password"])
    cursor = httpx.get(f"{org}/changes", auth=basic, timeout=30).json()["next_cursor"]

    done = threading.Event()
    seen: list[str] = []
    follower = Outcome()

    def follow() -> None:
        nonlocal cursor
        while not done.is_set():
            answer = with_retries(
                lambda after=cursor: httpx.get(
                    f"{org}/changes", params={"after": after, "wait": 3}, auth=basic, timeout=30
                ),
                follower,
            )
            if answer is None or answer.status_code != 200:
                follower.failures.append(repr(answer and (answer.status_code, answer.text)))
                return
            body: dict[str, Any] = answer.json()
            seen.extend(
                item["resource"]["id"] for item in body["items"] if item["action"] == "location.created"
            )
            cursor = body["next_cursor"]

    outcomes = [Outcome() for _ in range(WRITERS)]

    def write(number: int) -> None:
        outcome = outcomes[number]
        for index in range(WRITES):
            code = f"W{number}{index:04d}"
            key = {**operator, "Idempotency-Key": secrets.token_hex(16)}
            body = {"code": code, "name": "構成拠点", "short_name": "構成"}
            answer = with_retries(
                lambda body=body, key=key: httpx.post(f"{org}/locations", json=body, headers=key, timeout=30),
                outcome,
            )
            if answer is None or answer.status_code != 201 or answer.json()["code"] != code:
                outcome.failures.append(f"{code}: {answer and (answer.status_code, answer.text)}")
                continue
            outcome.acknowledged.append(code)
            time.sleep(0.05 if not SOAK else 0.01)

    reader = threading.Thread(target=follow)
    writers = [threading.Thread(target=write, args=(number,)) for number in range(WRITERS)]
    reader.start()
    for writer in writers:
        writer.start()

    first, second = shape.instances
    time.sleep(1.0)
    first.signal(signal.SIGTERM)  # drains: in-flight requests finish, long polls answer at once
    assert first.wait(30) is not None
    first.launch()
    time.sleep(0.5)
    # A crash while the other one restarts: for a while no instance answers (HAProxy: 503).
    second.signal(signal.SIGKILL)  # whatever it held is lost, nothing acknowledged
    assert second.wait(10) is not None
    second.launch()
    first.wait_until_up()
    second.wait_until_up()
    for writer in writers:
        writer.join(RETRY_SECONDS * WRITES)

    expected = [code for outcome in outcomes for code in outcome.acknowledged]
    deadline = time.monotonic() + 30
    while len(seen) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    done.set()
    reader.join(30)

    assert [outcome.failures for outcome in outcomes] == [[]] * WRITERS
    assert follower.failures == []
    assert [len(outcome.acknowledged) for outcome in outcomes] == [WRITES] * WRITERS
    # Exactly once each, and each writer's changes in the order it made them.
    assert sorted(seen) == sorted(expected)
    for number, outcome in enumerate(outcomes):
        assert [code for code in seen if code.startswith(f"W{number}")] == outcome.acknowledged
    stored: list[str] = []
    offset = 0
    while True:
        page = httpx.get(
            f"{org}/locations", params={"limit": 100, "offset": offset}, headers=operator, timeout=30
        ).json()
        stored.extend(item["code"] for item in page["items"])
        if len(page["items"]) < 100:
            break
        offset += 100
    assert sorted(stored) == sorted(expected)
