"""All SQL of authentication: accounts, linked-system credentials, refresh tokens."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, exists, func, select, update
from sqlalchemy.orm import aliased

from app.db.prepared import PreparedSelect
from app.db.repository import Repository
from app.models import ApiKey, Location, Organization, RefreshToken, User
from app.security.attempts import FailureCounter


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
    password_temporary: bool
    password_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class LoginCandidate:
    """A user whose password one claimed attempt may now check (see AccountRepository.claim_login)."""

    id: int
    organization_id: int | None
    login_id: str
    password_hash: str
    password_temporary: bool
    password_expires_at: datetime | None
    security_stamp: str
    # Failures in a row, this attempt counted as one until its password proves right.
    failures: int
    # The lock this attempt set by reaching the threshold (it is in force if the password is wrong).
    claimed_lock: datetime | None


@dataclass(frozen=True, slots=True)
class LockedUser:
    """A user whose login attempt was refused unchecked, and until when."""

    organization_id: int | None
    login_id: str
    locked_until: datetime | None


# Failed logins: the shared rule of app/security/attempts.py on the users' columns.
LOGIN_FAILURES = FailureCounter(User.failed_login_count, User.locked_until)

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
        User.password_temporary,
        User.password_expires_at,
    )
    .outerjoin(Location, Location.id == User.location_id)
    .where(User.id == bindparam("user_id"))
)


class AccountRepository(Repository[User]):
    """What logging in and checking a token read and count on a user or operator."""

    model = User

    async def principal_row(self, user_id: int) -> PrincipalRow | None:
        """One cheap read of what decides whether a token still stands (on every request)."""
        row = await _PRINCIPAL_ROW.first(self.session, {"user_id": user_id})
        return PrincipalRow(*row) if row else None

    async def claim_login(
        self,
        now: datetime,
        threshold: int,
        lock_until: datetime,
        *,
        login_id: str | None = None,
        user_id: int | None = None,
    ) -> LoginCandidate | None:
        """Count one login attempt before its password is checked (SPEC §5.1): one conditional
        UPDATE, so that racing attempts are counted exactly and at most `threshold` of them are
        ever checked. None when there is no such user, or it is locked (see `locked`)."""
        row = (
            await self.session.execute(
                update(User)
                .where(_account(login_id, user_id), LOGIN_FAILURES.open(now))
                .values(LOGIN_FAILURES.claim(now, threshold, lock_until))
                .returning(
                    User.id,
                    User.organization_id,
                    User.login_id,
                    User.password_hash,
                    User.password_temporary,
                    User.password_expires_at,
                    User.security_stamp,
                    User.failed_login_count,
                    User.locked_until,
                )
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        return LoginCandidate(*row) if row else None

    async def locked(self, *, login_id: str | None = None, user_id: int | None = None) -> LockedUser | None:
        """The user whose attempt `claim_login` refused, with its lock; None when there is none."""
        row = (
            await self.session.execute(
                select(User.organization_id, User.login_id, User.locked_until).where(
                    _account(login_id, user_id)
                )
            )
        ).one_or_none()
        return LockedUser(*row) if row else None

    async def record_success(
        self, user_id: int, now: datetime, claimed_lock: datetime | None, values: dict[str, object]
    ) -> bool:
        """Give back the claim of a right password, with bookkeeping `values` (last login, an
        upgraded hash): the count starts again. False, and nothing written, while a lock that
        another attempt set is in force: a success never clears it. `version` stays."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id, LOGIN_FAILURES.not_blocked_by_others(now, claimed_lock))
            .values({**LOGIN_FAILURES.give_back(claimed_lock), **values})
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _account(login_id: str | None, user_id: int | None) -> ColumnElement[bool]:
    """The user with this id, or with this login ID ignoring case."""
    if user_id is not None:
        return User.id == user_id
    return func.lower(User.login_id) == (login_id or "").lower()


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


# Wrong API passwords: the shared rule of app/security/attempts.py on the keys' columns.
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
