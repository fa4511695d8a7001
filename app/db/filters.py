"""List filters, derived from each list's filter schema; text filters compare search forms.

A text filter matches partially and ignores width and case (SPEC §5.2): both sides are compared
in their search form (`app.text.rules.search_form`: NFKC, case-folded). The needle is folded here;
a column whose values are not search forms already (names, full-width) has a companion column
that holds them (`search_form_column`), written with it on every insert and change, and indexed.
Columns of half-width ASCII (codes, identifiers, digits) are their own search form up to case,
which ILIKE ignores.

Each list's filter schema (a `Filters`) is the one list of its filters: `FilterSet` reads which
column each field selects on and how (`Filter`), and which fields the list sorts by.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Final

from pydantic import BaseModel
from sqlalchemy import Boolean, ColumnElement, String, Text, and_, bindparam, event, false, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import MappedColumn, Mapper, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from app.text.rules import normalize, search_form

# pg_trgm indexes serve needles of three characters or more.
TRIGRAM_LENGTH = 3
LIKE_ESCAPE = "/"
# The `info` key of a column that holds another column's search form.
SEARCH_FORM_OF: Final = "search_form_of"


@dataclass(frozen=True, slots=True)
class Needle:
    """What a partial-match filter searches for: a LIKE pattern, and which form of match finds it.

    Three characters or more: ILIKE, which PostgreSQL's trigram indexes answer. Shorter (田中):
    lower() LIKE, which no trigram index matches, so the planner filters the tenant's rows
    instead of reading the whole trigram index for a needle that has no trigram.
    """

    text: str
    pattern: str
    indexed: bool


def needle(value: str | None) -> Needle | None:
    """The needle of a filter value in search form, or None when no filter is given.

    Wildcards in the value are escaped: a `%` (or a full-width ％) searches for a percent sign.
    """
    if value is None:
        return None
    text = search_form(normalize(value)).strip()
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


class holds_grams(FunctionElement[bool]):  # noqa: N801 (a SQL function, named as SQLAlchemy's are)
    """PostgreSQL: the column's one- and two-character grams hold all of the needle's (see
    migration 0003, `ainas_grams`), which a GIN index answers; a necessary condition only, so it
    always comes with the LIKE that decides. Elsewhere: true. `holds_grams(column, needle)`."""

    type = Boolean()
    inherit_cache = True
    name = "holds_grams"


@compiles(holds_grams)
def _holds_grams_anywhere(element: holds_grams, compiler: Any, **kw: Any) -> str:
    return "1 = 1"


@compiles(holds_grams, "postgresql")
def _holds_grams_on_postgresql(element: holds_grams, compiler: Any, **kw: Any) -> str:
    column, needle = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"ainas_grams({column}) @> ainas_grams({needle})"


# -- search-form columns -----------------------------------------------------------------------


def search_form_column(source: str) -> MappedColumn[str]:
    """A column that holds the search form of the model's column `source` (names: ﾃｽﾄ → テスト).

    Written with its source wherever a row is written: a Core INSERT that leaves it out gets it
    from its default, and setting the source attribute on a mapped object sets it too (see
    `_follow_sources`). Text: a search form can be longer than its source (NFKC expands some
    characters).
    """

    def from_source(context: Any) -> str:
        return search_form(context.get_current_parameters()[source])

    return mapped_column(Text, default=from_source, info={SEARCH_FORM_OF: source})


@event.listens_for(Mapper, "mapper_configured")
def _follow_sources(mapper: Mapper[Any], cls: type) -> None:
    """Every mapped object keeps its search-form columns in step with their sources."""
    for column in mapper.columns:
        # Only table columns carry the mark (a column_property's expression has no `info`).
        source = getattr(column, "info", {}).get(SEARCH_FORM_OF)
        if source is None:
            continue
        target = mapper.get_property_by_column(column).key

        def follow(obj: Any, value: Any, old: Any, initiator: Any, target: str = target) -> None:
            setattr(obj, target, None if value is None else search_form(value))

        event.listen(getattr(cls, source), "set", follow)


def with_search_forms(table: Any, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the search forms of the sources they carry, for bulk writes that pass by
    both the columns' defaults and the mapped objects (COPY, UPDATE over arrays)."""
    forms = [
        (column.key, column.info[SEARCH_FORM_OF]) for column in table.columns if SEARCH_FORM_OF in column.info
    ]
    return [
        {
            **row,
            **{target: search_form(row[source]) for target, source in forms if row.get(source) is not None},
        }
        for row in rows
    ]


