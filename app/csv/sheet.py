"""The declaration of a sheet: the CSV form of one resource, derived from its schemas.

A domain declares its sheet next to its schemas (a `sheet.py` of its own package):
the columns are the fields of the resource's public schema, in their order, headed by their
`Field(title=...)` (the screens' labels); those that are also fields of the create schema are
uploaded, the others only downloaded. A field added to the schemas is a column, with no list to
update here or in the domain.
"""

import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import cached_property
from typing import Any, Final, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from app.config.clock import JAPAN
from app.text.messages import VALUE_LABELS

# What a resource schema holds that is no column of a sheet: its bookkeeping.
BOOKKEEPING: Final = frozenset({"created_at", "updated_at", "version"})


def heading_key(text: str) -> str:
    """How headings (and choice cells) are compared: width, case and surrounding blanks do not
    matter (`名称(略称)` typed with half-width brackets is `名称（略称）`)."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def japan_time(value: datetime) -> str:
    """A time as the screens show it: Japan time, `YYYY/MM/DD HH:MM`.

    Japan keeps no daylight saving time: UTC + 9 hours. Formatted field by field, which takes
    half the time of strftime (a download of 100,000 rows formats 100,000).
    """
    local = value.astimezone(UTC) + JAPAN.utcoffset(None)
    return f"{local.year:04d}/{local.month:02d}/{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def _plain(value: Any) -> str:
    if value.__class__ is str:  # most cells: no further checks (a download writes millions)
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if isinstance(value, datetime):
        return japan_time(value)
    if isinstance(value, Enum):
        value = value.value
    return str(value)


def _identity(cell: str) -> Any:
    return cell


def _enum_of(info: FieldInfo) -> type[Enum] | None:
    """The Enum a field takes (also inside `X | None`), if any."""
    candidates = [info.annotation, *get_args(info.annotation)]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, Enum)), None)


def _choice_cells(enum: type[Enum]) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    """How an enumerated field is written (its Japanese label, where one is registered with
    `register_labels`) and read (the label or the JSON name; anything else as it is, for the
    schema to refuse)."""
    labels = {member.value: VALUE_LABELS.get(str(member.value), (str(member.value),))[0] for member in enum}
    by_key = {heading_key(label): value for value, label in labels.items()}
    by_key.update({heading_key(str(value)): value for value in labels})

    def write(value: Any) -> str:
        if value is None:
            return ""
        return labels.get(value.value if isinstance(value, Enum) else value, str(value))

    def read(cell: str) -> Any:
        return by_key.get(heading_key(cell), cell)

    return write, read


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its JSON name and heading, how a value is written, how a cell is read;
    `uploaded=False` for what only a download shows."""

    name: str
    label: str
    uploaded: bool = True
    write: Callable[[Any], str] = _plain
    read: Callable[[str], Any] = _identity


@dataclass(frozen=True)
class Sheet:
    """The CSV form of one resource: its columns in the download's order, the column that names
    a row (immutable: an upload updates the resource it names, or creates it), and the schemas
    a row is checked with (`create` for a new row, `update` for the others, as the JSON API)."""

    resource: str
    columns: tuple[Column, ...]
    key: str
    create: type[BaseModel]
    update: type[BaseModel]
    # (column, pydantic code) -> the code a CSV answers instead (a choice cell also takes labels).
    codes: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def derive(
        cls,
        resource: str,
        schema: type[BaseModel],
        *,
        key: str,
        create: type[BaseModel],
        update: type[BaseModel],
        leave_out: Collection[str] = (),
        codes: Mapping[tuple[str, str], str] | None = None,
    ) -> "Sheet":
        """The sheet of a resource schema: every field but its bookkeeping and `leave_out`."""
        columns = []
        for name, info in schema.model_fields.items():
            if name in BOOKKEEPING or name in leave_out:
                continue
            uploaded = name in create.model_fields
            enum = _enum_of(create.model_fields[name] if uploaded else info) or _enum_of(info)
            write, read = _choice_cells(enum) if enum is not None else (_plain, _identity)
            columns.append(Column(name, info.title or name, uploaded, write, read))
        return cls(resource, tuple(columns), key, create, update, dict(codes or {}))

    def __post_init__(self) -> None:
        if self.key not in {column.name for column in self.columns if column.uploaded}:
            raise ValueError(f"{self.resource}: the key {self.key!r} is not an uploaded column")

    @property
    def names(self) -> tuple[str, ...]:
        """The JSON names of the columns, in order (what a download selects)."""
        return tuple(column.name for column in self.columns)

    @property
    def header(self) -> list[str]:
        """The heading row of a download."""
        return [column.label for column in self.columns]

    def cells(self, values: Sequence[Any]) -> list[str]:
        """A download's row: the values of the columns, in their order, as cells."""
        return [write(value) for write, value in zip(self._writers, values, strict=True)]

    @cached_property
    def _writers(self) -> tuple[Callable[[Any], str], ...]:
        return tuple(column.write for column in self.columns)

    @cached_property
    def _by_heading(self) -> dict[str, Column]:
        found: dict[str, Column] = {}
        for column in self.columns:
            found[heading_key(column.label)] = column
            found[heading_key(column.name)] = column
        return found

    def column(self, heading: str) -> Column | None:
        """The column a heading of an uploaded file names, by label or JSON name; None if unknown."""
        return self._by_heading.get(heading_key(heading))

    @cached_property
    def key_column(self) -> Column:
        """The column that names a row."""
        return next(column for column in self.columns if column.name == self.key)

    @cached_property
    def optional(self) -> frozenset[str]:
        """The columns whose empty cell means "none": those the create schema does not require."""
        return frozenset(name for name, info in self.create.model_fields.items() if not info.is_required())
