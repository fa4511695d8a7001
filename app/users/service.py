"""User management (依頼人ユーザー, SPEC §2.3, §4) and operator accounts."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import Depends
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from app.auth.dependencies import OrganizationScope
from app.auth.organization_ids import format_organization_id
from app.auth.permissions import (
    UserVisibility,
    may_manage_user,
    may_rename_user,
    may_reset_password,
    user_visibility,
)
from app.auth.principals import Principal, Role
from app.auth.service import set_password
from app.auth.types import LoginId, is_login_id
from app.csv.download import Download, download
from app.csv.files import CsvEncoding, Row, Table, listed
from app.csv.schemas import PlannedRow, planned_rows
from app.csv.upload import Upload, cells, errors_of, off_loop, read_upload, unique
from app.http.errors import Conflict, FieldError, Forbidden, NotFound, ProblemError, Unprocessable
from app.http.pagination import PageRequest
from app.http.resource import StoredResource, rows_page_json
from app.journal.audit_trail import Actor
from app.journal.audited import (
    ResourceRef,
    StoredRow,
    delete_row_audited,
    record_created,
    update_row_audited,
)
from app.journal.context import RequestContext, provide
from app.locations.service import LocationService
from app.models import Location as LocationRow
from app.security.credentials import new_stamp
from app.security.passwords import generate_password, password_errors
from app.text.rules import normalize
from app.users.repository import ONE_COLUMNS, SHOWN_COLUMNS, UserRepository, UserSearch
from app.users.schemas import PasswordReset, User, UserCreate, UserFilters, UserUpdate
from app.users.sheet import USERS, TemporaryPassword, UserImportResult, UserRowCreate
from app.users.types import UserName

RESOURCE = "user"
# How many login IDs taken outside the caller's sight (another organization, an operator, a user of
# another location) one upload may name: a single POST names one per request; a file of 10,000 IDs
# must not tell which of them exist anywhere. Beyond this, the upload is refused without naming
# any more, and every upload that named one is audited (`user.import_login_ids_taken`).
MAX_TAKEN_LOGIN_IDS: Final = 10
_login_id = TypeAdapter(LoginId)
_user_name = TypeAdapter(UserName)


class UserService:
    """Lists, reads and changes users within what the caller may see and manage."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def users(self) -> UserRepository:
        """The repository of this request's session."""
        return UserRepository(self.context.session)

    @property
    def locations(self) -> LocationService:
        """Locations, within the caller's scope (their rules are theirs: never their repository)."""
        return LocationService(self.context)

    async def search(self, scope: OrganizationScope, filters: UserFilters, page: PageRequest) -> bytes:
        """依頼人ユーザー検索, as the JSON of `Page[User]` (rows straight to JSON)."""
        columns, rows, total = await UserSearch(self.users).search(
            scope.organization_id, user_visibility(scope.principal), filters, page
        )
        return rows_page_json(User, columns, rows, total, page)

    async def get(self, scope: OrganizationScope, login_id: str) -> StoredResource:
        """A user the caller may see; 404 otherwise (JSON straight from its row)."""
        return (await self._stored(scope, login_id)).resource

    async def _stored(self, scope: OrganizationScope, login_id: str) -> StoredRow:
        """The row of a user the caller may see (the fast path); 404 otherwise."""
        row = None
        if is_login_id(login_id):
            row = await UserSearch(self.users).one(
                scope.organization_id, user_visibility(scope.principal), login_id
            )
        if row is None:
            raise NotFound()
        return StoredRow(User, ONE_COLUMNS, row)

    async def _location(self, scope: OrganizationScope, code: str | None) -> LocationRow | None:
        """The location named in a request body; 422 when the caller's scope has none such.

        Looked up within the caller's scope: a location outside it answers exactly as one that
        does not exist, so that a location admin cannot probe other locations' codes.
        """
        if code is None:
            return None
        location = await self.locations.find(scope, code)
        if location is None:
            raise Unprocessable(errors=[FieldError("location_code", "unknown_location")])
        return location

    async def create(
        self, scope: OrganizationScope, body: UserCreate, *, password_hash: str | None = None
    ) -> StoredResource:
        """担当者ユーザーの追加; admins only by operators. The given password is temporary (its hash
        may come made: a CSV upload hashes its new users' passwords at once)."""
        role = Role(body.role.value)
        location = await self._location(scope, body.location_code)
        check_user_change(scope.principal, role, location.id if location else None)
        errors = password_errors(body.password, body.login_id)
        if errors:
            raise Unprocessable(errors=errors)
        return await self.insert(
            scope.principal.actor,
            organization_id=scope.organization_id,
            location=location,
            login_id=body.login_id,
            name=body.name,
            role=role,
            password=body.password,
            temporary=True,
            password_hash=password_hash,
        )

    async def insert(
        self,
        actor: Actor,
        *,
        organization_id: int | None,
        location: LocationRow | None,
        login_id: str,
        name: str,
        role: Role,
        password: str,
        temporary: bool,
        password_hash: str | None = None,
        expires: bool = True,
    ) -> StoredResource:
        """Insert a user or operator (login ID unique ignoring case: 409) and audit it; the
        password's hash may come made. A temporary password expires unless `expires` is False."""
        if await self.users.login_id_taken(login_id):
            raise Conflict("login_id_taken", context={"login_id": login_id})
        if password_hash is None:
            password_hash = await self.context.runtime.hasher.hash(password)
        now = self.context.clock.now()
        expires_at = now + timedelta(hours=self.context.settings.temporary_password_hours)
        try:
            own = await self.users.insert(
                {
                    "organization_id": organization_id,
                    "location_id": location.id if location else None,
                    "login_id": login_id,
                    "name": name,
                    "role": role.value,
                    "password_hash": password_hash,
                    "password_temporary": temporary,
                    "password_changed_at": now,
                    "password_expires_at": expires_at if temporary and expires else None,
                    "security_stamp": new_stamp(),
                    "failed_login_count": 0,
                    "locked_until": None,
                    "last_login_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        except IntegrityError:
            raise Conflict("login_id_taken", context={"login_id": login_id}) from None
        user = _shown(own, location.code if location else None, location.name if location else None)
        if role is Role.OPERATOR:
            changes = {"login_id": [None, login_id], "name": [None, name], "role": [None, role.value]}
            await self.context.audit.record(actor, "operator.create", RESOURCE, login_id, None, changes)
        else:
            ref = ResourceRef(RESOURCE, login_id, organization_id)
            await record_created(self.context.audit, actor, "user.create", ref, user)
        return user

    async def update(
        self, scope: OrganizationScope, login_id: str, body: UserUpdate, expected: set[int] | None
    ) -> StoredResource:
        """管理者/担当者ユーザーの変更: name, location and role, within what the caller manages."""
        user = await self._stored(scope, login_id)
        return await self.change(scope, user, body.model_dump(exclude_unset=True), expected)

    async def change(
        self,
        scope: OrganizationScope,
        user: StoredRow,
        values: dict[str, Any],
        expected: set[int] | None = None,
    ) -> StoredResource:
        """Change a user the caller sees (read as `ONE_COLUMNS`) to the given values of UserUpdate."""
        old_role = Role(user["role"])
        new_role = Role(values.get("role", old_role))
        # The location after the change: its id is written, its code and name are shown.
        location_id, code, name = user["location_id"], user["location_code"], user["location_name"]
        if values.get("location_code", code) != code:
            found = await self._location(scope, values["location_code"])
            location_id, code, name = (found.id, found.code, found.name) if found else (None, None, None)
        principal = scope.principal
        check_user_change(principal, new_role, location_id, before=(old_role, user["location_id"]))
        if old_role is Role.ADMIN and new_role is not Role.ADMIN:
            (await self._admins(scope.organization_id)).change(old_role, new_role)
        return await update_row_audited(
            self.users,
            user,
            {"name": values.get("name", user["name"]), "role": new_role.value, "location_id": location_id},
            expected_versions=expected,
            audit=self.context.audit,
            actor=principal.actor,
            action="user.update",
            ref=ResourceRef(RESOURCE, user["login_id"], scope.organization_id),
            joined={"location_code": code, "location_name": name},
        )

    async def delete(self, scope: OrganizationScope, login_id: str, expected: set[int] | None) -> None:
        """担当者ユーザーの削除 (admins: operators only); never oneself, never the last admin."""
        user = await self._stored(scope, login_id)
        if user["id"] == scope.principal.user_id:
            raise Conflict("cannot_delete_self")
        role = Role(user["role"])
        if not may_manage_user(scope.principal, role, user["location_id"]):
            raise Forbidden("role_not_allowed")
        if role is Role.ADMIN:
            (await self._admins(scope.organization_id)).change(role, None)
        await delete_row_audited(
            self.users,
            user,
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="user.delete",
            ref=ResourceRef(RESOURCE, user["login_id"], scope.organization_id),
        )

    async def reset_password(self, scope: OrganizationScope, login_id: str) -> PasswordReset:
        """ログインパスワードの初期化: a temporary password, shown once; unlocks; ends the user's tokens."""
        stored = await self._stored(scope, login_id)
        if not may_reset_password(scope.principal, stored["id"], Role(stored["role"]), stored["location_id"]):
            raise Forbidden()
        # Written through the ORM by the rules of passwords (app/auth/service.py).
        user = await self.users.get(stored["id"])
        if user is None:
            raise NotFound()  # deleted since it was read
        password = generate_password()
        now = self.context.clock.now()
        await set_password(
            self.users,
            user,
            await self.context.runtime.hasher.hash(password),
            self.context.settings,
            now,
            temporary=True,
        )
        await self.context.audit.record(
            scope.principal.actor, "user.password_reset", RESOURCE, user.login_id, scope.organization_id
        )
        assert user.password_expires_at is not None
        return PasswordReset(
            login_id=user.login_id, temporary_password=password, expires_at=user.password_expires_at
        )

    async def _admins(self, organization_id: int, *, lock: bool = True) -> "AdminTally":
        """The organization's admins, counted for the rule that one stays (see AdminTally).

        The organization row is locked first, so two concurrent demotions cannot both pass.
        """
        if lock:
            await self.users.lock_organization(organization_id)
        return AdminTally(await self.users.admin_count(organization_id))

    async def create_operator(
        self, actor: Actor, login_id: str, name: str, password: str | None
    ) -> tuple[str, str | None]:
        """Create an operator; (its login ID, generated password or None). ValueError on bad input."""
        try:
            login_id = _login_id.validate_python(login_id)
            name = _user_name.validate_python(name)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from None
        if await self.users.login_id_taken(login_id):
            raise ValueError(f"the login ID {login_id!r} is already taken")
        generated = None
        if password is None:
            password = generated = generate_password()
        problems = password_errors(password, login_id)
        if problems:
            raise ValueError(", ".join(problem.code for problem in problems))
        # A generated password: whoever ran the command saw it, so it must be changed at first
        # login, but it does not expire, so that a first operator can log in whenever the
        # service is set up.
        await self.insert(
            actor,
            organization_id=None,
            location=None,
            login_id=login_id,
            name=name,
            role=Role.OPERATOR,
            password=password,
            temporary=generated is not None,
            expires=False,
        )
        return login_id, generated

    async def operator_exists(self) -> bool:
        """Whether any operator account exists."""
        return await self.users.operator_exists()

    # CSV (SPEC §5.6, the sheet in app/users/sheet.py): each row through the rules above.

    async def download(
        self, scope: OrganizationScope, filters: UserFilters, encoding: CsvEncoding
    ) -> Download:
        """The users the caller may read that match the filters, in login ID order, as CSV."""
        statement, params = await UserSearch(self.users).export_select(
            scope.organization_id, user_visibility(scope.principal), filters, USERS.names
        )
        return await download(
            self.context.runtime.engine,
            USERS,
            statement,
            params,
            encoding=encoding,
            filename=format_organization_id(scope.organization_id),
            now=self.context.clock.now(),
        )

    async def upload(self, scope: OrganizationScope, file: Upload, dry_run: bool) -> UserImportResult:
        """Create or update the file's users, all or nothing, each row as the caller may (§4):
        the rules of POST and PATCH (`check_user_change`, `seen_or_taken`, `AdminTally`), planned
        off the event loop. New users get temporary passwords, answered here only."""
        table = await read_upload(file, USERS)
        rows = unique(table, USERS, lambda value: normalize(value).lower())
        lock = not dry_run
        accounts = [
            StoredRow(User, ONE_COLUMNS, row)
            for row in await self.users.by_login_ids([key for _, key in rows], lock=lock)
        ]
        found = {user["login_id"].lower(): user for user in accounts}
        codes = {normalize(row.cells.get("location_code") or "") for row, _ in rows} - {""}
        locations = await self.locations.ids_by_codes(scope, codes)
        admins = (
            await self._admins(scope.organization_id, lock=lock)
            if _touches_admins(scope, rows, found)
            else AdminTally(None)
        )
        plan = await off_loop(_plan, scope, table, rows, found, locations, admins, dry_run)
        await self._refuse(scope, plan, dry_run)
        created = [change.create for change in plan.changes if change.create is not None]
        result = UserImportResult(
            created=len(created),
            updated=len(plan.changes) - len(created),
            unchanged=plan.unchanged,
            temporary_passwords=[],
        )
        if dry_run:
            result.planned = planned_rows(plan.planned)
            return result
        hashes = iter(await self._hash_generated([body.password for body in created]))
        async with self.context.audit.batched():
            for change in plan.changes:
                if change.create is not None:
                    user = (await self.create(scope, change.create, password_hash=next(hashes))).public_form()
                    result.temporary_passwords.append(
                        TemporaryPassword(
                            login_id=user["login_id"],
                            password=change.create.password,
                            expires_at=user["password_expires_at"],
                        )
                    )
                else:
                    assert change.user is not None
                    await self.change(scope, change.user, change.values)
        return result

    async def _refuse(self, scope: OrganizationScope, plan: "_Plan", dry_run: bool) -> None:
        """422 for a file with wrong rows. Login IDs taken outside the caller's sight are audited
        (the event is kept: the refusal commits it), and more than MAX_TAKEN_LOGIN_IDS of them
        refuse the file without naming any."""
        if not plan.errors:
            return
        refusal: ProblemError = listed("csv_invalid", plan.errors)
        if plan.taken:
            await self.context.audit.record(
                scope.principal.actor,
                "user.import_login_ids_taken",
                RESOURCE,
                None,
                scope.organization_id,
                {
                    "login_ids": [None, plan.taken[:MAX_TAKEN_LOGIN_IDS]],
                    "count": [None, len(plan.taken)],
                    "dry_run": [None, dry_run],
                },
            )
            if len(plan.taken) > MAX_TAKEN_LOGIN_IDS:
                refusal = Unprocessable("csv_login_ids_taken", context={"limit": MAX_TAKEN_LOGIN_IDS})
            refusal.persist_changes = True  # type: ignore[misc]  # the audit event; nothing else was written
        raise refusal

    async def _hash_generated(self, passwords: list[str]) -> list[str]:
        """argon2id hashes of the new users' generated temporary passwords (their own cost, see
        PasswordHasher.hash_generated), with all but one of the process's hashing turns: logins
        keep one, and wait for no more than one hash."""
        limit = asyncio.Semaphore(max(1, self.context.runtime.hasher.concurrency - 1))

        async def one(password: str) -> str:
            async with limit:
                return await self.context.runtime.hasher.hash_generated(password)

        return list(await asyncio.gather(*(one(password) for password in passwords)))


def check_user_change(
    principal: Principal, role: Role, location_id: int | None, before: tuple[Role, int | None] | None = None
) -> None:
    """§4 for a user created with (`before` None) or changed to this role and location: 422 for an
    admin with a location; 403 `role_not_allowed` when the principal may not. Renaming is allowed
    where managing is, and admins also rename admins."""
    if role is Role.ADMIN and location_id is not None:
        # Admins cover the whole organization: they have no location.
        raise Unprocessable(errors=[FieldError("location_code", "admin_has_no_location")])
    if before is None:
        allowed = may_manage_user(principal, role, location_id)
    elif before == (role, location_id):
        allowed = may_rename_user(principal, *before)
    else:
        allowed = may_manage_user(principal, *before) and may_manage_user(principal, role, location_id)
    if not allowed:
        raise Forbidden("role_not_allowed")


class AdminTally:
    """The rule that an organization keeps an admin, over its count of admins: one for PATCH,
    DELETE and every row of an upload (counted in file order, so that a file may add an admin
    and then demote the old one). `count` None: nothing in the request touches an admin."""

    def __init__(self, count: int | None) -> None:
        self.count = count

    def change(self, before: Role | None, after: Role | None) -> None:
        """Count a user's role going from `before` to `after` (None: no user); 409 `last_admin`
        when that would leave the organization without an admin."""
        delta = (after is Role.ADMIN) - (before is Role.ADMIN)
        if delta == 0:
            return
        if self.count is None:
            raise RuntimeError("admins were not counted")
        if self.count + delta < 1:
            raise Conflict("last_admin")
        self.count += delta


def seen_or_taken(scope: OrganizationScope, visibility: UserVisibility, user: StoredRow) -> None:
    """A user the caller may see and manage in this organization; any other (another
    organization's, an operator, a user out of the caller's sight) is, to the caller, a login ID
    that is taken (as POST .../users answers)."""
    if user["organization_id"] != scope.organization_id or not visibility.sees(
        user["id"], user["location_id"]
    ):
        raise Unprocessable(errors=[FieldError("login_id", "login_id_taken", {"login_id": user["login_id"]})])


@dataclass
class _Change:
    """One changed or new user, in file order."""

    create: UserCreate | None = None
    user: StoredRow | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    """What a checked upload would do; `errors` lists every wrong row (then it does nothing);
    `taken`: the login IDs it found taken outside the caller's sight."""

    errors: list[FieldError]
    changes: list[_Change] = field(default_factory=list)
    planned: list[PlannedRow] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    unchanged: int = 0


def _touches_admins(
    scope: OrganizationScope, rows: list[tuple[Row, str]], found: dict[str, StoredRow]
) -> bool:
    """Whether a row could add or remove an admin (then the admins are counted, and locked)."""
    role = USERS.column("role")
    if any(role is not None and role.read(row.cells.get("role", "")) == "admin" for row, _ in rows):
        return True
    return any(
        user["role"] == Role.ADMIN.value and user["organization_id"] == scope.organization_id
        for user in found.values()
    )


def _plan(
    scope: OrganizationScope,
    table: Table,
    rows: list[tuple[Row, str]],
    found: dict[str, StoredRow],
    locations: dict[str, int],
    admins: AdminTally,
    listing: bool,
) -> _Plan:
    """Each row checked as POST (a new login ID) or PATCH (a known one) checks it (CPU-bound: run
    off the event loop; every user and location it needs was read before). `listing`: also what
    each row would do (a dry run's answer)."""
    plan = _Plan(errors=table.errors)
    visibility = user_visibility(scope.principal)
    for row, key in rows:
        change: _Change | None
        try:
            user = found.get(key)
            if user is None:
                change = _created(scope, row, locations, admins)
            else:
                try:
                    seen_or_taken(scope, visibility, user)
                except ProblemError:
                    plan.taken.append(user["login_id"])
                    raise
                change = _changed(scope, row, user, locations, admins)
        except (ValidationError, ProblemError) as exc:
            plan.errors += errors_of(USERS, row.line, exc, table.headings, "role")
            continue
        if change is None:
            plan.unchanged += 1
            continue
        plan.changes.append(change)
        if listing:
            plan.planned.append(_planned(row.line, change))
    return plan


def _planned(line: int, change: _Change) -> PlannedRow:
    if change.create is not None:
        fields = change.create.model_dump(exclude={"password"})
        return PlannedRow(row=line, action="create", key=change.create.login_id, fields=fields)
    assert change.user is not None
    user = change.user
    fields = {name: [user[name], value] for name, value in change.values.items() if user[name] != value}
    return PlannedRow(row=line, action="update", key=user["login_id"], fields=fields)


def _created(scope: OrganizationScope, row: Row, locations: dict[str, int], admins: AdminTally) -> _Change:
    """A new user: UserCreate's rules without the password, then POST's (`check_user_change`)."""
    values = UserRowCreate.model_validate(cells(USERS, row)).model_dump()
    role = Role(values["role"])
    check_user_change(scope.principal, role, _location_id(values["location_code"], locations))
    admins.change(None, role)
    return _Change(create=UserCreate(**values, password=_temporary_password(values["login_id"])))


def _changed(
    scope: OrganizationScope, row: Row, user: StoredRow, locations: dict[str, int], admins: AdminTally
) -> _Change | None:
    """The change a row makes to an existing user, with PATCH's rules; None when it changes
    nothing (then it needs no permission: a downloaded file uploaded again changes nothing)."""
    values = UserUpdate.model_validate(cells(USERS, row, "login_id")).model_dump(exclude_unset=True)
    new_code = values.get("location_code", user["location_code"])
    location_id = (
        user["location_id"] if new_code == user["location_code"] else _location_id(new_code, locations)
    )
    role = Role(values.get("role", user["role"]))
    before = (Role(user["role"]), user["location_id"])
    if (values.get("name", user["name"]), role, location_id) == (user["name"], *before):
        return None
    check_user_change(scope.principal, role, location_id, before=before)
    admins.change(before[0], role)
    return _Change(user=user, values=values)


def _temporary_password(login_id: str) -> str:
    """A generated password the policy accepts for this user (by chance one could contain the login ID)."""
    while True:
        password = generate_password()
        if not password_errors(password, login_id):
            return password


def _location_id(code: str | None, locations: dict[str, int]) -> int | None:
    """The id of a location named in a row, among those in the caller's scope; 422 otherwise
    (a location out of scope is, to the caller, one that does not exist)."""
    if code is None:
        return None
    location_id = locations.get(code)
    if location_id is None:
        raise Unprocessable(errors=[FieldError("location_code", "unknown_location")])
    return location_id


def _shown(own: Mapping[str, Any], location_code: str | None, location_name: str | None) -> StoredResource:
    """A user as GET shows it, from what its own row holds (`OWN_COLUMNS`) and its location."""
    shown = {**own, "location_code": location_code, "location_name": location_name}
    return StoredResource.from_row(User, SHOWN_COLUMNS, [shown[name] for name in SHOWN_COLUMNS])


UserServiceDep = Annotated[UserService, Depends(provide(UserService))]
