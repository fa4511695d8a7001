"""Messages (SPEC §5.7): signed as Standard Webhooks say, in feed order per endpoint, retried,
given up, disabled; re-enabling and recovering resume where delivery stopped."""

from datetime import timedelta

import httpx
from fastapi import FastAPI
from standardwebhooks import Webhook

from app.config.clock import ManualClock
from app.webhooks.worker import RECORD_EVERY
from tests.fixtures.world import World
from tests.webhooks.helpers import add_location, create_endpoint, drain, log_in_again
from tests.webhooks.receiver import Receiver, receiving


async def test_a_change_is_sent_signed_and_verifies_with_the_standard_library(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    with receiving() as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        location = await add_location(client, world.a, 1)
        await drain(app)
    assert len(receiver.received) == 1
    message = receiver.received[0]
    verified = Webhook(endpoint["secret"]).verify(message.body, message.headers)
    assert verified["type"] == "location.created"
    entry = verified["data"]
    assert entry["action"] == "location.created"
    assert entry["resource"] == {"type": "location", "id": location["code"]}
    assert entry["data"] == location
    assert verified["timestamp"] == entry["at"]
    # The cursor is the feed's: following the feed from it gives what came after this message.
    feed = await client.get(
        f"{world.a.path}/changes", params={"after": entry["cursor"]}, headers=world.a.admin.headers
    )
    assert feed.status_code == 200
    assert feed.json()["items"] == []


async def test_after_rotate_secret_messages_verify_with_the_new_and_the_previous_secret(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    with receiving() as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        rotated = await client.post(
            f"{world.a.path}/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=world.a.admin.headers
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != endpoint["secret"]
        await add_location(client, world.a, 1)
        await drain(app)
        clock.advance(timedelta(hours=24, seconds=1))
        await log_in_again(client, world.a)
        await add_location(client, world.a, 2)
        await drain(app)
    first, second = receiver.received
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(first.body, first.headers)
    Webhook(endpoint["secret"]).verify(first.body, first.headers)
    # A day later the previous secret signs no more.
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(second.body, second.headers)


async def test_a_failing_message_is_retried_with_the_same_id_and_later_ones_wait(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    with receiving(Receiver(statuses=[500])) as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        await add_location(client, world.a, 1)
        await add_location(client, world.a, 2)
        await drain(app)
        assert len(receiver.received) == 1  # the second waits for the first
        path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}/deliveries"
        attempts = (await client.get(path, headers=world.a.admin.headers)).json()["items"]
        assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500)]
        retry_at = attempts[0]["next_attempt_at"]
        assert retry_at is not None
        await drain(app)  # not due yet
        assert len(receiver.received) == 1
        clock.advance(timedelta(seconds=5.5))  # 5 s + 10 % jitter at most
        await drain(app)
    ids = receiver.ids()
    assert len(ids) == 3
    assert ids[0] == ids[1] != ids[2]
    assert [r.json["data"]["resource"]["id"] for r in receiver.received] == ["W0001", "W0001", "W0002"]
    attempts = (await client.get(path, headers=world.a.admin.headers)).json()["items"]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 200), (2, 200), (1, 500)]


async def test_a_refusing_4xx_is_final_for_its_message_and_the_next_goes(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    with receiving(Receiver(statuses=[422])) as receiver:
        await create_endpoint(client, world.a, receiver.url)
        await add_location(client, world.a, 1)
        await add_location(client, world.a, 2)
        await drain(app)
    assert [r.json["data"]["resource"]["id"] for r in receiver.received] == ["W0001", "W0002"]


async def test_410_disables_at_once_and_enabling_again_resumes_where_it_stopped(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    with receiving(Receiver(statuses=[410])) as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}"
        await add_location(client, world.a, 1)
        await drain(app)
        read = await client.get(path, headers=world.a.admin.headers)
        assert read.json()["enabled"] is False
        assert read.json()["disabled_reason"] == "gone"
        await add_location(client, world.a, 2)
        await drain(app)
        assert len(receiver.received) == 1  # disabled: nothing more
        enabled = await client.patch(
            path, json={"enabled": True}, headers={**world.a.admin.headers, "If-Match": read.headers["ETag"]}
        )
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["disabled_reason"] is None
        await drain(app)
    ids = receiver.ids()
    assert [r.json["data"]["resource"]["id"] for r in receiver.received] == ["W0001", "W0001", "W0002"]
    assert ids[0] == ids[1]
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"resource_type": "webhook_endpoint"},
        headers=world.a.admin.headers,
    )
    actions = [(e["action"], e["actor"]["kind"]) for e in events.json()["items"]]
    assert ("webhook_endpoint.disable", "system") in actions
    assert ("webhook_endpoint.enable", "user") in actions


