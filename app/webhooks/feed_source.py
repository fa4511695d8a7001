"""What webhooks take from the change feed: its actions, its cursors and its listener.

The one module of app/webhooks that names the feed's reader side (the feed's reader and listener
are moving to app/journal: only these imports change).
"""

from app.changes.cursor import decode_cursor, encode_cursor
from app.changes.listener import POLL_SECONDS, ChangeListener
from app.journal.feed import CHANNEL, FEED_ACTIONS

__all__ = ["CHANNEL", "POLL_SECONDS", "ChangeListener", "decode_cursor", "encode_cursor", "feed_actions"]


def feed_actions() -> frozenset[str]:
    """Every action of the change feed (SPEC §5.5), from the feed's own list."""
    return frozenset(FEED_ACTIONS.values())
