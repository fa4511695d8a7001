"""Text filters of lists: partial match ignoring case, on the normalized form of the value."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, and_, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from app.core.text import normalize

# pg_trgm indexes serve needles of three characters or more.
TRIGRAM_LENGTH = 3
LIKE_ESCAPE = "/"


@dataclass(frozen=True, slots=True)
class Needle:
    """What a partial-match filter searches for: a LIKE pattern, and which form of match finds it.

    Three characters or more: ILIKE, which PostgreSQL's trigram indexes answer. Shorter (田中):
    lower() LIKE, which no trigram index matches, so the planner filters the organization's rows
    instead of reading the whole trigram index for a needle that has no trigram.
    """

    text: str
    pattern: str
    indexed: bool


def needle(value: str | None) -> Needle | None:
    """The needle of a filter value, or None when no filter is given.

    Wildcards in the value are escaped: a `%` searches for a percent sign.
    """
    if value is None:
        return None
    text = normalize(value)
    if not text:
        return None
    indexed = len(text) >= TRIGRAM_LENGTH
    escaped = "".join(LIKE_ESCAPE + char if char in "%_" + LIKE_ESCAPE else char for char in text)
    return Needle(text, f"%{escaped if indexed else escaped.lower()}%", indexed)


def matches(column: Any, pattern: Any, indexed: bool) -> ColumnElement[bool]:
    """`column` matches a needle's pattern (a value or a bound parameter), in the needle's form."""
    if indexed:
        return column.ilike(pattern, escape=LIKE_ESCAPE)  # type: ignore[no-any-return]
    return func.lower(column).like(pattern, escape=LIKE_ESCAPE)


def contains(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """`column` contains `value` ignoring case, or None when no filter is given."""
    found = needle(value)
    return None if found is None else matches(column, found.pattern, found.indexed)


class _HoldsGrams(ColumnElement[bool]):
    """PostgreSQL: the column's one- and two-character grams hold all of the needle's (see
    migration 0003, `ainas_grams`), which a GIN index answers; a necessary condition only, so it
    always comes with the LIKE that decides. Elsewhere: true."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's cache key protocol)
        ("column", InternalTraversal.dp_clauseelement),
        ("needle", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, needle: str) -> None:
        self.column = column
        self.needle = literal(needle, String())


@compiles(_HoldsGrams)
def _holds_grams_anywhere(element: _HoldsGrams, compiler: Any, **kw: Any) -> str:
    return "1 = 1"


@compiles(_HoldsGrams, "postgresql")
def _holds_grams_on_postgresql(element: _HoldsGrams, compiler: Any, **kw: Any) -> str:
    column, needle = compiler.process(element.column, **kw), compiler.process(element.needle, **kw)
    return f"ainas_grams({column}) @> ainas_grams({needle})"


def contains_by_grams(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """`contains`, for a column with a gram index (users.name): PostgreSQL finds the rows by
    grams, whatever the needle's length, then the LIKE decides."""
    found = needle(value)
    if found is None:
        return None
    return and_(
        _HoldsGrams(column, found.text),
        func.lower(column).like(found.pattern.lower(), escape=LIKE_ESCAPE),
    )


def contains_lowercase(column: Any, value: str | None) -> ColumnElement[bool] | None:
    """`contains`, for a column whose values are lower-case by construction (audit actions such as
    `location.create`, written only by the service): the needle is lower-cased and matched with a
    plain LIKE, which PostgreSQL checks three times faster than ILIKE (a count over 200,000 audit
    events: 81 ms with ILIKE, 27 ms with LIKE)."""
    found = needle(value)
    return None if found is None else column.like(found.pattern.lower(), escape=LIKE_ESCAPE)


def contains_any(columns: list[Any], value: str | None) -> ColumnElement[bool] | None:
    """Any of the columns contains `value` (see `contains`), or None when no filter is given."""
    found = [match for match in (contains(column, value) for column in columns) if match is not None]
    return or_(*found) if found else None


def conditions(*candidates: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    """The filters that were given."""
    return [candidate for candidate in candidates if candidate is not None]
