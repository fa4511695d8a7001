"""All SQL about API keys."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, update

from app.api_keys.schemas import ApiKey as ApiKeySchema
from app.auth.repository import LinkedSystemRepository
from app.db.prepared import PreparedSelect, PreparedWrite
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.models import ApiKey, Organization

# What a key shows, in the order of the ApiKey schema's fields (never its digest or throttle).
SHOWN = tuple(getattr(ApiKey, name) for name in ApiKeySchema.model_fields)
SHOWN_COLUMNS = tuple(ApiKeySchema.model_fields)
# Not named as columns: an UPDATE keeps those names for the values it sets.
_OF_ORGANIZATION = (ApiKey.organization_id == bindparam("in_organization"), ApiKey.id == bindparam("key_id"))
# One key of an organization as it shows, on the fast path (app/db/prepared.py).
_SHOWN_SELECT = PreparedSelect(select(*SHOWN).where(*_OF_ORGANIZATION))
# Revoking: one statement, which changes a key that still works and nothing else.
_REVOKE = PreparedWrite(
    update(ApiKey)
    .where(*_OF_ORGANIZATION, ApiKey.revoked_at.is_(None))
    .values(revoked_at=bindparam("now", type_=ApiKey.revoked_at.type), credential_digest=None)
    .returning(ApiKey.id)
)

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

    async def shown(self, organization_id: int, key_id: int) -> Sequence[Any] | None:
        """One key of the organization as it shows (`SHOWN_COLUMNS`), or None."""
        return await _SHOWN_SELECT.first(self.session, {"in_organization": organization_id, "key_id": key_id})

    async def insert(self, values: Mapping[str, Any]) -> Sequence[Any]:
        """Insert a new key and read back what it shows (`SHOWN_COLUMNS`), in one statement."""
        return await self.insert_returning(values, SHOWN)

    async def revoke(self, organization_id: int, key_id: int, now: datetime) -> bool:
        """Revoke a key of the organization that still works (its digest goes too, so no cached
        check outlives it); False when there is no such key (none, or revoked already)."""
        params = {"in_organization": organization_id, "key_id": key_id, "now": now}
        return bool(await _REVOKE.in_transaction(self.session, params))

    async def list_of(
        self, organization_id: int, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """The organization's keys, revoked ones included, as the single read selects them
        (`SHOWN_COLUMNS`): (column names, rows, total)."""
        listed = _list_select(page.sort_key(SORTABLE, "created_at"), deep=page.offset >= DEFERRED_JOIN_OFFSET)
        params = {"organization_id": organization_id}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total


@lru_cache(maxsize=64)
def _list_select(sort: str, *, deep: bool) -> ListSelect:
    """The key list of one sort key."""
    statement = select(*SHOWN).where(ApiKey.organization_id == bindparam("organization_id"))
    return ApiKeyRepository.listed(statement, order_by=ordering(SORTABLE, sort, ApiKey.id), deep=deep)


class ApiPasswordRepository(Repository[Organization]):
    """The organization's API password: the columns of the organization row that API keys own."""

    model = Organization
