"""What webhooks take from the change feed: its actions, its cursors and its listener.

The one module of app/webhooks that names the feed's reader side (app/journal).
"""

from app.journal.cursor import decode_cursor, encode_cursor
from app.journal.feed import CHANNEL, FEED_ACTIONS
from app.journal.listener import POLL_SECONDS, ChangeListener

__all__ = [
    "CHANNEL",
    "POLL_SECONDS",
    "WORKERS",
    "ChangeListener",
    "decode_cursor",
    "encode_cursor",
    "feed_actions",
]

# The pseudo-organization whose notification wakes every instance's webhook worker (organization
# ids start at 1, so no feed reader waits on it): sent when an endpoint is created, enabled or
# recovered, so that a worker not yet waiting on that organization's changes looks again at once.
WORKERS = 0


def feed_actions() -> frozenset[str]:
    """Every action of the change feed (SPEC §5.5), from the feed's own list."""
    return frozenset(FEED_ACTIONS.values())
