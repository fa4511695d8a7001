"""All SQL about users and operators."""

import unicodedata
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.orm import contains_eager

from app.auth.permissions import UserVisibility
from app.auth.repository import AccountRepository
from app.db.filters import FilterSet, contains_by_grams
from app.http.pagination import PageRequest
from app.models import Location, Organization, User
from app.users.schemas import UserFilters

# The filters and sort keys of the user list, from UserFilters; the location code is the joined one.
FILTERS = FilterSet(UserFilters, User, columns={"location_code": Location.code})


class UserRepository(AccountRepository):
    """Users and operators."""

    async def operator_exists(self) -> bool:
        """Whether any operator account exists."""
        return (
            await self.session.scalar(select(User.id).where(User.role == "operator").limit(1))
        ) is not None

    async def lock_organization(self, organization_id: int) -> None:
        """Serialize changes that depend on the organization's whole set of users (its admins)."""
        await self.session.execute(
            select(Organization.id).where(Organization.id == organization_id).with_for_update()
        )

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

    async def by_login_ids(self, login_ids: Collection[str], *, lock: bool) -> list[User]:
        """Every user or operator whose login ID is one of these, ignoring case, with its location
        loaded (CSV uploads). `lock`: the users' rows stay locked until the transaction ends."""
        lowered = sorted({login_id.lower() for login_id in login_ids})
        found: list[User] = []
        for start in range(0, len(lowered), LOGIN_IDS_PER_QUERY):
            statement = (
                select(User)
                .outerjoin(Location, Location.id == User.location_id)
                .options(contains_eager(User.location))
                .where(func.lower(User.login_id).in_(lowered[start : start + LOGIN_IDS_PER_QUERY]))
            )
            if lock:
                # In id order, as every upload locks them: concurrent uploads queue, never deadlock.
                statement = statement.order_by(User.id).with_for_update(of=User)
            found.extend((await self.session.scalars(statement)).unique())
        return found


class UserSearch:
    """Queries of users with their location code, confined to what a caller sees."""

    def __init__(self, repository: UserRepository) -> None:
        self.repository = repository

    def _visible(
        self, organization_id: int, visibility: UserVisibility, columns: tuple[Any, ...] = ()
    ) -> Select[Any]:
        """The one visibility rule of users, with each user's location loaded (outer join: users
        of all locations have none); given `columns`, just those columns of the visible users."""
        chosen = select(*columns) if columns else select(User).options(contains_eager(User.location))
        statement: Select[Any] = chosen.outerjoin(Location, Location.id == User.location_id).where(
            User.organization_id == organization_id
        )
        if visibility.self_id is not None:
            statement = statement.where(User.id == visibility.self_id)
        if visibility.location_id is not None:
            statement = statement.where(User.location_id == visibility.location_id)
        return statement

    async def one(self, organization_id: int, visibility: UserVisibility, login_id: str) -> User | None:
        """A visible user by login ID (ignoring case), with its location."""
        return await self.repository.one_or_none(
            self._visible(organization_id, visibility).where(func.lower(User.login_id) == login_id.lower())
        )

    async def search(
        self, organization_id: int, visibility: UserVisibility, filters: UserFilters, page: PageRequest
    ) -> tuple[list[User], int]:
        """Visible users matching the filters, with their locations."""
        statement = self._visible(organization_id, visibility).where(
            *await self._matching(organization_id, filters)
        )
        rows, total = await self.repository.page_rows(
            statement,
            order_by=page.order_by(FILTERS.sortable, "login_id", User.id),
            limit=page.limit,
            offset=page.offset,
            # The location code is joined to the page's 50 users, not to the thousands a name
            # matches before they are sorted (PostgreSQL drops the join from the id query).
            ids_first=True,
        )
        return [row[0] for row in rows], total

    async def export_select(
        self, organization_id: int, visibility: UserVisibility, filters: UserFilters
    ) -> Select[Any]:
        """The list's select (same filters, same visibility) of every matching user's CSV columns,
        in login ID order: for a download to stream."""
        columns = (User.login_id, User.name, Location.code, Location.name, User.role, User.last_login_at)
        return (
            self._visible(organization_id, visibility, columns)
            .where(*await self._matching(organization_id, filters))
            .order_by(User.login_id, User.id)
        )

    async def _matching(self, organization_id: int, filters: UserFilters) -> list[ColumnElement[bool]]:
        """The conditions of the list's filters that were given (see UserFilters)."""
        return FILTERS.conditions(
            filters,
            name=contains_by_grams(User.name_search, filters.name),
            location_code=await self._at_location(organization_id, filters.location_code),
        )

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


# Login IDs per IN list of a bulk lookup: far below any driver's limit of bound values.
LOGIN_IDS_PER_QUERY = 1000
