"""All SQL about API keys."""

from sqlalchemy import select

from app.auth.repository import LinkedSystemRepository
from app.db.repository import Repository
from app.http.pagination import PageRequest
from app.models import ApiKey, Organization

SORTABLE = {
    "created_at": ApiKey.created_at,
    "last_used_at": ApiKey.last_used_at,
    "revoked_at": ApiKey.revoked_at,
    "label": ApiKey.label,
}


class ApiKeyRepository(LinkedSystemRepository):
    """API keys and their organization's API password."""

    async def of_organization(self, organization_id: int, key_id: int) -> ApiKey | None:
        """One key of the organization."""
        return await self.one_or_none(
            select(ApiKey).where(ApiKey.organization_id == organization_id, ApiKey.id == key_id)
        )

    async def list_of(self, organization_id: int, page: PageRequest) -> tuple[list[ApiKey], int]:
        """The organization's keys, revoked ones included."""
        return await self.page(
            select(ApiKey).where(ApiKey.organization_id == organization_id),
            order_by=page.order_by(SORTABLE, "created_at", ApiKey.id),
            limit=page.limit,
            offset=page.offset,
        )


class ApiPasswordRepository(Repository[Organization]):
    """The organization's API password: the columns of the organization row that API keys own."""

    model = Organization
