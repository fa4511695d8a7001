"""The delivery worker (SPEC §5.7): each endpoint's messages in feed order, at least once.

Every instance runs one (inside `ainas serve`, or alone as `ainas webhook-worker`). Instances share
the work through the database: an instance leases an endpoint with a due message (FOR UPDATE SKIP
LOCKED on PostgreSQL), delivers its messages one after another, and records the attempts together
with the endpoint's progress, renewing the lease. Successes are recorded in groups (at most
RECORD_EVERY messages or RECORD_SECONDS, whichever comes first), a failure at once: one transaction
per group instead of one per message, which is most of a delivery's cost. A killed instance's
lease expires and another takes the endpoint over; the attempts it made but had not recorded yet
(at most one group) are made again: at least once, never lost. A change wakes the workers through
the feed's notification on PostgreSQL; SQLite polls.
"""

import asyncio
import contextlib
import functools
import logging
import os
import random
import secrets
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from app.journal.audit_trail import Actor, AuditTrail
from app.runtime import Runtime
from app.security.sealing import SealedSecretUnreadable, sealing_keys
from app.webhooks import signing
from app.webhooks.client import DeliveryClient, Outcome
from app.webhooks.feed_source import POLL_SECONDS, WORKERS, ChangeListener, encode_cursor
from app.webhooks.repository import DeliveryState, WebhookRepository
from app.webhooks.service import RESOURCE, signing_secrets

logger = logging.getLogger("ainas.webhooks")

# After the first failure of a message, then the second, ...; then it is given up.
RETRY_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1
# An endpoint whose messages all failed this long is disabled (`failing`).
FAILING_FOR = timedelta(days=5)
# 4xx answers that are not the receiver's refusal of the message: tried again.
RETRIED_4XX = frozenset({408, 410, 425, 429})
GONE = 410
# An endpoint whose secret opens under no configured key is looked at again after this long.
UNREADABLE_WAIT = timedelta(minutes=5)
BATCH = 100
# Successful attempts recorded together: at most this many, and none kept unrecorded longer.
RECORD_EVERY = 10
RECORD_SECONDS = 0.1
# Between two claim rounds at least this long: a busy organization's notifications (one per
# commit) are answered by one round each CLAIM_GAP_SECONDS, not one round each.
CLAIM_GAP_SECONDS = 0.05
# When notifications arrive, look anyway this often (leases of killed instances, retries).
LIVE_CHECK_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 3600.0
WORKER = Actor("system", "webhook-worker")


def retry_delay(attempt: int, scale: float) -> timedelta | None:
    """How long after the `attempt`-th failure the message is tried again (None: given up)."""
    if attempt > len(RETRY_SECONDS):
        return None
    jitter = random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (spread, not a secret)
    return timedelta(seconds=RETRY_SECONDS[attempt - 1] * scale * jitter)


def is_final(outcome: Outcome) -> bool:
    """A 4xx refusal of the message (not 408, 410, 425, 429): not tried again."""
    code = outcome.status_code
    return code is not None and 400 <= code < 500 and code not in RETRIED_4XX


