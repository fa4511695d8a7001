"""Public forms of row ids: a fixed-width decimal id (9 digits) and a plain row id."""

from typing import Annotated, Final

from pydantic import BeforeValidator

PUBLIC_ID_DIGITS: Final = 9


def format_public_id(id_: int) -> str:
    """The 9-digit string of a row's id."""
    return f"{id_:0{PUBLIC_ID_DIGITS}d}"


def parse_public_id(value: str) -> int | None:
    """The numeric id behind a 9-digit string, or None when it is not one."""
    if len(value) == PUBLIC_ID_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    return None


MAX_ROW_ID = 2**31 - 1


def parse_row_id(value: str) -> int | None:
    """A numeric id from a path, or None when no row could have it."""
    if 1 <= len(value) <= 10 and value.isascii() and value.isdigit() and int(value) <= MAX_ROW_ID:
        return int(value)
    return None


def _public_id(value: object) -> object:
    return format_public_id(value) if isinstance(value, int) else value


def _public_row_id(value: object) -> object:
    return str(value) if isinstance(value, int) else value


# Fields of public schemas read from rows (`from_attributes`): the row's integer id, shown as text.
PublicIdText = Annotated[str, BeforeValidator(_public_id)]
RowIdText = Annotated[str, BeforeValidator(_public_row_id)]
