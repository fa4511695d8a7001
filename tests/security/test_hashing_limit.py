"""Bounded hashing (SPEC §5.1): at most `hash_concurrency` argon2 computations at once per process;
beyond that a request waits up to `hash_wait_seconds`, then answers 503 with Retry-After.

The hasher is the production PasswordHasher, built on a counting context (real argon2 inside,
each computation slowed to a production-like 0.1-0.3 s) injected through the runtime.
"""

import asyncio
from collections import Counter

import httpx
from fastapi import FastAPI

from tests.fixtures.hashing import CountingContext
from tests.fixtures.principals import OPERATOR_PASSWORD, create_operator, login, token_response
from tests.fixtures.world import World, post_user

PARALLEL = 12


async def test_a_flood_of_unknown_ids_hashes_at_most_the_limit_at_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # A long wait: this test is about how many hash at once, not about the wait (below).
    counting = CountingContext.install(app, delay_seconds=0.1, hash_wait_seconds=60)
    limit = app.state.runtime.settings.hash_concurrency
    assert limit == 2  # the default: one per core of a 2-core machine
    answers = await asyncio.gather(
        *(token_response(client, f"nobody.{n}", "not a password") for n in range(PARALLEL))
    )
    # Everyone waited for a turn and was answered as any unknown ID, after the same one check each.
    assert Counter(answer.status_code for answer in answers) == {400: PARALLEL}
    assert counting.calls == PARALLEL
    assert counting.peak == limit


async def test_beyond_the_wait_the_answer_is_503_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await create_operator(app)
    counting = CountingContext.install(app, delay_seconds=0.5, hash_wait_seconds=0.1)
    answers = await asyncio.gather(
        *(
            token_response(client, "operator1", f"wrong guess {n}", **{"Accept-Language": "en"})
            for n in range(6)
        )
    )
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses[503] >= 3, statuses
    assert counting.peak <= 2
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["code"] == "server_busy"
    assert busy.json()["error"] == "temporarily_unavailable"
    assert "password checks" in busy.json()["detail"]
    # An attempt that found no turn was not counted: the owner is not locked out by the load.
    assert counting.calls == statuses[400]
    assert (await token_response(client, "operator1", OPERATOR_PASSWORD)).status_code == 200


async def test_every_kind_of_password_work_takes_a_turn(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    """Logins, password changes, new users, linked systems' first checks: all within the limit."""
    counting = CountingContext.install(app, delay_seconds=0.05, hash_wait_seconds=60)
    admin = await login(client, "a.admin", "correct horse battery staple")
    work = [
        token_response(client, "a.admin", "correct horse battery staple"),
        post_user(client, world.a, admin.headers, "new.staff", "新人", "staff_preparer", location_code="L1"),
        client.post(f"{world.a.path}/users/submitter.l1/password-reset", headers=admin.headers),
        client.get(f"{world.a.path}/locations", headers=world.a.basic()),
        client.put(
            "/api/v1/me/password",
            json={"current_password": "correct horse battery staple", "new_password": "a new passphrase 2"},
            headers=world["staff_preparer_l1"].headers,
        ),
        *(token_response(client, f"nobody.{n}", "x" * 20) for n in range(4)),
    ]
    answers = await asyncio.gather(*work)
    assert [answer.status_code for answer in answers[:5]] == [200, 201, 200, 200, 204]
    assert counting.calls + counting.hashes >= 10
    assert counting.peak == 2
