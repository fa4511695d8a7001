"""Webhook endpoints (SPEC §5.7): register, list, read, change, delete, rotate the secret, send a
test message, list the attempts, and resend from a feed position.

The secret is sealed (app/security/sealing.py), bound to its organization, its endpoint and its
purpose; it appears in the answers to creation and rotation only, never in an audit event, a log
line or an idempotency record of anything else.
"""

import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends

from app.auth.dependencies import OrganizationScope
from app.http.errors import (
    Conflict,
    FieldError,
    Gone,
    NotFound,
    PreconditionFailed,
    ProblemError,
    Unprocessable,
)
from app.http.etag import check_version
from app.http.pagination import Page, PageRequest
from app.http.resource import StoredResource, rows_page_json
from app.journal.audited import (
    BOOKKEEPING,
    ResourceRef,
    StoredRow,
    delete_row_versioned,
    public_form,
    update_row_audited,
)
from app.journal.context import RequestContext, provide
from app.security.sealing import KeyRing, SealedSecretUnreadable, sealing_keys
from app.webhooks import signing
from app.webhooks.client import DeliveryClient
from app.webhooks.feed_source import decode_cursor, encode_cursor, feed_actions
from app.webhooks.guard import AddressGuard, UrlRefused
from app.webhooks.messages import reason_context
from app.webhooks.repository import SHOWN, SHOWN_COLUMNS, Sealed, WebhookRepository
from app.webhooks.schemas import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookRecover,
)

logger = logging.getLogger("ainas.webhooks")

RESOURCE = "webhook_endpoint"
MAX_ENDPOINTS = 10
# After a rotation, messages carry the previous secret's signature too for this long.
PREVIOUS_SECRET_HOURS = 24


def associated_data(purpose: str, organization_id: int, endpoint_id: str) -> bytes:
    """What a sealed secret is bound to: its organization, its endpoint and its purpose."""
    return f"ainas:webhook:{purpose}:{organization_id}:{endpoint_id}".encode()


def signing_secrets(
    keys: KeyRing, organization_id: int, endpoint_id: str, sealed: Sealed, now: datetime
) -> list[str]:
    """The secrets an attempt signs with: the current one, and the previous one for a day after a
    rotation. SealedSecretUnreadable when the current one does not open."""
    found = [
        keys.open(
            sealed.key_id, sealed.secret, associated_data("secret", organization_id, endpoint_id)
        ).decode()
    ]
    if sealed.previous is not None and sealed.previous_until is not None and now < sealed.previous_until:
        try:
            found.append(
                keys.open(
                    sealed.key_id, sealed.previous, associated_data("previous", organization_id, endpoint_id)
                ).decode()
            )
        except SealedSecretUnreadable:
            logger.warning("the previous secret of webhook endpoint %s does not open", endpoint_id)
    return found


def recorded(endpoint: WebhookEndpoint | StoredResource) -> dict[str, Any]:
    """What the audit trail keeps of an endpoint: its public form (never its secret)."""
    return {name: value for name, value in public_form(endpoint).items() if name not in BOOKKEEPING}


def url_refusal(refused: UrlRefused, field: str = "url") -> Unprocessable:
    """422 webhook_url_not_allowed, naming why."""
    context = reason_context(refused.reason)
    return Unprocessable(
        "webhook_url_not_allowed",
        context=context,
        errors=[FieldError(field, "webhook_url_not_allowed", context)],
    )


def checked_event_types(event_types: list[str]) -> list[str]:
    """The event types without repeats, each an action of the feed; 422 naming the others."""
    actions = feed_actions()
    allowed = ", ".join(sorted(actions))
    errors = [
        FieldError(
            f"event_types.{index}", "webhook_event_type_unknown", {"event_type": name, "allowed": allowed}
        )
        for index, name in enumerate(event_types)
        if name not in actions
    ]
    if errors:
        raise Unprocessable(errors=errors)
    return list(dict.fromkeys(event_types))


