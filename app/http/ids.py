"""The public form of organization ids: 9 decimal digits (依頼人組織ID)."""

from typing import Annotated

from fastapi import Path
from pydantic import BeforeValidator


def format_organization_id(id_: int) -> str:
    """The 9-digit string of an organization's id."""
    return f"{id_:09d}"


def parse_organization_id(value: str) -> int | None:
    """The numeric id behind a 9-digit string, or None when it is not one."""
    if len(value) == 9 and value.isascii() and value.isdigit():
        return int(value)
    return None


MAX_ROW_ID = 2**31 - 1


def parse_row_id(value: str) -> int | None:
    """A numeric id from a path (an API key's), or None when no row could have it."""
    if 1 <= len(value) <= 10 and value.isascii() and value.isdigit() and int(value) <= MAX_ROW_ID:
        return int(value)
    return None


# A malformed id in a path is simply an organization that does not exist (404), as SPEC §4 wants
# for everything the caller cannot see, so the path parameter is a plain string here.
OrganizationIdPath = Annotated[
    str, Path(alias="org_id", description="依頼人組織ID: 9 decimal digits", examples=["000000001"])
]


def _public_organization_id(value: object) -> object:
    return format_organization_id(value) if isinstance(value, int) else value


def _public_row_id(value: object) -> object:
    return str(value) if isinstance(value, int) else value


# Fields of public schemas read from rows (`from_attributes`): the row's integer id, shown as text.
OrganizationIdText = Annotated[str, BeforeValidator(_public_organization_id)]
RowIdText = Annotated[str, BeforeValidator(_public_row_id)]


# Other resources with 9-digit public ids (agents, designated agents) write and read them the same way.
format_public_id = format_organization_id
parse_public_id = parse_organization_id
PublicIdText = OrganizationIdText