def search_column(model: Any, name: str) -> Any:
    """The column that text filters of `name` compare: its search-form column, or itself."""
    for column in model.__table__.columns:
        if column.info.get(SEARCH_FORM_OF) == name:
            return getattr(model, column.key)
    return getattr(model, name)


# -- filter schemas ----------------------------------------------------------------------------


class Match(Enum):
    """How a filter selects rows."""

    CONTAINS = "contains"  # partial, ignoring width and case, on any of its columns
    # CONTAINS on a column whose values are lower-case by construction (event names such as
    # `thing.create`, written only by services): the needle lower-cased and a plain LIKE, which
    # PostgreSQL checks three times faster than ILIKE (200,000 rows: 81 ms against 27 ms).
    CONTAINS_LOWERCASE = "contains_lowercase"
    # CONTAINS on a column with a gram index (a name's search form): PostgreSQL finds the rows by
    # grams whatever the needle's length (`holds_grams`), then the LIKE decides.
    CONTAINS_GRAMS = "contains_grams"
    EXACT = "exact"  # also: IS NULL for the value NULL, no row for NOTHING (see `FilterSet.shape`)
    ANY = "any"  # a repeated parameter: equal to any of the values given
    SINCE = "since"  # at or after
    UNTIL = "until"  # before


class _Marker(Enum):
    NULL = "null"
    NOTHING = "nothing"


# Values a repository may give an EXACT filter in place of the request's (`values` of FilterSet.shape):
# the column IS NULL, or no row at all (a value that names nothing, e.g. an unknown parent's code).
NULL: Final = _Marker.NULL
NOTHING: Final = _Marker.NOTHING
_PARTIAL = (Match.CONTAINS, Match.CONTAINS_LOWERCASE, Match.CONTAINS_GRAMS)


@dataclass(frozen=True, slots=True)
class Filter:
    """How a field of a filter schema selects rows: `Annotated[str | None, Filter(...)]`.

    `columns`: the model attributes it reads (default: the field's own name). `sortable`: whether
    the list sorts by the field (default: yes, for a filter on one column other than a time bound).
    """

    match: Match = Match.CONTAINS
    columns: tuple[str, ...] = ()
    sortable: bool | None = None


class Filters(BaseModel):
    """Base of a list's filter schema: each field is one optional query parameter and one filter.

    `also_sortable`: attributes the list sorts by that are not filters (`created_at`).
    """

    also_sortable: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    match: Match
    columns: tuple[Any, ...]  # what the filter compares (search-form columns for CONTAINS)


