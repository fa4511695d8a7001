"""Text filters of lists: partial match ignoring case, on the normalized form of the value."""

from typing import Any

from sqlalchemy import ColumnElement, func, or_

from app.core.text import normalize

# pg_trgm indexes serve needles of three characters or more.
TRIGRAM_LENGTH = 3


def contains(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """`column` contains `value` ignoring case, or None when no filter is given.

    Wildcards in the value are escaped: a `%` searches for a percent sign. Three characters or
    more: ILIKE, which PostgreSQL's trigram indexes answer. Shorter (田中): lower() LIKE, which no
    trigram index matches, so the planner filters the organization's rows instead of reading the
    whole trigram index for a needle that has no trigram.
    """
    if value is None:
        return None
    needle = normalize(value)
    if not needle:
        return None
    condition: ColumnElement[bool]
    if len(needle) >= TRIGRAM_LENGTH:
        condition = column.icontains(needle, autoescape=True)
    else:
        condition = func.lower(column).contains(needle.lower(), autoescape=True)
    return condition


def contains_any(columns: list[Any], value: str | None) -> ColumnElement[bool] | None:
    """Any of the columns contains `value` (see `contains`), or None when no filter is given."""
    matches = [match for match in (contains(column, value) for column in columns) if match is not None]
    return or_(*matches) if matches else None


def conditions(*candidates: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    """The filters that were given."""
    return [candidate for candidate in candidates if candidate is not None]