class WebhookWorker:
    """One instance's delivery of every organization's webhook messages."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        client: DeliveryClient | None = None,
        listener: ChangeListener | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = runtime.clock
        self.client = client or DeliveryClient(runtime.settings)
        self.listener = listener
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._running: dict[str, asyncio.Task[None]] = {}
        self._nudge = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._last_prune = time.monotonic()
        self._pace = Pace(runtime.settings.webhook_rate)
        # The organizations whose changes wake this worker, as last read (see `_wake_events`).
        self._organizations: list[int] = []

    # Running

    def start(self) -> None:
        """Deliver in the background until `stop`."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="webhook-worker")

    @property
    def claiming(self) -> bool:
        """Whether the worker still looks for messages to deliver."""
        return self._task is not None and not self._task.done()

    def stop_claiming(self) -> None:
        """Claim nothing more (the process is draining); attempts in flight go on."""
        self._stopping = True
        self._nudge.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let attempts in flight finish (at most `grace` seconds); release leases."""
        self.stop_claiming()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.client.close()

    async def run(self) -> None:
        """Claim due endpoints and deliver to them, waking on changes, until stopped."""
        while not self._stopping:
            try:
                # Taken before the claim reads: a change committed after that read sets them.
                woken_by = self._wake_events()
                await self.claim_and_start()
                await self._wait(woken_by)
                await self._prune_now_and_then()
                await asyncio.sleep(CLAIM_GAP_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a moment: try again
                logger.exception("webhook worker round failed")
                await asyncio.sleep(POLL_SECONDS)

    async def drain(self) -> None:
        """Deliver until nothing is due now (tests and benchmarks; no waiting for retries)."""
        while True:
            started = await self.claim_and_start()
            if not started and not self._running:
                return
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def claim_and_start(self) -> int:
        """Lease due endpoints up to the concurrency left, and start delivering to each."""
        room = self.settings.webhook_concurrency - len(self._running)
        if room <= 0:
            return 0
        now = self.clock.now()
        async with self.runtime.sessionmaker() as session, session.begin():
            claimed = await WebhookRepository(session).claim(self.owner, now, self._lease_until(now), room)
        for endpoint_id in claimed:
            task = asyncio.get_running_loop().create_task(self._deliver(endpoint_id))
            self._running[endpoint_id] = task
            task.add_done_callback(functools.partial(self._finished, endpoint_id))
        return len(claimed)

    def _finished(self, endpoint_id: str, _task: object) -> None:
        self._running.pop(endpoint_id, None)
        self._nudge.set()

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.webhook_lease_seconds)

    def _wake_events(self) -> list[asyncio.Event] | None:
        """The events that the next change of a watched organization (or a new endpoint) sets;
        None while no notification arrives (the worker then looks every POLL_SECONDS)."""
        if self.listener is None or not self.listener.live:
            return None
        return [self.listener.signals.event(org) for org in (WORKERS, *self._organizations)]

    async def _wait(self, woken_by: list[asyncio.Event] | None) -> None:
        """Until a change of an organization with endpoints, a due retry, a finished delivery, or the
        next look (at most POLL_SECONDS without notifications). `woken_by`: the events taken before
        the last claim (see `_wake_events`). Live as it was then: a listener that came alive since
        has woken nobody yet (at start-up, the first wait would otherwise hear nothing for
        LIVE_CHECK_SECONDS, endpoints registered meanwhile included)."""
        live = woken_by is not None
        limit = LIVE_CHECK_SECONDS if live else POLL_SECONDS
        async with self.runtime.read_sessionmaker() as session:
            repository = WebhookRepository(session)
            organizations = await repository.organizations_with_endpoints() if live else []
            due = await repository.next_due(self.clock.now())
        if due is not None:
            limit = max(0.01, min(limit, (due - self.clock.now()).total_seconds()))
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._nudge.wait())]
        if woken_by is not None and self.listener is not None:
            # An organization new since the claim: its endpoint's creation woke the workers (WORKERS).
            woken_by += [
                self.listener.signals.event(org) for org in set(organizations) - set(self._organizations)
            ]
            waits += [asyncio.ensure_future(event.wait()) for event in woken_by]
        self._organizations = organizations
        try:
            await asyncio.wait(waits, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        self._nudge.clear()

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._last_prune < PRUNE_EVERY_SECONDS * random.uniform(0.5, 1.0):  # noqa: S311
            return
        self._last_prune = time.monotonic()
        deleted = await prune_deliveries(self.runtime)
        if deleted:
            logger.info("webhooks: pruned %d attempts older than the change feed's retention", deleted)

    # Delivering to one endpoint

    async def _deliver(self, endpoint_id: str) -> None:
        """Deliver the endpoint's due messages in order until it is up to date, waits for a retry,
        is disabled, or the lease is lost; then give the lease back."""
        try:
            while not self._stopping:
                if not await self._deliver_batch(endpoint_id):
                    break
        except Exception:
            logger.exception("webhook delivery to endpoint %s failed", endpoint_id)
        finally:
            with contextlib.suppress(Exception):
                async with self.runtime.sessionmaker() as session, session.begin():
                    await WebhookRepository(session).release([endpoint_id], self.owner)

    async def _deliver_batch(self, endpoint_id: str) -> bool:
        """One batch of messages; True when more may be due at once."""
        now = self.clock.now()
        async with self.runtime.sessionmaker() as session, session.begin():
            repository = WebhookRepository(session)
            state = await repository.delivery_state(endpoint_id)
            if state is None or not state.enabled or state.lease_owner != self.owner:
                return False
            if state.next_attempt_at is not None and state.next_attempt_at > now:
                return False
            last, _ = await repository.feed_position(state.organization_id)
            entries = await repository.entries(
                state.organization_id, state.position, last, state.event_types, BATCH
            )
            if not entries:
                # Nothing here for this endpoint (other types): it is up to date through `last`.
                if last > state.position:
                    await repository.move(endpoint_id, self.owner, {"position": last})
                return False
        try:
            secrets_now = signing_secrets(
                sealing_keys(self.settings), state.organization_id, endpoint_id, state.sealed, now
            )
        except SealedSecretUnreadable:
            # Looked at again later (a key configured again, or the secret rotated, which restarts it at
            # once), not claimed again and again meanwhile.
            wait = UNREADABLE_WAIT * self.settings.webhook_retry_scale
            logger.warning(
                "the secret of webhook endpoint %s does not open: not delivered (looked at again in %d s)",
                endpoint_id,
                wait.total_seconds(),
            )
            async with self.runtime.sessionmaker() as session, session.begin():
                await WebhookRepository(session).move(
                    endpoint_id, self.owner, {"next_attempt_at": now + wait}
                )
            return False
        attempt = state.attempt
        failing_since = state.failing_since
        group = _Group()
        for entry in entries:
            made = await self._attempt(state, entry, attempt, failing_since, secrets_now)
            failing_since = made.failing_since
            group.add(made)
            attempt = 0
            if made.succeeded and not group.due():
                continue  # recorded with the next ones
            if not await self._record(state, group) or not made.keep_going:
                return False
        return not group.made or await self._record(state, group)

    async def _attempt(
        self,
        state: DeliveryState,
        entry: Sequence[Any],
        previous_attempts: int,
        failing_since: datetime | None,
        signing_with: list[str],
    ) -> "_Made":
        """Send one message; what it makes of the endpoint's progress (recorded by `_record`)."""
        seq, at, action, resource_type, resource_id, data = entry
        message = {
            "cursor": encode_cursor(self.settings.secret_key, state.organization_id, seq),
            "at": at,
            "action": action,
            "resource": {"type": resource_type, "id": resource_id},
            "data": orjson.Fragment(data) if data is not None else None,
        }
        body = signing.message_body(message)
        webhook_id = signing.message_id(state.endpoint_id, seq)
        await self._pace.turn()
        outcome = await self.client.send(
            state.url, body, signing.headers(signing_with, webhook_id, int(time.time()), body)
        )
        now = self.clock.now()
        attempt = previous_attempts + 1
        progress: dict[str, Any] = {"lease_expires_at": self._lease_until(now)}
        next_attempt_at: datetime | None = None
        disable: str | None = None
        if outcome.succeeded:
            progress.update(position=seq, attempt=0, next_attempt_at=None, failing_since=None)
            failing_since = None
        else:
            failing_since = failing_since or now
            delay = None if is_final(outcome) else retry_delay(attempt, self.settings.webhook_retry_scale)
            if outcome.status_code == GONE:
                disable = "gone"
                progress.update(attempt=0, next_attempt_at=None, failing_since=failing_since)
            elif delay is None:  # refused, or given up: the next message goes
                progress.update(position=seq, attempt=0, next_attempt_at=None, failing_since=failing_since)
            else:
                next_attempt_at = now + delay
                progress.update(attempt=attempt, next_attempt_at=next_attempt_at, failing_since=failing_since)
            if disable is None and now - failing_since >= FAILING_FOR * self.settings.webhook_retry_scale:
                disable = "failing"
        row = {
            "endpoint_id": state.endpoint_id,
            "webhook_id": webhook_id,
            "type": action,
            "seq": seq,
            "attempt": attempt,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
            "attempted_at": now,
            "next_attempt_at": None if disable else next_attempt_at,
            "response_body": outcome.body,
        }
        keep_going = outcome.succeeded or (next_attempt_at is None and disable is None)
        return _Made(row, progress, disable, outcome.succeeded, keep_going, failing_since)

    async def _record(self, state: DeliveryState, group: "_Group") -> bool:
        """Record the group's attempts with the progress they made, in one transaction, and empty
        the group; False when the lease was lost (the new holder sends them again)."""
        made, progress, disable = group.take()
        async with self.runtime.sessionmaker() as session, session.begin():
            repository = WebhookRepository(session)
            if not await repository.move(state.endpoint_id, self.owner, progress):
                # Taken over (recover, a change, or an expired lease): the new holder sends them again.
                await session.rollback()
                return False
            await repository.record_attempts(made)
            now = made[-1]["attempted_at"]
            if disable is not None and await repository.disable(state.endpoint_id, disable, now):
                audit = AuditTrail(session, self.clock, None, None)
                await audit.record(
                    WORKER,
                    "webhook_endpoint.disable",
                    RESOURCE,
                    state.endpoint_id,
                    state.organization_id,
                    {"enabled": [True, False], "disabled_reason": [None, disable]},
                )
                logger.warning("webhook endpoint %s disabled (%s)", state.endpoint_id, disable)
        return True


