"""All SQL about users and operators."""

import unicodedata
from collections.abc import Collection, Hashable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from app.auth.permissions import UserVisibility
from app.auth.repository import AccountRepository
from app.db.filters import NOTHING, NULL, FilterSet
from app.db.prepared import PreparedSelect
from app.db.repository import ListSelect
from app.http.pagination import PageRequest, ordering
from app.journal.feed import change_stamp
from app.models import Location, Organization, User
from app.users.schemas import User as UserSchema
from app.users.schemas import UserFilters

# The filters and sort keys of the user list, from UserFilters. The location code filter compares
# the user's location id (the repository looks the code up first); the list sorts by the joined code.
FILTERS = FilterSet(
    UserFilters, User, columns={"location_code": User.location_id}, sort_by={"location_code": Location.code}
)


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

    async def by_login_ids(self, login_ids: Collection[str], *, lock: bool) -> list[Sequence[Any]]:
        """Every user or operator whose login ID is one of these, ignoring case, as `ONE_COLUMNS`
        (CSV uploads). `lock`: the users' rows stay locked until the transaction ends."""
        lowered = sorted({login_id.lower() for login_id in login_ids})
        found: list[Sequence[Any]] = []
        for start in range(0, len(lowered), LOGIN_IDS_PER_QUERY):
            statement = (
                select(*ONE)
                .outerjoin(Location, Location.id == User.location_id)
                .where(func.lower(User.login_id).in_(lowered[start : start + LOGIN_IDS_PER_QUERY]))
            )
            if lock:
                # In id order, as every upload locks them: concurrent uploads queue, never deadlock.
                statement = statement.order_by(User.id).with_for_update(of=User)
            found.extend((await self.session.execute(statement)).all())
        return found

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a user or operator (version 1) and read back what its own row shows
        (`OWN_COLUMNS`, by name), in one statement (Repository.insert_returning)."""
        row = await self.insert_returning({**values, "version": 1}, _OWN)
        return dict(zip(OWN_COLUMNS, row, strict=True))


class UserSearch:
    """Queries of users with their location code, confined to what a caller sees."""

    def __init__(self, repository: UserRepository) -> None:
        self.repository = repository

    async def one(
        self, organization_id: int, visibility: UserVisibility, login_id: str
    ) -> Sequence[Any] | None:
        """A visible user by login ID (ignoring case) as `ONE_COLUMNS` (what the User schema
        shows, then what a change checks), on the fast path: a bound select built once per
        visibility, run as the lists run."""
        params = {
            "organization_id": organization_id,
            "self_id": visibility.self_id,
            "visible_location_id": visibility.location_id,
            "login_id": login_id.lower(),
        }
        statement = _one_select(visibility.self_id is not None, visibility.location_id is not None)
        return await statement.first(self.repository.session, params)

    async def search(
        self, organization_id: int, visibility: UserVisibility, filters: UserFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Visible users matching the filters, as the User schema shows them: (column names,
        rows, total)."""
        shape, params = await self._filtered(organization_id, visibility, filters)
        listed = _search_select(
            shape,
            itself=visibility.self_id is not None,
            at_location=visibility.location_id is not None,
            sort=page.sort_key(FILTERS.sortable, "login_id"),
        )
        rows, total = await self.repository.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total

    async def export_select(
        self, organization_id: int, visibility: UserVisibility, filters: UserFilters, names: Sequence[str]
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The list's select (same filters, same visibility) of every matching user's columns of
        these names (a sheet's: fields of the User schema; the location's are the joined ones), in
        login ID order, with its bound values: for a download to stream."""
        shape, params = await self._filtered(organization_id, visibility, filters)
        columns = tuple(_EXPORTED.get(name) or getattr(User, name) for name in names)
        statement = _visible(
            visibility.self_id is not None, visibility.location_id is not None, columns
        ).where(*FILTERS.bound_conditions(shape))
        return statement.order_by(User.login_id, User.id), params

    async def _filtered(
        self, organization_id: int, visibility: UserVisibility, filters: UserFilters
    ) -> tuple[tuple[Hashable, ...], dict[str, Any]]:
        """The shape of the list's filters (see FilterSet.shape) and the bound values of the
        filters and the visibility."""
        location = await self._at_location(organization_id, filters.location_code)
        params = {
            **FILTERS.parameters(filters, location_code=location),
            "organization_id": organization_id,
            "self_id": visibility.self_id,
            "visible_location_id": visibility.location_id,
        }
        return FILTERS.shape(filters, location_code=location), params

    async def _at_location(self, organization_id: int, code: str | None) -> object:
        """What the `location_code` filter compares the user's location id with: the id of the
        location with exactly this code (its width aside: ＴＫＹ００１ is TKY001), NULL for an empty
        code (the users of all locations, 全拠点), NOTHING for an unknown code, None: no filter.

        The location is looked up first and named by id, so that PostgreSQL plans the few users it
        reaches instead of guessing from a join.
        """
        if code is None:
            return None
        if not code:
            return NULL
        location_id = await self.repository.session.scalar(
            select(Location.id).where(
                Location.organization_id == organization_id,
                Location.code == unicodedata.normalize("NFKC", code),
            )
        )
        return NOTHING if location_id is None else location_id


def _visible(itself: bool, at_location: bool, columns: tuple[Any, ...]) -> Select[Any]:
    """The one visibility rule of users over the bound values `organization_id`, `self_id` and
    `visible_location_id`: these columns of the visible users, with their locations joined (outer
    join: users of all locations have none)."""
    statement: Select[Any] = (
        select(*columns)
        .outerjoin(Location, Location.id == User.location_id)
        .where(User.organization_id == bindparam("organization_id"))
    )
    if itself:
        statement = statement.where(User.id == bindparam("self_id"))
    if at_location:
        statement = statement.where(User.location_id == bindparam("visible_location_id"))
    return statement


@lru_cache(maxsize=512)
def _search_select(shape: tuple[Hashable, ...], *, itself: bool, at_location: bool, sort: str) -> ListSelect:
    """The user search of one shape of filters and visibility. Always ids first: the location
    code is joined to the page's 50 users, not to the thousands a name matches before they are
    sorted (PostgreSQL drops the join from the id query). Stamped by the organization's change
    counter: every change of a user moves it (see `change_stamp`)."""
    statement = _visible(itself, at_location, SHOWN).where(*FILTERS.bound_conditions(shape))
    order_by = ordering(FILTERS.sortable, sort, User.id)
    return UserRepository.listed(statement, order_by=order_by, deep=True, stamp=change_stamp())


# The User schema's fields that are columns of the joined location (the others are the user's).
_EXPORTED: dict[str, Any] = {"location_code": Location.code, "location_name": Location.name}
# What a user shows, in the order of the User schema's fields, labelled by them.
SHOWN = tuple((_EXPORTED.get(name) or getattr(User, name)).label(name) for name in UserSchema.model_fields)
SHOWN_COLUMNS = tuple(UserSchema.model_fields)
# One user on the fast path: what it shows, then what a change or a deletion checks.
ONE = (*SHOWN, User.id, User.location_id, User.organization_id)
ONE_COLUMNS = tuple(column.key for column in ONE)
# What the user's own row holds of what it shows (all but its location's code and name).
OWN_COLUMNS = tuple(name for name in SHOWN_COLUMNS if name not in _EXPORTED)
_OWN = tuple(getattr(User, name) for name in OWN_COLUMNS)


@lru_cache(maxsize=4)
def _one_select(itself: bool, at_location: bool) -> PreparedSelect:
    """One visible user by lower-cased login ID (`ONE`)."""
    return PreparedSelect(
        _visible(itself, at_location, ONE).where(func.lower(User.login_id) == bindparam("login_id"))
    )


# Login IDs per IN list of a bulk lookup: far below any driver's limit of bound values.
LOGIN_IDS_PER_QUERY = 1000
