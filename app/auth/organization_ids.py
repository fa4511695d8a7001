"""The public form of organization ids (依頼人組織ID): 9 decimal digits, in paths as `org_id`."""

from typing import Annotated

from fastapi import Path

from app.http.ids import PublicIdText, format_public_id, parse_public_id

format_organization_id = format_public_id
parse_organization_id = parse_public_id

# A malformed id in a path is simply an organization that does not exist (404), as SPEC §4 wants
# for everything the caller cannot see, so the path parameter is a plain string here.
OrganizationIdPath = Annotated[
    str, Path(alias="org_id", title="依頼人組織ID", description="9 decimal digits", examples=["000000001"])
]

# An organization's id in a public schema read from its row.
OrganizationIdText = PublicIdText
