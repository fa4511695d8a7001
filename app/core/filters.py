"""Text filters of lists: partial match ignoring case, on the normalized form of the value."""

from typing import Any

from sqlalchemy import ColumnElement

from app.core.text import normalize


def contains(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """`column` contains `value` ignoring case (ILIKE on PostgreSQL), or None when no filter is given.

    Wildcards in the value are escaped: a `%` searches for a percent sign.
    """
    if value is None:
        return None
    needle = normalize(value)
    if not needle:
        return None
    condition: ColumnElement[bool] = column.icontains(needle, autoescape=True)
    return condition


def conditions(*candidates: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    """The filters that were given."""
    return [candidate for candidate in candidates if candidate is not None]
