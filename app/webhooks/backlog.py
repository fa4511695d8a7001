"""The webhook backlog of /metrics (SPEC §6): the messages waiting over every enabled endpoint, and
the age of the oldest, read from the database at each scrape (app/operations/metrics.py awaits it).

An endpoint's messages waiting are the feed entries after its position that it would receive
(those it is retrying included). Cheap on a large feed: one read of the endpoints that are behind
(the worker's claim join), then bounded ranges of the feed's primary key in one statement:
- an endpoint for every action waits for `last - position` entries (feed numbers have no gaps), and
  its oldest is the entry right after its position (one row per organization);
- an endpoint with event types counts its entries among the next WINDOW after its position (more
  than WINDOW entries behind, it is counted short; the age still says how far behind it is).
Endpoints of one organization at one position with the same event types share their range.
"""

import functools
from collections import Counter
from datetime import datetime

from app.runtime import Runtime
from app.webhooks.repository import WebhookRepository

# Feed entries an endpoint with event types is counted among.
WINDOW = 10_000
# Ranges per statement.
CHUNK = 200


MESSAGES_WAITING = "ainas_webhook_messages_waiting"
OLDEST_AGE = "ainas_webhook_oldest_message_age_seconds"


def report_backlog(runtime: Runtime) -> None:
    """Have the application's /metrics read the backlog at each scrape."""
    runtime.metrics.awaited_gauges(functools.partial(backlog_gauges, runtime))


async def backlog_gauges(runtime: Runtime) -> dict[str, tuple[str, float]]:
    """The two gauges of the backlog, as app/operations/metrics.py reads them."""
    waiting, oldest = await read_backlog(runtime)
    return {
        MESSAGES_WAITING: (
            "Webhook messages not yet delivered, over every enabled endpoint (the database's: "
            "the same at every instance).",
            waiting,
        ),
        OLDEST_AGE: ("Age of the oldest undelivered webhook message (0: none waiting).", oldest),
    }


async def read_backlog(runtime: Runtime) -> tuple[int, float]:
    """(messages waiting, age in seconds of the oldest; 0 when none)."""
    async with runtime.read_sessionmaker() as session:
        repository = WebhookRepository(session)
        waiting = 0
        first_of: dict[int, int] = {}  # organization -> the lowest position of an endpoint for every action
        filtered: Counter[tuple[int, int, int, tuple[str, ...]]] = Counter()
        for endpoint in await repository.behind():
            if endpoint.after >= endpoint.last:
                continue
            if endpoint.event_types:
                through = min(endpoint.last, endpoint.after + WINDOW)
                filtered[(endpoint.organization_id, endpoint.after, through, endpoint.event_types)] += 1
            else:
                waiting += endpoint.last - endpoint.after
                organization = endpoint.organization_id
                first_of[organization] = min(first_of.get(organization, endpoint.after), endpoint.after)
        ranges: list[tuple[int, int, int, tuple[str, ...]]] = [
            *((organization, after, after + 1, ()) for organization, after in first_of.items()),
            *filtered,
        ]
        oldest: list[datetime] = []
        for start in range(0, len(ranges), CHUNK):
            chunk = ranges[start : start + CHUNK]
            for key, (count, at) in zip(chunk, await repository.waiting(chunk), strict=True):
                if key[3]:  # with event types: counted here, once for each endpoint sharing the range
                    waiting += count * filtered[key]
                if at is not None:
                    oldest.append(at)
    age = (runtime.clock.now() - min(oldest)).total_seconds() if oldest else 0.0
    return waiting, max(age, 0.0)
