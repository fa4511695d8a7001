"""/organizations/{org_id}/webhook-endpoints: thin handlers over WebhookService (SPEC §5.7)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Response, status

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.http.errors import Conflict, Gone, ProblemError
from app.http.etag import IfMatch, set_etag
from app.http.headers import created
from app.http.openapi import invalid, problems
from app.http.pagination import Page, PageDep
from app.http.resource import JSON
from app.idempotency.routing import ResourceRoute
from app.webhooks.guard import UrlRefused
from app.webhooks.schemas import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookRecover,
)
from app.webhooks.service import MAX_ENDPOINTS, WebhookServiceDep, url_refusal

router = APIRouter(tags=["Webhook (webhooks)"], route_class=ResourceRoute)

CanManage = Annotated[OrganizationScope, Depends(organization_scope(Permission.WEBHOOK_MANAGE))]
EndpointIdPath = Annotated[
    str, Path(max_length=64, title="エンドポイントID", description="The endpoint's `id`")
]
COLLECTION = "/organizations/{org_id}/webhook-endpoints"
ITEM = COLLECTION + "/{endpoint_id}"
URL_REFUSED = url_refusal(UrlRefused("private_address"))
LIMIT_REACHED = Conflict("webhook_endpoint_limit_reached", context={"limit": MAX_ENDPOINTS})


@router.post(
    COLLECTION,
    status_code=status.HTTP_201_CREATED,
    summary="Webhookエンドポイントの登録",
    description=(
        "Registers an HTTPS endpoint that is sent each change of the organization's feed (SPEC §5.5) as it "
        "commits, from now on, in feed order, signed by the Standard Webhooks scheme. The answer carries "
        "`secret` (`whsec_...`) this once: keep it to verify the signatures. The URL's host must resolve to "
        f"public addresses only (422 `webhook_url_not_allowed`). At most {MAX_ENDPOINTS} endpoints per "
        "organization (409)."
    ),
    responses=problems(LIMIT_REACHED, URL_REFUSED, invalid(WebhookEndpointCreate, url="")),
)
async def create_webhook_endpoint(
    scope: CanManage,
    body: WebhookEndpointCreate,
    service: WebhookServiceDep,
    request: Request,
    response: Response,
) -> WebhookEndpointWithSecret:
    """Register an endpoint."""
    endpoint = await service.create(scope, body)
    created(request, response, endpoint.id, endpoint.version)
    return endpoint


@router.get(
    COLLECTION,
    summary="Webhookエンドポイントの一覧",
    description="The organization's endpoints, oldest first.",
    response_model=Page[WebhookEndpoint],
    responses=problems(),
)
async def list_webhook_endpoints(scope: CanManage, service: WebhookServiceDep, page: PageDep) -> Response:
    """The organization's endpoints (JSON straight from the rows)."""
    return Response(await service.search(scope, page), media_type=JSON)


@router.get(
    ITEM,
    response_model=WebhookEndpoint,
    summary="Webhookエンドポイントの参照",
    description="One endpoint, with its ETag; never its secret.",
    responses=problems(),
)
async def get_webhook_endpoint(
    scope: CanManage, endpoint_id: EndpointIdPath, service: WebhookServiceDep
) -> Response:
    """One endpoint (from its row, read as the list is)."""
    return (await service.get(scope, endpoint_id)).response()


@router.patch(
    ITEM,
    response_model=WebhookEndpoint,
    summary="Webhookエンドポイントの変更",
    description=(
        "`url`, `description`, `event_types`, `enabled`. `enabled: true` enables a disabled endpoint again: delivery "
        "resumes with the message where it stopped. Send If-Match with the ETag you read."
    ),
    responses=problems(URL_REFUSED),
)
async def update_webhook_endpoint(
    scope: CanManage,
    endpoint_id: EndpointIdPath,
    body: Annotated[WebhookEndpointUpdate, Body(default_factory=WebhookEndpointUpdate)],
    expected: IfMatch,
    service: WebhookServiceDep,
) -> Response:
    """Change an endpoint."""
    return (await service.update(scope, endpoint_id, body, expected)).response()


@router.delete(
    ITEM,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Webhookエンドポイントの削除",
    description="Its secret, its progress and its attempts go with it. Send If-Match with the ETag you read.",
    responses=problems(),
)
async def delete_webhook_endpoint(
    scope: CanManage, endpoint_id: EndpointIdPath, expected: IfMatch, service: WebhookServiceDep
) -> Response:
    """Delete an endpoint."""
    await service.delete(scope, endpoint_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    ITEM + "/rotate-secret",
    summary="Webhookシークレットの更新",
    description=(
        "A new secret, answered this once. For 24 hours messages carry two signatures, the new secret's and "
        "the previous one's (space-separated), so that receivers can switch without losing a message."
    ),
    responses=problems(),
)
async def rotate_webhook_secret(
    scope: CanManage,
    endpoint_id: EndpointIdPath,
    expected: IfMatch,
    service: WebhookServiceDep,
    response: Response,
) -> WebhookEndpointWithSecret:
    """Rotate the secret."""
    endpoint = await service.rotate_secret(scope, endpoint_id, expected)
    set_etag(response, endpoint.version)
    return endpoint


@router.post(
    ITEM + "/test",
    summary="Webhookのテスト送信",
    description=(
        'Sends `{"type": "webhook.test"}` now, outside the feed order, and answers its attempt (also listed '
        "with the deliveries). A failed attempt is answered 200 too: see `status_code` and `error`."
    ),
    responses=problems(Conflict("webhook_secret_unreadable")),
)
async def test_webhook_endpoint(
    scope: CanManage, endpoint_id: EndpointIdPath, service: WebhookServiceDep
) -> WebhookDelivery:
    """Send a test message."""
    return await service.send_test(scope, endpoint_id)


@router.get(
    ITEM + "/deliveries",
    summary="Webhookの送信履歴",
    description="Newest first; kept as long as the change feed.",
    responses=problems(),
)
async def list_webhook_deliveries(
    scope: CanManage, endpoint_id: EndpointIdPath, service: WebhookServiceDep, page: PageDep
) -> Page[WebhookDelivery]:
    """The endpoint's attempts."""
    return await service.deliveries(scope, endpoint_id, page)


@router.post(
    ITEM + "/recover",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookEndpoint,
    summary="Webhookの再送",
    description=(
        "Sends again, in feed order, every message after the cursor (a message's `data.cursor`, or one of "
        "the change feed's): the endpoint's delivery continues from there."
    ),
    responses=problems(ProblemError("invalid_cursor"), Gone("cursor_expired", context={"days": 30})),
)
async def recover_webhook_endpoint(
    scope: CanManage, endpoint_id: EndpointIdPath, body: WebhookRecover, service: WebhookServiceDep
) -> Response:
    """Resend from a cursor."""
    endpoint = await service.recover(scope, endpoint_id, body)
    return Response(endpoint.body, status_code=status.HTTP_202_ACCEPTED, media_type=JSON)
