"""All SQL about API keys."""

from functools import lru_cache

from sqlalchemy import bindparam, select

from app.auth.repository import LinkedSystemRepository
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
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
        listed = _list_select(page.sort_key(SORTABLE, "created_at"), deep=page.offset >= DEFERRED_JOIN_OFFSET)
        params = {"organization_id": organization_id}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return [row[0] for row in rows], total


@lru_cache(maxsize=64)
def _list_select(sort: str, *, deep: bool) -> ListSelect:
    """The key list of one sort key."""
    statement = select(ApiKey).where(ApiKey.organization_id == bindparam("organization_id"))
    return ApiKeyRepository.listed(statement, order_by=ordering(SORTABLE, sort, ApiKey.id), deep=deep)


class ApiPasswordRepository(Repository[Organization]):
    """The organization's API password: the columns of the organization row that API keys own."""

    model = Organization
