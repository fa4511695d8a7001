"""All SQL about users and operators."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, false, func, literal, select, update

from app.auth.permissions import UserVisibility
from app.core.filters import FilterSet, contains_by_grams
from app.core.pagination import PageRequest
from app.core.prepared import PreparedSelect
from app.core.repository import Repository
from app.models import Location, User
from app.models.base import UTCDateTime
from app.users.schemas import UserFilters


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


# The filters and sort keys of the user list, from UserFilters; the location code is the joined one.
FILTERS = FilterSet(UserFilters, User, columns={"location_code": Location.code})

# A user as lists and reads show it: the row, its location's code and name (None: all locations).
UserWithLocation = tuple[User, str | None, str | None]


class UserSearch:
    """Queries of users with their location, confined to what a caller sees."""

    def __init__(self, repository: UserRepository) -> None:
        self.repository = repository

    def _visible(self, organization_id: int, visibility: UserVisibility) -> Select[Any]:
        # The outer join gives users without a location a None code and name.
        statement: Select[Any] = (
            select(User, Location.code, Location.name)
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
    ) -> UserWithLocation | None:
        """A visible user by login ID (ignoring case) with its location."""
        row = (
            await self.repository.session.execute(
                self._visible(organization_id, visibility).where(
                    func.lower(User.login_id) == login_id.lower()
                )
            )
        ).one_or_none()
        return (row[0], row[1], row[2]) if row else None

    async def search(
        self, organization_id: int, visibility: UserVisibility, filters: UserFilters, page: PageRequest
    ) -> tuple[list[UserWithLocation], int]:
        """Visible users matching the filters."""
        statement = self._visible(organization_id, visibility).where(
            *FILTERS.conditions(
                filters,
                name=contains_by_grams(User.name_search, filters.name),
                location_code=await self._at_location(organization_id, filters.location_code),
            )
        )
        rows, total = await self.repository.page_rows(
            statement,
            order_by=page.order_by(FILTERS.sortable, "login_id", User.id),
            limit=page.limit,
            offset=page.offset,
            # The location is joined to the page's 50 users, not to the thousands a name matches
            # before they are sorted (PostgreSQL drops the join from the id query).
            ids_first=True,
        )
        return [(row[0], row[1], row[2]) for row in rows], total

    async def _at_location(self, organization_id: int, code: str | None) -> ColumnElement[bool] | None:
        """Users of the location with exactly this code (its width aside: ＴＫＹ００１ is TKY001);
        an empty code: the users of all locations (全拠点, no location).

        The location is looked up first and named by id, so that PostgreSQL plans the few users it
        reaches instead of guessing from a join.
        """
        if code is None:
            return None
        if not code:
            return User.location_id.is_(None)
        location_id = await self.repository.session.scalar(
            select(Location.id).where(
                Location.organization_id == organization_id,
                Location.code == unicodedata.normalize("NFKC", code),
            )
        )
        return false() if location_id is None else User.location_id == location_id
