"""Headers that single-resource answers carry."""

from fastapi import Request, Response

from app.http.etag import set_etag


def created(request: Request, response: Response, identifier: str, version: int | None = None) -> None:
    """201's `Location` (the new resource's URL under the collection) and its ETag."""
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{identifier}"
    if version is not None:
        set_etag(response, version)
