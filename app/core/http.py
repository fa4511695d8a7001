"""Headers that single-resource answers carry."""

from fastapi import Request, Response
from pydantic import BaseModel

from app.core.etag import set_etag


def created(request: Request, response: Response, identifier: str, version: int | None = None) -> None:
    """201's `Location` (the new resource's URL under the collection) and its ETag."""
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{identifier}"
    if version is not None:
        set_etag(response, version)


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """A model serialized by pydantic's core straight to JSON bytes (the route declares
    `response_model` for the OpenAPI document); skips FastAPI's second validation pass."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
