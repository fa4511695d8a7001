"""The webhook backlog's gauges (SPEC §6): messages waiting and the age of the oldest."""

from collections.abc import Callable

from app.operations.metrics import Metrics


def no_backlog() -> tuple[int, float]:
    """The backlog until a webhook worker registers its own: nothing waiting."""
    return 0, 0.0


def register_backlog(metrics: Metrics, backlog: Callable[[], tuple[int, float]] = no_backlog) -> None:
    """Report `backlog()`, (messages waiting, age in seconds of the oldest), at each scrape."""
    metrics.gauge(
        "ainas_webhook_messages_waiting", "Webhook messages not yet delivered.", lambda: backlog()[0]
    )
    metrics.gauge(
        "ainas_webhook_oldest_message_age_seconds",
        "Age of the oldest undelivered webhook message.",
        lambda: backlog()[1],
    )
