"""Opening files in child processes: bounded in time and in number, and nothing but facts comes back."""

import asyncio
import time
from datetime import UTC, datetime

from app.certificates.inspection import (
    KEY_MISSING,
    PASSWORD_INCORRECT,
    TOO_COSTLY,
    UNREADABLE,
    ChildrenBusy,
    inspect_in_child,
)
from tests.fixtures import certificates as files


async def test_the_child_answers_the_facts_of_the_file() -> None:
    now = datetime.now(UTC)
    p12 = files.bmp_names(now)
    opened = await inspect_in_child(p12.data, p12.password, 30, 2)
    assert opened.outcome == "opened"
    assert opened.facts is not None
    assert opened.facts.fingerprint_sha256 == p12.fingerprint
    assert opened.facts.subject_organization == files.ORGANIZATION
    assert opened.facts.subject_common_name == files.REPRESENTATIVE
    assert (opened.facts.key_algorithm, opened.facts.key_bits, opened.facts.curve) == ("EC", 256, "secp256r1")
    assert opened.facts.digital_signature is True
    for p12, outcome in (
        (files.wrong_password(now), PASSWORD_INCORRECT),
        (files.no_key(now), KEY_MISSING),
        (files.pem(now), UNREADABLE),
        (files.P12(b"", "x"), UNREADABLE),
    ):
        assert (await inspect_in_child(p12.data, p12.password, 30, 2)).outcome == outcome


async def test_a_costly_file_is_stopped_at_the_time_limit() -> None:
    p12 = files.costly(datetime.now(UTC))
    started = time.monotonic()
    assert (await inspect_in_child(p12.data, p12.password, 2, 2)).outcome == TOO_COSTLY
    assert time.monotonic() - started < 10


async def test_when_every_slot_stays_taken_the_next_file_waits_then_gives_up() -> None:
    now = datetime.now(UTC)
    costly, good = files.costly(now), files.ec_p256(now)
    holding = asyncio.create_task(inspect_in_child(costly.data, costly.password, 3, 1))
    await asyncio.sleep(0.1)  # the costly file holds the only slot for 3 seconds
    started = time.monotonic()
    try:
        await inspect_in_child(good.data, good.password, 0.5, 1)
    except ChildrenBusy:
        waited = time.monotonic() - started
    else:
        raise AssertionError("the second file should not have found a free slot")
    assert 0.4 < waited < 2.5
    assert (await holding).outcome == TOO_COSTLY
    # The slot is free again.
    assert (await inspect_in_child(good.data, good.password, 30, 1)).outcome == "opened"


async def test_an_owner_opens_one_file_at_a_time_and_takes_no_slot_from_others() -> None:
    now = datetime.now(UTC)
    costly, good = files.costly(now), files.ec_p256(now)
    holding = asyncio.create_task(inspect_in_child(costly.data, costly.password, 3, 2, owner=1))
    await asyncio.sleep(0.1)  # organization 1's costly file holds one of two slots for 3 seconds
    started = time.monotonic()
    try:
        await inspect_in_child(good.data, good.password, 0.5, 2, owner=1)
    except ChildrenBusy:
        waited = time.monotonic() - started
    else:
        early = holding.result().outcome if holding.done() else "still running"
        raise AssertionError(f"organization 1's second file should have waited for its first ({early})")
    assert 0.4 < waited < 2.5
    # Another organization opens at once, on the slot left free (and is not kept from it by the
    # files organization 1 has waiting).
    waiting = asyncio.create_task(inspect_in_child(good.data, good.password, 5, 2, owner=1))
    assert (await inspect_in_child(good.data, good.password, 30, 2, owner=2)).outcome == "opened"
    assert not holding.done()
    assert (await holding).outcome == TOO_COSTLY
    assert (await waiting).outcome == "opened"
