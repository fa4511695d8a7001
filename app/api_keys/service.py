"""APIキーの発行 and the API password (SPEC §2.4): issue, list, revoke; set or change the password."""

import secrets
from typing import Annotated

from fastapi import Depends

from app.api_keys.repository import SHOWN_COLUMNS, ApiKeyRepository, ApiPasswordRepository
from app.api_keys.schemas import ApiKey, ApiKeyCreate, ApiPasswordChange, ApiPasswordChanged
from app.auth.dependencies import OrganizationScope
from app.auth.linked_systems import LinkedSystemAuth
from app.auth.principals import PrincipalKind
from app.http.errors import FieldError, NotFound, Unprocessable
from app.http.ids import parse_row_id
from app.http.pagination import PageRequest
from app.http.resource import row_json, rows_page_json
from app.journal.audit_trail import Actor
from app.journal.context import RequestContext, provide
from app.models import Organization
from app.security.credentials import new_stamp
from app.security.passwords import generate_password, password_errors

RESOURCE = "api_key"
GENERATED_API_PASSWORD_LENGTH = 24


def new_api_key() -> str:
    """32 upper-case hexadecimal characters from the operating system's secure generator."""
    return secrets.token_hex(16).upper()


class ApiKeyService:
    """Keys and the API password of one organization."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def keys(self) -> ApiKeyRepository:
        """The repository of this request's session."""
        return ApiKeyRepository(self.context.session)

    async def search(self, scope: OrganizationScope, page: PageRequest) -> bytes:
        """All keys of the organization, revoked ones included, as the JSON of `Page[ApiKey]`
        (rows straight to JSON, as the single read)."""
        return rows_page_json(ApiKey, *await self.keys.list_of(scope.organization_id, page), page)

    async def issue(self, organization_id: int, actor: Actor, label: str | None) -> ApiKey:
        """A new active key; the others stay active, so a linked system can move over without downtime."""
        row = await self.keys.insert(
            {
                "organization_id": organization_id,
                "key": new_api_key(),
                "label": label,
                "created_at": self.context.clock.now(),
                "created_by": actor.id or actor.kind,
                "failed_attempts": 0,
            }
        )
        key = ApiKey.model_validate(dict(zip(SHOWN_COLUMNS, row, strict=True)))
        await self.context.audit.record(
            actor,
            "api_key.issue",
            RESOURCE,
            key.id,
            organization_id,
            {"key": [None, key.key], "label": [None, label]},
        )
        return key

    async def create(self, scope: OrganizationScope, body: ApiKeyCreate) -> ApiKey:
        """APIキーの発行."""
        return await self.issue(scope.organization_id, scope.principal.actor, body.label)

    async def get(self, scope: OrganizationScope, key_id: str) -> bytes:
        """One key of the organization as JSON, from its row (the fast path); 404 otherwise."""
        id_ = parse_row_id(key_id)
        row = await self.keys.shown(scope.organization_id, id_) if id_ is not None else None
        if row is None:
            raise NotFound()
        return row_json(ApiKey, SHOWN_COLUMNS, row)

    async def revoke(self, scope: OrganizationScope, key_id: str) -> None:
        """Revoke a key: it stops working at once. Revoking a revoked key changes nothing.

        One conditional UPDATE; only when it changed nothing is the key looked up (404, or
        revoked already)."""
        id_ = parse_row_id(key_id)
        if id_ is None:
            raise NotFound()
        now = self.context.clock.now()
        if not await self.keys.revoke(scope.organization_id, id_, now):
            if await self.keys.shown(scope.organization_id, id_) is None:
                raise NotFound()
            return
        await self.context.audit.record(
            scope.principal.actor,
            "api_key.revoke",
            RESOURCE,
            str(id_),
            scope.organization_id,
            {"revoked_at": [None, now.isoformat()]},
        )

    async def set_password(self, organization: Organization, actor: Actor, password: str) -> None:
        """Store a new API password hash; every linked-system token and cached check under the old one ends."""
        now = self.context.clock.now()
        previous = organization.api_password_changed_at
        await ApiPasswordRepository(self.context.session).update(
            organization,
            {
                "api_password_hash": await self.context.runtime.hasher.hash(password),
                "api_password_changed_at": now,
                "api_password_stamp": new_stamp(),
                "updated_at": now,
            },
        )
        await self.context.audit.record(
            actor,
            "api_password.change",
            "organization",
            f"{organization.id:09d}",
            organization.id,
            {"api_password_changed_at": [previous.isoformat() if previous else None, now.isoformat()]},
        )

    async def change_password(self, scope: OrganizationScope, body: ApiPasswordChange) -> ApiPasswordChanged:
        """Admins and operators set (or generate) the API password; a linked system proves the current one."""
        organization = await scope.organization()
        linked_system = scope.principal.kind is PrincipalKind.LINKED_SYSTEM
        if linked_system:
            errors = [
                FieldError(name, "missing")
                for name in ("current_password", "new_password")
                if getattr(body, name) is None
            ]
            if errors:
                raise Unprocessable(errors=errors)
        generated = None
        new_password = body.new_password
        if new_password is None:
            new_password = generated = generate_password(GENERATED_API_PASSWORD_LENGTH)
        errors = password_errors(new_password, None, field="new_password")
        if errors:
            raise Unprocessable(errors=errors)
        if linked_system:
            # Checked last, once the rest is known to be acceptable: it is a counted attempt.
            assert body.current_password is not None
            assert scope.principal.api_key_id is not None
            await LinkedSystemAuth(self.context).check_current_password(
                scope.principal.api_key_id, organization, body.current_password
            )
        await self.set_password(organization, scope.principal.actor, new_password)
        assert organization.api_password_changed_at is not None
        return ApiPasswordChanged(
            api_password_changed_at=organization.api_password_changed_at, api_password=generated
        )


ApiKeyServiceDep = Annotated[ApiKeyService, Depends(provide(ApiKeyService))]