class FilterSet:
    """A list's filters and sort keys, derived from its filter schema and its model.

    A new field of the schema is filtered (and sorted by) without a second list. `columns` maps a
    field to the column it compares and sorts by when that is not the model's attribute of its
    name (an item's `parent_code` compares the item's parent id); `sort_by` maps a field to
    the column it sorts by when that is another again (the joined parent's code).

    The one compiler of list filters, in two halves, so that a list's select is built once per
    shape of request and run with values (app/db/prepared.py): `shape(filters)` says which filters
    are given and in which form (never their values), `bound_conditions(shape)` gives the
    conditions of that shape with every value a bound parameter named after its field, and
    `parameters(filters)` gives those values.
    """

    def __init__(
        self,
        schema: type[Filters],
        model: Any,
        columns: Mapping[str, Any] | None = None,
        sort_by: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        given = dict(columns or {})
        self.fields: dict[str, _Field] = {}
        self.sortable: dict[str, Any] = {}
        for name, info in schema.model_fields.items():
            spec = next((item for item in info.metadata if isinstance(item, Filter)), Filter())
            sources = spec.columns or (name,)
            raw = tuple(given[source] if source in given else getattr(model, source) for source in sources)
            compared = (
                tuple(
                    given[source] if source in given else search_column(model, source) for source in sources
                )
                if spec.match in _PARTIAL
                else raw
            )
            self.fields[name] = _Field(name, spec.match, compared)
            sortable = spec.sortable
            if sortable is None:
                sortable = len(sources) == 1 and spec.match not in (Match.SINCE, Match.UNTIL)
            if sortable:
                self.sortable[name] = raw[0]
        for name in schema.also_sortable:
            self.sortable[name] = given[name] if name in given else getattr(model, name)
        self.sortable.update(sort_by or {})

    def shape(self, filters: Filters, **values: Any) -> tuple[Hashable, ...]:
        """What distinguishes the statements of these filters (not their values). `values`
        replace the request's value of a field (a repository that resolved it first: a public id
        to a row id, a code to an id, NULL or NOTHING); None there means not filtered."""
        return tuple(_shape(spec, _value(spec, filters, values)) for spec in self.fields.values())

    def bound_conditions(self, shape: tuple[Hashable, ...]) -> list[ColumnElement[bool]]:
        """The conditions of a shape, with each value a bound parameter named by its field."""
        found = []
        for spec, form in zip(self.fields.values(), shape, strict=True):
            if form is not None:
                found.append(_bound(spec, form))
        return found

    def parameters(self, filters: Filters, **values: Any) -> dict[str, Any]:
        """The bound values of the filters given (with the same `values` as `shape`)."""
        found: dict[str, Any] = {}
        for spec in self.fields.values():
            found.update(_parameters(spec, _value(spec, filters, values)))
        return found


def _value(spec: _Field, filters: Filters, values: Mapping[str, Any]) -> Any:
    return values[spec.name] if spec.name in values else getattr(filters, spec.name)


def _shape(spec: _Field, value: Any) -> Hashable:
    if value is None or value == []:
        return None
    if spec.match in _PARTIAL:
        found = needle(value)
        return None if found is None else found.indexed
    if spec.match is Match.ANY:
        return len(value)
    if isinstance(value, _Marker):
        return value
    return True


def _bound(spec: _Field, form: Hashable) -> ColumnElement[bool]:
    parameter: Any = bindparam(spec.name)
    if spec.match is Match.CONTAINS:
        return or_(*(matches(column, parameter, bool(form)) for column in spec.columns))
    if spec.match is Match.CONTAINS_LOWERCASE:
        return or_(*(column.like(parameter, escape=LIKE_ESCAPE) for column in spec.columns))
    if spec.match is Match.CONTAINS_GRAMS:
        grams = bindparam(f"{spec.name}_grams", type_=String())
        return or_(
            *(
                and_(holds_grams(column, grams), func.lower(column).like(parameter, escape=LIKE_ESCAPE))
                for column in spec.columns
            )
        )
    column = spec.columns[0]
    if spec.match is Match.ANY:
        assert isinstance(form, int)
        return column.in_([bindparam(f"{spec.name}_{index}") for index in range(form)])  # type: ignore[no-any-return]
    if spec.match is Match.SINCE:
        return column >= parameter  # type: ignore[no-any-return]
    if spec.match is Match.UNTIL:
        return column < parameter  # type: ignore[no-any-return]
    if form is NULL:
        return column.is_(None)  # type: ignore[no-any-return]
    if form is NOTHING:
        return false()
    return column == parameter  # type: ignore[no-any-return]


def _parameters(spec: _Field, value: Any) -> dict[str, Any]:
    if value is None or value == [] or isinstance(value, _Marker):
        return {}
    if spec.match in _PARTIAL:
        found = needle(value)
        if found is None:
            return {}
        if spec.match is Match.CONTAINS:
            return {spec.name: found.pattern}
        if spec.match is Match.CONTAINS_LOWERCASE:
            return {spec.name: found.pattern.lower()}
        return {spec.name: found.pattern.lower(), f"{spec.name}_grams": found.text}
    if spec.match is Match.ANY:
        return {f"{spec.name}_{index}": getattr(item, "value", item) for index, item in enumerate(value)}
    return {spec.name: value}
