"""Whether an exception means the database could not be reached (answered as 503, retried by callers)."""

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


def is_connection_failure(exc: BaseException) -> bool:
    """True when the database could not be reached (refused, reset, restarting, timed out)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | PoolTimeoutError | TimeoutError):
            return True
        if type(current).__name__ in _CONNECTION_FAILURE_NAMES:
            return True
        current = current.__cause__ or current.__context__
    return False


# asyncpg's and aiosqlite's names for "the server is not there" (matched by name: no import).
_CONNECTION_FAILURE_NAMES = frozenset(
    {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "InterfaceError",
        "ProtocolViolationError",
        # The server is there but takes no more connections (max_connections reached).
        "TooManyConnectionsError",
    }
)
