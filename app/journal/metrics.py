"""The change feed's metrics (SPEC §6), counted in the process-wide registry of app/operations."""

from prometheus_client import Counter, Gauge

from app.operations.metrics import SHARED

LONG_POLLS_WAITING = Gauge(
    "ainas_feed_long_polls_waiting",
    "Change-feed readers waiting for a change right now.",
    registry=SHARED,
)
FEED_ENTRIES_WRITTEN = Counter(
    "ainas_feed_entries_written",
    "Change-feed entries written (counted in the writing transaction; one that rolls back counts too).",
    registry=SHARED,
)