class Pace:
    """At most `rate` turns per second, shared by every delivery of the instance (0: no limit):
    each turn is given the next free slot, 1/rate after the one before; slots left unused do
    not pile up into a burst."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = clock()

    def wait(self) -> float:
        """Take the next slot: how long to wait for it (0 when it is free now)."""
        if not self.interval:
            return 0.0
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    async def turn(self) -> None:
        """Wait for this delivery's slot."""
        delay = self.wait()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True, slots=True)
class _Made:
    """One attempt made: its row of attempts, the endpoint's progress after it, whether it disables
    the endpoint, and whether the next message may go."""

    row: dict[str, Any]
    progress: dict[str, Any]
    disable: str | None
    succeeded: bool
    keep_going: bool
    failing_since: datetime | None


@dataclass(slots=True)
class _Group:
    """Attempts made and not recorded yet (successes, then at most one other, which ends it)."""

    made: list[_Made] = field(default_factory=list)
    since: float = 0.0

    def add(self, made: _Made) -> None:
        if not self.made:
            self.since = time.monotonic()
        self.made.append(made)

    def due(self) -> bool:
        """Whether to record now: RECORD_EVERY attempts, or the first RECORD_SECONDS old."""
        return len(self.made) >= RECORD_EVERY or time.monotonic() - self.since >= RECORD_SECONDS

    def take(self) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
        """(the attempts' rows, the progress after the last, the reason to disable) and empty."""
        progress: dict[str, Any] = {}
        for made in self.made:
            progress.update(made.progress)  # the last's, with the position of the last success
        rows, disable = [made.row for made in self.made], self.made[-1].disable
        self.made = []
        return rows, progress, disable


async def prune_deliveries(runtime: Runtime) -> int:
    """Delete attempts older than the change feed's retention; returns how many."""
    cutoff = runtime.clock.now() - timedelta(days=runtime.settings.change_retention_days)
    async with runtime.sessionmaker() as session, session.begin():
        return await WebhookRepository(session).prune_deliveries(cutoff)


async def run_worker(runtime: Runtime) -> None:
    """`ainas webhook-worker`: a worker and its own feed listener, until SIGTERM or SIGINT."""
    listener = ChangeListener(runtime.settings)
    listener.start()
    worker = WebhookWorker(runtime, listener=listener)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await listener.stop()
        await runtime.engine.dispose()
