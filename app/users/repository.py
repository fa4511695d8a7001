"""All SQL about users and operators."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update

from app.auth.permissions import UserVisibility
from app.core.attempts import FailureCounter
from app.core.filters import conditions, contains, contains_by_grams
from app.core.pagination import PageRequest
from app.core.prepared import PreparedSelect
from app.core.repository import Repository
from app.models import Location, User


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
    """A user whose password one claimed attempt may now check (see UserRepository.claim_login)."""

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


# Failed logins: the shared rule of app/core/attempts.py on the users' columns.
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


class UserRepository(Repository[User]):
    """Users and operators."""

    model = User

    async def by_login_id(self, login_id: str) -> User | None:
        """The user with this login ID, ignoring case."""
        return await self.one_or_none(select(User).where(func.lower(User.login_id) == login_id.lower()))

    async def operator_exists(self) -> bool:
        """Whether any operator account exists."""
        return (
            await self.session.scalar(select(User.id).where(User.role == "operator").limit(1))
        ) is not None

    async def admin_count(self, organization_id: int) -> int:
        """How many admins the organization has."""
        return int(
            await self.session.scalar(
                select(func.count()).where(User.organization_id == organization_id, User.role == "admin")
            )
            or 0
        )

    async def login_id_taken(self, login_id: str) -> bool:
        """Whether any user or operator has this login ID, ignoring case."""
        found = await self.session.scalar(
            select(User.id).where(func.lower(User.login_id) == login_id.lower()).limit(1)
        )
        return found is not None

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
        who = (
            User.id == user_id
            if user_id is not None
            else func.lower(User.login_id) == (login_id or "").lower()
        )
        row = (
            await self.session.execute(
                update(User)
                .where(who, LOGIN_FAILURES.open(now))
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
        who = (
            User.id == user_id
            if user_id is not None
            else func.lower(User.login_id) == (login_id or "").lower()
        )
        row = (
            await self.session.execute(
                select(User.organization_id, User.login_id, User.locked_until).where(who)
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


class UserSearch:
    """Queries of users with their location code, confined to what a caller sees."""

    def __init__(self, repository: UserRepository) -> None:
        self.repository = repository

    def _visible(self, organization_id: int, visibility: UserVisibility) -> Select[Any]:
        # The outer join gives users without a location a None code.
        statement: Select[Any] = (
            select(User, Location.code)
            .outerjoin(Location, Location.id == User.location_id)
            .where(User.organization_id == organization_id)
        )
        if visibility.self_id is not None:
            statement = statement.where(User.id == visibility.self_id)
        if visibility.location_id is not None:
            statement = statement.where(User.location_id == visibility.location_id)
        return statement

    async def one(
        self, organization_id: int, visibility: UserVisibility, login_id: str
    ) -> tuple[User, str | None] | None:
        """A visible user by login ID (ignoring case) with its location code."""
        row = (
            await self.repository.session.execute(
                self._visible(organization_id, visibility).where(
                    func.lower(User.login_id) == login_id.lower()
                )
            )
        ).one_or_none()
        return (row[0], row[1]) if row else None

    async def search(
        self,
        organization_id: int,
        visibility: UserVisibility,
        *,
        login_id: str | None,
        name: str | None,
        location_code: str | None,
        roles: list[str],
        page: PageRequest,
    ) -> tuple[list[tuple[User, str | None]], int]:
        """Visible users matching the filters."""
        statement = self._visible(organization_id, visibility).where(
            *conditions(
                contains(User.login_id, login_id),
                contains_by_grams(User.name, name),
                await self._at_locations(organization_id, location_code),
                User.role.in_(roles) if roles else None,
            )
        )
        rows, total = await self.repository.page_rows(
            statement,
            order_by=page.order_by(SORTABLE, "login_id", User.id),
            limit=page.limit,
            offset=page.offset,
            # The location code is joined to the page's 50 users, not to the thousands a name
            # matches before they are sorted (PostgreSQL drops the join from the id query).
            ids_first=True,
        )
        return [(row[0], row[1]) for row in rows], total

    async def _at_locations(self, organization_id: int, code: str | None) -> ColumnElement[bool] | None:
        """Users at the locations whose code contains `code`.

        The matching locations are looked up first and named by id: planning the join instead,
        PostgreSQL cannot tell how many users a code pattern reaches, guesses thousands, and walks
        the whole login_id order of a large organization to fill one page (250 ms at 200,000
        users for a code that reaches 4). With the ids in the statement it knows. Many matching
        locations (a one-character code) stay a join: the walk is then the right plan.
        """
        matches = contains(Location.code, code)
        if matches is None:
            return None
        ids = (
            await self.repository.session.scalars(
                select(Location.id)
                .where(Location.organization_id == organization_id, matches)
                .limit(LOCATION_IDS_INLINE + 1)
            )
        ).all()
        return User.location_id.in_(ids) if len(ids) <= LOCATION_IDS_INLINE else matches


# Up to this many locations matching a location_code filter are named by id (see _at_locations).
LOCATION_IDS_INLINE = 100

SORTABLE = {
    "login_id": User.login_id,
    "name": User.name,
    "role": User.role,
    "location_code": Location.code,
    "last_login_at": User.last_login_at,
    "created_at": User.created_at,
}