def delivery_schema(row: Any, secret_key: str, organization_id: int) -> WebhookDelivery:
    """The public form of an attempt."""
    return WebhookDelivery(
        id=str(row.id),
        webhook_id=row.webhook_id,
        type=row.type,
        cursor=encode_cursor(secret_key, organization_id, row.seq) if row.seq is not None else None,
        attempt=row.attempt,
        status_code=row.status_code,
        error=row.error,
        duration_ms=row.duration_ms,
        attempted_at=row.attempted_at,
        next_attempt_at=row.next_attempt_at,
        response_body=row.response_body,
    )


class WebhookService:
    """An organization's webhook endpoints."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self.session = context.session
        self.audit = context.audit
        self.settings = context.settings
        self.clock = context.clock

    @property
    def webhooks(self) -> WebhookRepository:
        """The repository of this request's session."""
        return WebhookRepository(self.session)

    @property
    def keys(self) -> KeyRing:
        """The configured sealing keys."""
        return sealing_keys(self.settings)

    async def _check_url(self, url: str) -> None:
        """422 unless messages may go to this URL now (its host resolved and checked)."""
        try:
            await AddressGuard(self.settings).target(url)
        except UrlRefused as refused:
            raise url_refusal(refused) from None

    def _sealed(
        self, organization_id: int, endpoint_id: str, secret: str, previous: str | None, now: datetime
    ) -> dict[str, Any]:
        """The columns that keep the secret (and the previous one, for a day) sealed."""
        keys = self.keys
        values: dict[str, Any] = {
            "key_id": keys.current_id,
            "sealed_secret": keys.seal(
                secret.encode(), associated_data("secret", organization_id, endpoint_id)
            ),
            "sealed_previous_secret": None,
            "previous_secret_until": None,
        }
        if previous is not None:
            values["sealed_previous_secret"] = keys.seal(
                previous.encode(), associated_data("previous", organization_id, endpoint_id)
            )
            values["previous_secret_until"] = now + timedelta(hours=PREVIOUS_SECRET_HOURS)
        return values

    async def create(
        self, scope: OrganizationScope, body: WebhookEndpointCreate
    ) -> WebhookEndpointWithSecret:
        """Register an endpoint; it is sent the changes that commit from now on."""
        event_types = checked_event_types(body.event_types)
        await self._check_url(body.url)
        organization_id = scope.organization_id
        await self.webhooks.lock_organization(organization_id)
        if await self.webhooks.count(organization_id) >= MAX_ENDPOINTS:
            raise Conflict("webhook_endpoint_limit_reached", context={"limit": MAX_ENDPOINTS})
        now = self.clock.now()
        endpoint_id = secrets.token_hex(16).upper()
        secret = signing.new_secret()
        row = await self.webhooks.insert(
            {
                "id": endpoint_id,
                "organization_id": organization_id,
                "url": body.url,
                "description": body.description,
                "event_types": event_types,
                "enabled": True,
                "disabled_reason": None,
                "created_at": now,
                "updated_at": now,
                **self._sealed(organization_id, endpoint_id, secret, None, now),
            }
        )
        last, _ = await self.webhooks.feed_position(organization_id)
        await self.webhooks.add_progress(endpoint_id, organization_id, last)
        await self.webhooks.wake(organization_id)
        endpoint = WebhookEndpoint.model_validate(dict(zip(SHOWN_COLUMNS, row, strict=True)))
        changes = {name: [None, value] for name, value in recorded(endpoint).items()}
        await self.audit.record(
            scope.principal.actor, "webhook_endpoint.create", RESOURCE, endpoint_id, organization_id, changes
        )
        return WebhookEndpointWithSecret(**endpoint.model_dump(), secret=secret)

    async def search(self, scope: OrganizationScope, page: PageRequest) -> bytes:
        """The organization's endpoints, as the JSON of `Page[WebhookEndpoint]` (rows straight to
        JSON, as the single read)."""
        return rows_page_json(WebhookEndpoint, *await self.webhooks.search(scope.organization_id, page), page)

    @staticmethod
    def _endpoint_id(endpoint_id: str) -> str | None:
        """The id as stored, or None when no endpoint could have it."""
        if len(endpoint_id) == 32 and endpoint_id.isascii() and endpoint_id.isalnum():
            return endpoint_id.upper()
        return None

    async def _stored(self, scope: OrganizationScope, endpoint_id: str) -> StoredRow:
        """One endpoint of the organization as it shows, read as the list is (the fast path);
        404 otherwise (another organization's too)."""
        id_ = self._endpoint_id(endpoint_id)
        row = await self.webhooks.shown(scope.organization_id, id_) if id_ is not None else None
        if row is None:
            raise NotFound()
        return StoredRow(WebhookEndpoint, SHOWN_COLUMNS, row)

    async def get(self, scope: OrganizationScope, endpoint_id: str) -> StoredResource:
        """One endpoint."""
        return (await self._stored(scope, endpoint_id)).resource

    async def update(
        self,
        scope: OrganizationScope,
        endpoint_id: str,
        body: WebhookEndpointUpdate,
        expected: set[int] | None,
    ) -> StoredResource:
        """Change url, description, event types or enabled; enabling again resumes where delivery stopped."""
        stored = await self._stored(scope, endpoint_id)
        check_version(expected, stored["version"])  # before the values are checked, as always
        values = body.model_dump(exclude_unset=True)
        if "event_types" in values:
            values["event_types"] = checked_event_types(values["event_types"])
        if "url" in values and values["url"] != stored["url"]:
            await self._check_url(values["url"])
        if "enabled" in values and values["enabled"] != stored["enabled"]:
            values["disabled_reason"] = None
        changed = {name: value for name, value in values.items() if stored[name] != value}
        action = "webhook_endpoint.update"
        if "enabled" in changed:
            action = "webhook_endpoint.enable" if changed["enabled"] else "webhook_endpoint.disable"
        endpoint = await update_row_audited(
            self.webhooks,
            stored,
            values,
            expected_versions=expected,
            audit=self.audit,
            actor=scope.principal.actor,
            action=action,
            ref=ResourceRef(RESOURCE, stored["id"], scope.organization_id),
        )
        if changed.keys() & {"url", "event_types", "enabled"}:
            # The instance delivering it stops at its next record; the next attempt is made at once.
            await self.webhooks.restart(stored["id"])
            await self.webhooks.wake(scope.organization_id)
        return endpoint

    async def delete(self, scope: OrganizationScope, endpoint_id: str, expected: set[int] | None) -> None:
        """Delete an endpoint, its secret, progress and attempts; the audit keeps its public form."""
        stored = await self._stored(scope, endpoint_id)
        endpoint = await delete_row_versioned(self.webhooks, stored, expected_versions=expected)
        changes = {name: [value, None] for name, value in recorded(endpoint).items()}
        await self.audit.record(
            scope.principal.actor,
            "webhook_endpoint.delete",
            RESOURCE,
            stored["id"],
            scope.organization_id,
            changes,
        )

    async def rotate_secret(
        self, scope: OrganizationScope, endpoint_id: str, expected: set[int] | None
    ) -> WebhookEndpointWithSecret:
        """A new secret; messages carry the previous one's signature too for 24 hours. One
        versioned UPDATE of the row read (412 when it moved since)."""
        stored = await self._stored(scope, endpoint_id)
        check_version(expected, stored["version"])
        endpoint_id, organization_id = stored["id"], scope.organization_id
        sealed = await self.webhooks.sealed(endpoint_id)
        previous = None
        unreadable = False
        if sealed is not None:
            try:
                previous = self.keys.open(
                    sealed.key_id, sealed.secret, associated_data("secret", organization_id, endpoint_id)
                ).decode()
            except SealedSecretUnreadable:
                logger.warning(
                    "the secret of webhook endpoint %s does not open: rotated without it", endpoint_id
                )
                unreadable = True
        now = self.clock.now()
        secret = signing.new_secret()
        values = self._sealed(organization_id, endpoint_id, secret, previous, now)
        row = await self.webhooks.update_versioned(
            endpoint_id, stored["version"], {**values, "updated_at": now}, SHOWN
        )
        if row is None:
            raise PreconditionFailed()  # changed by someone else between our read and our write
        if unreadable:
            # Its delivery waited for a secret that opens: resumed at once.
            await self.webhooks.restart(endpoint_id)
            await self.webhooks.wake(organization_id)
        endpoint = WebhookEndpoint.model_validate(dict(zip(SHOWN_COLUMNS, row, strict=True)))
        until = values["previous_secret_until"]
        await self.audit.record(
            scope.principal.actor,
            "webhook_endpoint.rotate_secret",
            RESOURCE,
            endpoint_id,
            organization_id,
            {"previous_secret_until": [None, until.isoformat() if until else None]},
        )
        return WebhookEndpointWithSecret(**endpoint.model_dump(), secret=secret)

    async def send_test(self, scope: OrganizationScope, endpoint_id: str) -> WebhookDelivery:
        """Send a `webhook.test` message now, outside the feed order; its attempt is logged."""
        stored = await self._stored(scope, endpoint_id)
        endpoint_id, organization_id = stored["id"], scope.organization_id
        sealed = await self.webhooks.sealed(endpoint_id)
        now = self.clock.now()
        try:
            assert sealed is not None
            signing_with = signing_secrets(self.keys, organization_id, endpoint_id, sealed, now)
        except SealedSecretUnreadable:
            raise Conflict("webhook_secret_unreadable") from None
        webhook_id = f"msg_test_{secrets.token_hex(12)}"
        body = signing.test_body(now)
        client = DeliveryClient(self.settings)
        try:
            outcome = await client.send(
                stored["url"], body, signing.headers(signing_with, webhook_id, int(time.time()), body)
            )
        finally:
            await client.close()
        values = {
            "endpoint_id": endpoint_id,
            "webhook_id": webhook_id,
            "type": signing.TEST_TYPE,
            "seq": None,
            "attempt": 1,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
            "attempted_at": now,
            "next_attempt_at": None,
            "response_body": outcome.body,
        }
        await self.webhooks.record_attempt(values)
        await self.audit.record(
            scope.principal.actor,
            "webhook_endpoint.test",
            RESOURCE,
            endpoint_id,
            organization_id,
            {"status_code": [None, outcome.status_code]},
        )
        rows, _ = await self.webhooks.deliveries(endpoint_id, PageRequest(1, 0, None))
        return delivery_schema(rows[0], self.settings.secret_key, organization_id)

    async def deliveries(
        self, scope: OrganizationScope, endpoint_id: str, page: PageRequest
    ) -> Page[WebhookDelivery]:
        """The endpoint's attempts, newest first."""
        stored = await self._stored(scope, endpoint_id)
        rows, total = await self.webhooks.deliveries(stored["id"], page)
        key = self.settings.secret_key
        items = [delivery_schema(attempt, key, scope.organization_id) for attempt in rows]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    async def recover(
        self, scope: OrganizationScope, endpoint_id: str, body: WebhookRecover
    ) -> StoredResource:
        """Resend every message after a feed cursor (400 invalid_cursor, 410 cursor_expired)."""
        stored = await self._stored(scope, endpoint_id)
        endpoint_id, organization_id = stored["id"], scope.organization_id
        position = decode_cursor(self.settings.secret_key, organization_id, body.after)
        if position is None:
            raise ProblemError("invalid_cursor")
        last, pruned_through = await self.webhooks.feed_position(organization_id)
        if position > last:
            raise ProblemError("invalid_cursor")
        if position < pruned_through:
            raise Gone("cursor_expired", context={"days": self.settings.change_retention_days})
        await self.webhooks.restart(endpoint_id, position)
        await self.webhooks.wake(organization_id)
        await self.audit.record(
            scope.principal.actor,
            "webhook_endpoint.recover",
            RESOURCE,
            endpoint_id,
            organization_id,
            {"after": [None, body.after]},
        )
        return stored.resource


WebhookServiceDep = Annotated[WebhookService, Depends(provide(WebhookService))]