async def test_an_endpoint_whose_messages_all_fail_for_5_days_is_disabled(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    with receiving(Receiver(status=503)) as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}"
        for number in range(1, 4):
            await add_location(client, world.a, number)
        days = 0.0
        while (await client.get(path, headers=world.a.admin.headers)).json()["enabled"]:
            await drain(app)
            clock.advance(timedelta(hours=6))
            await log_in_again(client, world.a)
            days += 0.25
            assert days < 7
    read = (await client.get(path, headers=world.a.admin.headers)).json()
    assert read["disabled_reason"] == "failing"
    assert 5 <= days <= 5.5
    # The first message was given up after its last retry, and the next one tried.
    assert {r.json["data"]["resource"]["id"] for r in receiver.received} >= {"W0001", "W0002"}


async def test_recover_resends_every_message_after_the_cursor(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    with receiving() as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        for number in range(1, 4):
            await add_location(client, world.a, number)
        await drain(app)
        first_cursor = receiver.received[0].json["data"]["cursor"]
        path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}/recover"
        recovered = await client.post(path, json={"after": first_cursor}, headers=world.a.admin.headers)
        assert recovered.status_code == 202, recovered.text
        await drain(app)
        invalid = await client.post(path, json={"after": "nonsense"}, headers=world.a.admin.headers)
        other = await client.post(
            f"{world.b.path}/changes", headers=world.b.admin.headers
        )  # (method not allowed: just another organization's path)
    resources = [r.json["data"]["resource"]["id"] for r in receiver.received]
    assert resources == ["W0001", "W0002", "W0003", "W0002", "W0003"]
    assert receiver.received[1].webhook_id == receiver.received[3].webhook_id
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "invalid_cursor"
    assert other.status_code == 405


async def test_the_test_message_goes_at_once_and_is_logged_with_at_most_1_kib_of_the_answer(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    with receiving(Receiver(body=b"x" * 5000)) as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}"
        tested = await client.post(f"{path}/test", headers=world.a.admin.headers)
    assert tested.status_code == 200, tested.text
    attempt = tested.json()
    assert attempt["type"] == "webhook.test"
    assert attempt["status_code"] == 200
    assert attempt["cursor"] is None
    assert len(attempt["response_body"]) == 1024
    message = receiver.received[0]
    assert Webhook(endpoint["secret"]).verify(message.body, message.headers)["type"] == "webhook.test"
    assert message.webhook_id == attempt["webhook_id"]
    listed = (await client.get(f"{path}/deliveries", headers=world.a.admin.headers)).json()
    assert listed["items"] == [attempt]


async def test_successes_recorded_together_keep_their_place_when_a_410_ends_the_group(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    """Successful attempts are recorded in groups (RECORD_EVERY); a 410 among them records the
    group with it: every attempt is listed, and enabling again resumes after the last success."""
    successes = RECORD_EVERY + 3  # one whole group, then three recorded with the 410
    with receiving(Receiver(statuses=[200] * successes + [410])) as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}"
        for number in range(1, successes + 3):
            await add_location(client, world.a, number)
        await drain(app)
        attempts = (
            await client.get(f"{path}/deliveries", params={"limit": 100}, headers=world.a.admin.headers)
        ).json()
        assert [a["status_code"] for a in reversed(attempts["items"])] == [200] * successes + [410]
        read = await client.get(path, headers=world.a.admin.headers)
        assert read.json()["disabled_reason"] == "gone"
        enabled = await client.patch(
            path, json={"enabled": True}, headers={**world.a.admin.headers, "If-Match": read.headers["ETag"]}
        )
        assert enabled.status_code == 200, enabled.text
        await drain(app)
    sent = [r.json["data"]["resource"]["id"] for r in receiver.received]
    expected = [f"W{number:04d}" for number in range(1, successes + 3)]
    # The 410's message once more, then the rest: nothing before it again.
    assert sent == [*expected[: successes + 1], *expected[successes:]]
