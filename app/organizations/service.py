"""Organizations (依頼人組織) and the operator's onboarding (利用登録, SPEC §5.4)."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends

from app.api_keys.service import GENERATED_API_PASSWORD_LENGTH, ApiKeyService
from app.auth.dependencies import OrganizationScope
from app.auth.organization_ids import format_organization_id, parse_organization_id
from app.auth.permissions import Permission, has_permission
from app.auth.principals import Principal, Role
from app.certificates.service import CertificateService
from app.config.clock import JAPAN
from app.http.errors import FieldError, Unprocessable
from app.http.pagination import PageRequest
from app.http.resource import StoredResource, rows_page_json
from app.journal.audit_trail import Actor
from app.journal.audited import ResourceRef, StoredRow, record_created, update_row_audited
from app.journal.context import RequestContext, provide
from app.models import Organization as OrganizationRow
from app.organizations.repository import SHOWN_COLUMNS, OrganizationRepository
from app.organizations.schemas import (
    NoticeAdmin,
    OnboardingResult,
    Organization,
    OrganizationDetail,
    OrganizationFilters,
    OrganizationOnboard,
    OrganizationUpdate,
    RegistrationNotice,
)
from app.security.passwords import generate_password
from app.users.service import UserService

RESOURCE = "organization"


class OrganizationService:
    """Reads and changes organizations; operators onboard new ones."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def organizations(self) -> OrganizationRepository:
        """The repository of this request's session."""
        return OrganizationRepository(self.context.session)

    async def search(self, principal: Principal, filters: OrganizationFilters, page: PageRequest) -> bytes:
        """Operators search all organizations; everyone else sees their own. The JSON of
        `Page[Organization]` (rows straight to JSON)."""
        exact_id = parse_organization_id(filters.id) if filters.id else None
        if filters.id and exact_id is None:
            return rows_page_json(Organization, SHOWN_COLUMNS, [], 0, page)
        found = await self.organizations.search(
            only_id=None if principal.is_operator else principal.organization_id,
            exact_id=exact_id,
            filters=filters,
            page=page,
        )
        return rows_page_json(Organization, *found, page)

    async def get(self, scope: OrganizationScope) -> StoredResource:
        """依頼人組織の参照: the row the scope read (operators: to know that it exists), or reads
        now, on the fast path."""
        return await self._detail(scope, await scope.organization_values())

    async def _detail(self, scope: OrganizationScope, values: Mapping[str, Any]) -> StoredResource:
        """The organization's answer from its values (its columns, or its public form), with the
        certificate in use for callers who may read certificates; for the others `certificate`
        is left out (unset), not null (see OrganizationDetail)."""
        if not has_permission(scope.principal, Permission.CERTIFICATE_MANAGE):
            detail = OrganizationDetail.model_validate(values)
        else:
            certificate = await CertificateService(self.context).current(scope.organization_id)
            detail = OrganizationDetail.model_validate({**values, "certificate": certificate})
        return StoredResource.from_model(detail, exclude_unset=True)

    async def update(
        self, scope: OrganizationScope, body: OrganizationUpdate, expected: set[int] | None
    ) -> StoredResource:
        """依頼人組織名の変更: one versioned UPDATE of the row the scope read (412 when it moved
        since); answers as GET does."""
        values = await scope.organization_values()
        stored = StoredRow(Organization, SHOWN_COLUMNS, tuple(values[name] for name in SHOWN_COLUMNS))
        organization = await update_row_audited(
            self.organizations,
            stored,
            body.model_dump(exclude_unset=True),
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="organization.update",
            ref=ResourceRef(RESOURCE, format_organization_id(scope.organization_id), scope.organization_id),
        )
        return await self._detail(scope, organization.public_form())

    async def onboard(self, actor: Actor, body: OrganizationOnboard) -> OnboardingResult:
        """Create the organization, its admins, its first API key and API password; answer the notice once."""
        seen: set[str] = set()
        duplicates = []
        for index, admin in enumerate(body.admins):
            if admin.login_id.lower() in seen:
                duplicates.append(FieldError(f"admins[{index}].login_id", "duplicate_login_id"))
            seen.add(admin.login_id.lower())
        if duplicates:
            raise Unprocessable(errors=duplicates)
        now = self.context.clock.now()
        organization = await self.organizations.add(
            OrganizationRow(name=body.name, short_name=body.short_name, created_at=now, updated_at=now)
        )
        organization_id = format_organization_id(organization.id)
        ref = ResourceRef(RESOURCE, organization_id, organization.id)
        await record_created(
            self.context.audit, actor, "organization.create", ref, Organization.model_validate(organization)
        )
        users = UserService(self.context)
        notice_admins = []
        for admin in body.admins:
            password = generate_password()
            await users.insert(
                actor,
                organization_id=organization.id,
                location=None,
                login_id=admin.login_id,
                name=admin.name,
                role=Role.ADMIN,
                password=password,
                temporary=True,
            )
            notice_admins.append(
                NoticeAdmin(name=admin.name, login_id=admin.login_id, initial_password=password)
            )
        keys = ApiKeyService(self.context)
        key = await keys.issue(organization.id, actor, None)
        api_password = generate_password(GENERATED_API_PASSWORD_LENGTH)
        await keys.set_password(organization, actor, api_password)
        return OnboardingResult(
            organization=Organization.model_validate(organization),
            registration_notice=RegistrationNotice(
                registration_date=now.astimezone(JAPAN).date(),
                organization_id=organization_id,
                organization_name=organization.name,
                login_url=self.context.settings.login_url,
                api_key=key.key,
                api_initial_password=api_password,
                admins=notice_admins,
            ),
        )


OrganizationServiceDep = Annotated[OrganizationService, Depends(provide(OrganizationService))]
