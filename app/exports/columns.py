"""The columns of the CSV files (SPEC §5.6): the screens' labels, and the JSON names they stand for."""

import unicodedata
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel

from app.auth.messages import ROLE_LABELS as AUTH_ROLE_LABELS
from app.locations.schemas import LocationCreate
from app.users.schemas import OrganizationRole, UserCreate

# 権限 as the screens show it; uploads take these or the JSON names.
ROLE_LABELS: dict[OrganizationRole, str] = {
    OrganizationRole(role): ja for role, (ja, _) in AUTH_ROLE_LABELS.items()
}


def heading_key(text: str) -> str:
    """How headings are compared: width, case and surrounding blanks do not matter
    (依頼人拠点名(略称) typed with half-width brackets is 依頼人拠点名（略称）)."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def role_value(cell: str) -> str:
    """The JSON name of a role cell (a label of the download, or the JSON name itself); anything
    else is returned as it is, for the schema to refuse."""
    key = heading_key(cell)
    for role, label in ROLE_LABELS.items():
        if key in (heading_key(label), role.value):
            return role.value
    return cell


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its JSON name and its heading; `uploaded=False` for what only a download shows."""

    name: str
    label: str
    uploaded: bool = True


@dataclass(frozen=True)
class Sheet:
    """The CSV form of one resource: its columns in the download's order, and the column that
    names a row (immutable: an upload updates the resource it names, or creates it)."""

    resource: str
    columns: tuple[Column, ...]
    key: str
    schema: type[BaseModel]

    def __post_init__(self) -> None:
        # The uploaded columns are fields of the JSON API's create schema: a renamed field fails here.
        unknown = {column.name for column in self.columns if column.uploaded} - set(self.schema.model_fields)
        if unknown or self.key not in self.schema.model_fields:
            raise ValueError(f"{self.resource}: columns {sorted(unknown)} are not fields of {self.schema}")

    @property
    def header(self) -> list[str]:
        """The heading row of a download."""
        return [column.label for column in self.columns]

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
    def optional(self) -> frozenset[str]:
        """The columns whose empty cell means "none": those the create schema does not require."""
        return frozenset(name for name, field in self.schema.model_fields.items() if not field.is_required())


LOCATIONS = Sheet(
    resource="locations",
    columns=(
        Column("code", "依頼人拠点コード"),
        Column("name", "依頼人拠点名"),
        Column("short_name", "依頼人拠点名（略称）"),
        Column("delegate_number", "記録等事務代行者委託番号"),
    ),
    key="code",
    schema=LocationCreate,
)

USERS = Sheet(
    resource="users",
    columns=(
        Column("login_id", "ログインID"),
        Column("name", "ユーザー名"),
        Column("location_code", "依頼人拠点コード"),
        Column("location_name", "依頼人拠点名", uploaded=False),
        Column("role", "権限"),
        Column("last_login_at", "最終ログイン日時", uploaded=False),
    ),
    key="login_id",
    schema=UserCreate,
)
