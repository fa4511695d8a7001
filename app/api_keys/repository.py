"""All SQL about API keys."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import aliased

from app.core.attempts import FailureCounter
from app.core.pagination import PageRequest
from app.core.prepared import PreparedSelect
from app.core.repository import Repository
from app.models import ApiKey, Organization


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


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """The outcome of claiming one API password attempt for a key (see claim_attempt)."""

    claimed: bool
    # Claimed: the throttle this attempt set by reaching the threshold (in force if it is wrong);
    # refused: when the throttle in force ends.
    throttled_until: datetime | None


# Wrong API passwords: the shared rule of app/core/attempts.py on the keys' columns.
KEY_FAILURES = FailureCounter(ApiKey.failed_attempts, ApiKey.throttled_until)

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

    async def claim_attempt(
        self, key_id: int, organization_id: int, now: datetime, threshold: int, throttle_until: datetime
    ) -> KeyClaim:
        """Count one API password attempt of a key before the password is checked (SPEC §5.1).

        The threshold counts the failures of all the organization's keys together (the password
        is the organization's: more keys must not mean more guesses), and while any of its keys
        is throttled no attempt is claimed. Claims of one organization take turns on its row
        (PostgreSQL; SQLite runs one writer at a time), the key's row first, as a request that
        already wrote its key's last use does, so that they cannot deadlock.
        """
        await self.session.execute(select(ApiKey.id).where(ApiKey.id == key_id).with_for_update())
        await self.session.execute(
            select(Organization.id).where(Organization.id == organization_id).with_for_update()
        )
        other = aliased(ApiKey)
        others = FailureCounter(other.failed_attempts, other.throttled_until)
        organization_failures = (
            select(func.coalesce(func.sum(others.live(now)), 0))
            .where(other.organization_id == organization_id)
            .scalar_subquery()
        )
        any_throttled = exists().where(other.organization_id == organization_id, others.blocked(now))
        row = (
            await self.session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ~any_throttled)
                .values(KEY_FAILURES.claim(now, threshold, throttle_until, counted=organization_failures))
                .returning(ApiKey.throttled_until)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is not None:
            return KeyClaim(True, row[0])
        ends = await self.session.scalar(
            select(func.max(ApiKey.throttled_until)).where(ApiKey.organization_id == organization_id)
        )
        return KeyClaim(False, ends)

    async def give_back(
        self, key_id: int, claimed_throttle: datetime | None, values: dict[str, object]
    ) -> None:
        """The claim of a right password: the key's count starts again, a throttle this claim set
        ends, and `values` (the digest of the checked password, last use) are written."""
        await self.record_success(key_id, {**KEY_FAILURES.give_back(claimed_throttle), **values})

    async def record_success(self, key_id: int, values: dict[str, object]) -> None:
        """Bookkeeping of a key that does not change its version: failures, digest, last use."""
        await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
