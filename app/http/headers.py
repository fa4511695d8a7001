"""Headers that single-resource answers carry."""

from fastapi import Request, Response

from app.http.etag import set_etag


def member_url(request: Request, identifier: str) -> str:
    """The URL of a new member of the collection this request addressed (201's `Location`)."""
    return f"{request.url.path.rstrip('/')}/{identifier}"


def created(request: Request, response: Response, identifier: str, version: int | None = None) -> None:
    """201's `Location` (the new resource's URL under the collection) and its ETag."""
    response.headers["Location"] = member_url(request, identifier)
    if version is not None:
        set_etag(response, version)
