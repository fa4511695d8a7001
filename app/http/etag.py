"""ETags of versioned resources and If-Match preconditions (no lost updates)."""

from typing import Annotated

from fastapi import Depends, Header, Response

from app.http.errors import PreconditionFailed, field_errors
from app.http.openapi import raises


def etag(version: int) -> str:
    """The strong ETag of a resource version."""
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    """Answer the resource's ETag."""
    response.headers["ETag"] = etag(version)


@raises(PreconditionFailed(), field_errors("invalid_if_match", "If-Match"))
async def expected_versions(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1024,
            description="ETag(s) of the version you read; 412 when the resource changed since",
        ),
    ] = None,
) -> set[int] | None:
    """The versions If-Match accepts: None for any (no header, or `*`)."""
    if if_match is None or if_match.strip() == "*":
        return None
    versions = set()
    for raw in if_match.split(","):
        tag = raw.strip()
        weak = tag.startswith("W/")
        value = tag.removeprefix("W/").strip('"')
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise field_errors("invalid_if_match", "If-Match")
        if not weak:  # RFC 9110 §13.1.1: If-Match compares strongly; a weak tag never matches.
            versions.add(int(value))
    return versions


IfMatch = Annotated[set[int] | None, Depends(expected_versions)]


def check_version(expected: set[int] | None, current: int) -> None:
    """412 when If-Match named versions and the current one is not among them."""
    if expected is not None and current not in expected:
        raise PreconditionFailed()
