"""All SQL about API keys."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, literal, select, update

from app.core.pagination import PageRequest
from app.core.prepared import PreparedSelect
from app.core.repository import Repository
from app.models import ApiKey, Organization
from app.models.base import UTCDateTime


@dataclass(frozen=True, slots=True)
class KeyCredentials:
    """A key's state and its organization's API password: what every linked-system request reads."""

    id: int
    organization_id: int
    revoked_at: datetime | None
    throttled_until: datetime | None
    credential_digest: str | None
    failed_attempts: int
    last_used_at: datetime | None
    api_password_hash: str | None
    api_password_stamp: str | None


_CREDENTIALS = select(
    ApiKey.id,
    ApiKey.organization_id,
    ApiKey.revoked_at,
    ApiKey.throttled_until,
    ApiKey.credential_digest,
    ApiKey.failed_attempts,
    ApiKey.last_used_at,
    Organization.api_password_hash,
    Organization.api_password_stamp,
).join(Organization, Organization.id == ApiKey.organization_id)
# Built once: the statements of every linked-system request (Basic) and token check.
_CREDENTIALS_BY_KEY = PreparedSelect(_CREDENTIALS.where(ApiKey.key == bindparam("value")))
_CREDENTIALS_BY_ID = PreparedSelect(_CREDENTIALS.where(ApiKey.id == bindparam("value")))

SORTABLE = {
    "created_at": ApiKey.created_at,
    "last_used_at": ApiKey.last_used_at,
    "revoked_at": ApiKey.revoked_at,
    "label": ApiKey.label,
}


class ApiKeyRepository(Repository[ApiKey]):
    """API keys and their organization's API password."""

    model = ApiKey

    async def credentials(
        self, *, key: str | None = None, key_id: int | None = None
    ) -> KeyCredentials | None:
        """What authenticating with a key needs, by the key's value or id, in one round trip."""
        statement, value = (_CREDENTIALS_BY_KEY, key) if key is not None else (_CREDENTIALS_BY_ID, key_id)
        row = await statement.first(self.session, {"value": value})
        return KeyCredentials(*row) if row else None

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

    async def register_failure(
        self, key_id: int, organization_id: int, now: datetime, threshold: int, throttle_until: datetime
    ) -> datetime | None:
        """Count a wrong API password atomically and return when the key's throttle ends.

        The key is throttled from the threshold on, counted for the key or for all the
        organization's keys together: the password is the organization's, so more keys must not
        mean more guesses.
        """
        throttle_ended = and_(ApiKey.throttled_until.is_not(None), ApiKey.throttled_until <= now)
        failures = case((throttle_ended, 1), else_=ApiKey.failed_attempts + 1)
        row = (
            await self.session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id)
                .values(
                    failed_attempts=failures,
                    throttled_until=case(
                        (failures >= threshold, literal(throttle_until, UTCDateTime())),
                        (throttle_ended, literal(None, UTCDateTime())),
                        else_=ApiKey.throttled_until,
                    ),
                )
                .returning(ApiKey.throttled_until)
                .execution_options(synchronize_session=False)
            )
        ).one()
        throttled_until: datetime | None = row[0]
        if throttled_until is not None and throttled_until > now:
            return throttled_until
        organization_failures = await self.session.scalar(
            select(func.coalesce(func.sum(ApiKey.failed_attempts), 0)).where(
                ApiKey.organization_id == organization_id
            )
        )
        if int(organization_failures or 0) < threshold:
            return throttled_until
        await self.record_success(key_id, {"throttled_until": throttle_until})
        return throttle_until

    async def record_success(self, key_id: int, values: dict[str, object]) -> None:
        """Bookkeeping of a key that does not change its version: failures, digest, last use."""
        await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
