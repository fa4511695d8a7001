"""All SQL of authentication: accounts, linked-system credentials, refresh tokens."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, literal, select, update

from app.core.orm import UTCDateTime
from app.core.prepared import PreparedSelect
from app.core.repository import Repository
from app.models import ApiKey, Location, Organization, RefreshToken, User


class RefreshTokenRepository(Repository[RefreshToken]):
    """Refresh tokens, found by the digest of the token."""

    model = RefreshToken

    async def by_digest(self, token_digest: str) -> RefreshToken | None:
        """The stored token with this digest, locked against a concurrent rotation."""
        return await self.one_or_none(
            select(RefreshToken).where(RefreshToken.token_digest == token_digest).with_for_update()
        )

    async def mark_used(self, token_id: int, now: datetime) -> bool:
        """Mark a token used, only if nobody else did first; True when this call won."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_family(self, family: str, now: datetime) -> None:
        """Revoke every token of one login (logout, or reuse of a rotated token)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class PrincipalRow:
    """The few columns authentication needs on every request."""

    id: int
    organization_id: int | None
    role: str
    location_id: int | None
    location_code: str | None
    login_id: str
    security_stamp: str
    locked_until: datetime | None
    password_temporary: bool
    password_expires_at: datetime | None


# Built once: the statement of every authenticated request.
_PRINCIPAL_ROW = PreparedSelect(
    select(
        User.id,
        User.organization_id,
        User.role,
        User.location_id,
        Location.code,
        User.login_id,
        User.security_stamp,
        User.locked_until,
        User.password_temporary,
        User.password_expires_at,
    )
    .outerjoin(Location, Location.id == User.location_id)
    .where(User.id == bindparam("user_id"))
)


class AccountRepository(Repository[User]):
    """What logging in and checking a token read and count on a user or operator."""

    model = User

    async def by_login_id(self, login_id: str) -> User | None:
        """The user with this login ID, ignoring case."""
        return await self.one_or_none(select(User).where(func.lower(User.login_id) == login_id.lower()))

    async def principal_row(self, user_id: int) -> PrincipalRow | None:
        """One cheap read of what decides whether a token still stands (on every request)."""
        row = await _PRINCIPAL_ROW.first(self.session, {"user_id": user_id})
        return PrincipalRow(*row) if row else None

    async def register_failed_login(
        self, user_id: int, now: datetime, threshold: int, lock_until: datetime
    ) -> tuple[int, datetime | None]:
        """Count one failure atomically and lock at the threshold; (failures in a row, locked_until).

        One UPDATE, so that racing failures are counted exactly and the lock triggers once.
        A lock that has ended starts a new count.
        """
        lock_ended = and_(User.locked_until.is_not(None), User.locked_until <= now)
        failures = case((lock_ended, 1), else_=User.failed_login_count + 1)
        row = (
            await self.session.execute(
                update(User)
                .where(User.id == user_id)
                .values(
                    failed_login_count=failures,
                    locked_until=case(
                        (failures >= threshold, literal(lock_until, UTCDateTime())),
                        (lock_ended, literal(None, UTCDateTime())),
                        else_=User.locked_until,
                    ),
                )
                .returning(User.failed_login_count, User.locked_until)
                .execution_options(synchronize_session=False)
            )
        ).one()
        return int(row[0]), row[1]

    async def record_login(self, user_id: int, now: datetime, new_hash: str | None) -> None:
        """Clear the failure count and note the login; bookkeeping, so `version` stays."""
        values: dict[str, object] = {"failed_login_count": 0, "locked_until": None, "last_login_at": now}
        if new_hash is not None:
            values["password_hash"] = new_hash
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


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


class LinkedSystemRepository(Repository[ApiKey]):
    """What authenticating a linked system reads and counts on an API key."""

    model = ApiKey

    async def credentials(
        self, *, key: str | None = None, key_id: int | None = None
    ) -> KeyCredentials | None:
        """What authenticating with a key needs, by the key's value or id, in one round trip."""
        statement, value = (_CREDENTIALS_BY_KEY, key) if key is not None else (_CREDENTIALS_BY_ID, key_id)
        row = await statement.first(self.session, {"value": value})
        return KeyCredentials(*row) if row else None

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
