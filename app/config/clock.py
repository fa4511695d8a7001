"""The service's clock: one place that says what time it is, so tests can move time instead of sleeping."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

# Japan Standard Time: dates people read (dates shown, CSV times) are Japan's; Japan has no daylight saving
# (so no time zone database is needed). The one definition of Japan time.
JAPAN_OFFSET: Final = timedelta(hours=9)
JAPAN: Final = timezone(JAPAN_OFFSET, "JST")


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)


class ManualClock(Clock):
    """A clock that stands still until told to move (tests, benchmarks of time-based rules)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        """The time this clock was set to."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self._now += delta


def seconds_until(later: datetime, now: datetime) -> int:
    """Whole seconds from now until `later`, rounded up, at least 1 (for Retry-After)."""
    return max(1, int((later - now).total_seconds() + 0.999))
