"""Guessing in bursts against a real `ainas serve` process, on SQLite and PostgreSQL (SPEC §5.1):
of any number of simultaneous wrong passwords at most the threshold are checked; the rest are
refused unchecked; the lock then refuses the right password too, but does not end the owner's
tokens; a linked system that knows its password keeps working while its key id is throttled.

"Checked" is counted from the audit trail: every attempt whose password was compared with the
hash is recorded with the reason `wrong_password` (`wrong_api_password`); a refused one is
recorded as `locked` (`throttled`).
"""

from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fixtures.bursts import at_once
from tests.fixtures.world import PASSWORD
from tests.reliability.live import LiveServer, LiveSession, started_server
from tests.security.bursts import audit_reasons, basic_read, password_login
from tests.security.leaks import LeakScanner

BURST = 30
THRESHOLD = 5  # the default of AINAS_LOCKOUT_THRESHOLD and AINAS_API_KEY_FAILURE_THRESHOLD


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server process per database, on a database of its own, for the whole module."""
    # Hashing turns for every attempt of a burst: the claims race each other for real, rather
    # than two at a time behind the default two turns.
    # A pool of 16 still lets 16 claims race, and leaves the shared PostgreSQL connections.
    racing = {"AINAS_HASH_CONCURRENCY": str(BURST + 10), "AINAS_DB_POOL_SIZE": "16"}
    directory = tmp_path_factory.mktemp(f"bursts-{request.param}")
    with started_server(request.param, directory, racing) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer, leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, leaks) as session:
        yield session


async def test_thirty_wrong_passwords_at_once_check_at_most_the_threshold(live: LiveSession) -> None:
    world = await live.start()
    owner = world["staff_submitter_l1"]
    answers = at_once(
        live.server.base_url,
        [password_login(owner.login_id, f"wrong guess {n}") for n in range(BURST)],
        world.operator.headers,
    )
    checked = await audit_reasons(live, "auth.login_failed", owner.login_id)
    assert checked == {"wrong_password": THRESHOLD, "locked": BURST - THRESHOLD}, checked
    codes = Counter(answer.json()["code"] for answer in answers)
    # The first four checked are wrong passwords; the fifth locks; the rest find the lock.
    assert codes == {"invalid_credentials": THRESHOLD - 1, "account_locked": BURST - THRESHOLD + 1}, codes
    assert await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'user.lockout'") == 1
    # Locked: the right password is refused too.
    right = await live.http.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": owner.login_id, "password": PASSWORD},
    )
    assert right.json()["code"] == "account_locked"
    # The owner's login from before the lock goes on: its token and its refresh token work.
    assert (await live.http.get("/api/v1/me", headers=owner.headers)).status_code == 200
    refreshed = await live.http.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": owner.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_the_right_password_within_a_burst_of_wrong_ones(live: LiveSession) -> None:
    """Whatever order they run in: the right password is checked like any other, at most one
    login succeeds, and a success (which starts the count again) lets at most the threshold of
    wrong passwords be checked after it. Once the lock stands, the right password is refused."""
    world = await live.start()
    owner = world["staff_preparer_l1"]
    attempts = [password_login(owner.login_id, f"wrong guess {n}") for n in range(BURST - 1)]
    attempts.insert(BURST // 2, password_login(owner.login_id, PASSWORD))
    count_logins = "SELECT count(*) FROM audit_events WHERE action = 'auth.login' AND resource_id = :login_id"
    before = await live.scalar(count_logins, login_id=owner.login_id)
    answers = at_once(live.server.base_url, attempts, world.operator.headers)
    reasons = await audit_reasons(live, "auth.login_failed", owner.login_id)
    logins = await live.scalar(count_logins, login_id=owner.login_id) - before
    assert logins == sum(answer.status_code == 200 for answer in answers) <= 1
    assert reasons["wrong_password"] <= THRESHOLD * (1 + logins), (reasons, logins)
    assert reasons["wrong_password"] + reasons["locked"] + logins == BURST, (reasons, logins)
    locked = await live.scalar(
        "SELECT count(*) FROM users WHERE login_id = :login_id AND locked_until IS NOT NULL",
        login_id=owner.login_id,
    )
    right = await live.http.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": owner.login_id, "password": PASSWORD},
    )
    assert right.status_code == (400 if locked else 200), (reasons, logins, right.text)


async def test_thirty_wrong_api_passwords_at_once_while_the_linked_system_works(live: LiveSession) -> None:
    world = await live.start()
    org = world.a
    locations = f"{org.path}/locations"
    # The linked system has authenticated before (its keyed digest is known).
    assert (await live.http.get(locations, headers=org.basic())).status_code == 200
    guesses = [basic_read(locations, org.api_key, f"wrong api guess {n}") for n in range(BURST)]
    rightful = [basic_read(locations, org.api_key, org.api_password) for _ in range(10)]
    answers = at_once(live.server.base_url, guesses + rightful, world.operator.headers)
    guessed, right = answers[:BURST], answers[BURST:]
    checked = await audit_reasons(live, "auth.api_key_failed")
    assert checked == {"wrong_api_password": THRESHOLD, "throttled": BURST - THRESHOLD}, checked
    assert Counter(answer.status_code for answer in guessed) == {
        401: THRESHOLD - 1,
        429: BURST - THRESHOLD + 1,
    }
    assert all(int(a.headers["retry-after"]) > 0 for a in guessed if a.status_code == 429)
    # Right credentials passed throughout, and still do; the guesser stays throttled.
    assert [answer.status_code for answer in right] == [200] * len(right)
    assert (await live.http.get(locations, headers=org.basic())).status_code == 200
    token = await live.http.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.api_key,
            "client_secret": org.api_password,
        },
    )
    assert token.status_code == 200
    again = await live.http.get(locations, auth=(org.api_key, "one more guess"))
    assert again.status_code == 429


async def test_guesses_spread_over_two_keys_share_the_organizations_count(live: LiveSession) -> None:
    """More keys must not mean more guesses: the threshold counts the organization's keys together,
    exactly, also when the guesses at both keys arrive at once."""
    world = await live.start()
    org = world.a
    second = await live.http.post(f"{org.path}/api-keys", json={}, headers=org.admin.headers)
    assert second.status_code == 201
    locations = f"{org.path}/locations"
    guesses = [
        basic_read(locations, org.api_key if n % 2 else second.json()["key"], f"guess {n}")
        for n in range(BURST)
    ]
    answers = at_once(live.server.base_url, guesses, world.operator.headers)
    checked = await audit_reasons(live, "auth.api_key_failed")
    assert checked == {"wrong_api_password": THRESHOLD, "throttled": BURST - THRESHOLD}, checked
    assert Counter(answer.status_code for answer in answers) == {
        401: THRESHOLD - 1,
        429: BURST - THRESHOLD + 1,
    }


async def test_a_token_from_before_the_burst_outlives_the_lock(live: LiveSession) -> None:
    """The owner of a login ID under attack keeps working with the token it had."""
    world = await live.start()
    owner = world["location_admin_l1"]
    at_once(
        live.server.base_url,
        [password_login(owner.login_id, f"guess {n}") for n in range(BURST)],
        world.operator.headers,
    )
    users = await live.http.get(f"{world.a.path}/users", headers=owner.headers)
    assert users.status_code == 200
    listed = {user["login_id"]: user for user in users.json()["items"]}
    assert listed[owner.login_id]["locked_until"] is not None  # locked, and still served
    assert isinstance(users, httpx.Response)
