"""User management (依頼人ユーザー, SPEC §2.3, §4) and operator accounts."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from app.auth.dependencies import OrganizationScope
from app.auth.permissions import may_manage_user, may_rename_user, may_reset_password, user_visibility
from app.auth.principals import Principal, Role
from app.auth.service import set_password
from app.auth.types import LoginId, is_login_id
from app.http.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.http.pagination import Page, PageRequest
from app.journal.audit_trail import Actor
from app.journal.audited import ResourceRef, delete_audited, record_created, update_audited
from app.journal.context import RequestContext, provide
from app.locations.repository import LocationRepository
from app.locations.service import location_scope
from app.models import Location as LocationRow
from app.models import User as UserRow
from app.security.credentials import new_stamp
from app.security.passwords import generate_password, password_errors
from app.users.repository import UserRepository, UserSearch
from app.users.schemas import PasswordReset, User, UserCreate, UserFilters, UserUpdate
from app.users.types import UserName

RESOURCE = "user"
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

    async def search(self, scope: OrganizationScope, filters: UserFilters, page: PageRequest) -> Page[User]:
        """依頼人ユーザー検索."""
        rows, total = await UserSearch(self.users).search(
            scope.organization_id, user_visibility(scope.principal), filters, page
        )
        return Page(
            items=[User.model_validate(user) for user in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )

    async def get(self, scope: OrganizationScope, login_id: str) -> User:
        """A user the caller may see; 404 otherwise."""
        return User.model_validate(await self._row(scope, login_id))

    async def _row(self, scope: OrganizationScope, login_id: str) -> UserRow:
        """The row of a user the caller may see, with its location; 404 otherwise."""
        if not is_login_id(login_id):
            raise NotFound()
        found = await UserSearch(self.users).one(
            scope.organization_id, user_visibility(scope.principal), login_id
        )
        if found is None:
            raise NotFound()
        return found

    async def _location(self, scope: OrganizationScope, code: str | None) -> LocationRow | None:
        """The location named in a request body; 422 when the caller's scope has none such.

        Looked up within the caller's scope: a location outside it answers exactly as one that
        does not exist, so that a location admin cannot probe other locations' codes.
        """
        if code is None:
            return None
        location = await LocationRepository(self.context.session).by_code(location_scope(scope), code)
        if location is None:
            raise Unprocessable(errors=[FieldError("location_code", "unknown_location")])
        return location

    async def create(
        self, scope: OrganizationScope, body: UserCreate, *, password_hash: str | None = None
    ) -> User:
        """担当者ユーザーの追加; admins only by operators. The given password is temporary (its hash
        may come made: a CSV upload hashes its new users' passwords at once)."""
        role = Role(body.role.value)
        location = await self._location(scope, body.location_code)
        check_user_change(scope.principal, role, location.id if location else None)
        errors = password_errors(body.password, body.login_id)
        if errors:
            raise Unprocessable(errors=errors)
        user = await self.insert(
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
        return User.model_validate(user)

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
    ) -> UserRow:
        """Insert a user or operator (login ID unique ignoring case: 409) and audit it; the
        password's hash may come made."""
        if await self.users.login_id_taken(login_id):
            raise Conflict("login_id_taken", context={"login_id": login_id})
        if password_hash is None:
            password_hash = await self.context.runtime.hasher.hash(password)
        now = self.context.clock.now()
        try:
            user = await self.users.add(
                UserRow(
                    organization_id=organization_id,
                    location=location,
                    login_id=login_id,
                    name=name,
                    role=role.value,
                    password_hash=password_hash,
                    password_temporary=temporary,
                    password_changed_at=now,
                    password_expires_at=(
                        now + timedelta(hours=self.context.settings.temporary_password_hours)
                        if temporary
                        else None
                    ),
                    security_stamp=new_stamp(),
                    failed_login_count=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:
            raise Conflict("login_id_taken", context={"login_id": login_id}) from None
        if role is Role.OPERATOR:
            changes = {"login_id": [None, login_id], "name": [None, name], "role": [None, role.value]}
            await self.context.audit.record(actor, "operator.create", RESOURCE, login_id, None, changes)
        else:
            ref = ResourceRef(RESOURCE, login_id, organization_id)
            await record_created(self.context.audit, actor, "user.create", ref, User.model_validate(user))
        return user

    async def update(
        self, scope: OrganizationScope, login_id: str, body: UserUpdate, expected: set[int] | None
    ) -> User:
        """管理者/担当者ユーザーの変更: name, location and role, within what the caller manages."""
        user = await self._row(scope, login_id)
        return await self.change(scope, user, body.model_dump(exclude_unset=True), expected)

    async def change(
        self,
        scope: OrganizationScope,
        user: UserRow,
        values: dict[str, Any],
        expected: set[int] | None = None,
    ) -> User:
        """Change a user the caller sees (its location loaded) to the given values of UserUpdate."""
        old_role = Role(user.role)
        new_role = Role(values.get("role", old_role))
        code = user.location.code if user.location else None
        new_code = values.get("location_code", code)
        new_location = await self._location(scope, new_code) if new_code != code else user.location
        principal = scope.principal
        check_user_change(
            principal,
            new_role,
            new_location.id if new_location else None,
            before=(old_role, user.location_id),
        )
        if old_role is Role.ADMIN and new_role is not Role.ADMIN:
            await self._keep_one_admin(scope.organization_id)
        return await update_audited(
            self.users,
            user,
            {"name": values.get("name", user.name), "role": new_role.value, "location": new_location},
            schema=User,
            expected_versions=expected,
            audit=self.context.audit,
            actor=principal.actor,
            action="user.update",
            ref=ResourceRef(RESOURCE, user.login_id, scope.organization_id),
        )

    async def delete(self, scope: OrganizationScope, login_id: str, expected: set[int] | None) -> None:
        """担当者ユーザーの削除 (admins: operators only); never oneself, never the last admin."""
        user = await self._row(scope, login_id)
        if user.id == scope.principal.user_id:
            raise Conflict("cannot_delete_self")
        role = Role(user.role)
        if not may_manage_user(scope.principal, role, user.location_id):
            raise Forbidden("role_not_allowed")
        if role is Role.ADMIN:
            await self._keep_one_admin(scope.organization_id)
        await delete_audited(
            self.users,
            user,
            User.model_validate(user),
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="user.delete",
            ref=ResourceRef(RESOURCE, user.login_id, scope.organization_id),
        )

    async def reset_password(self, scope: OrganizationScope, login_id: str) -> PasswordReset:
        """ログインパスワードの初期化: a temporary password, shown once; unlocks; ends the user's tokens."""
        user = await self._row(scope, login_id)
        if not may_reset_password(scope.principal, user.id, Role(user.role), user.location_id):
            raise Forbidden()
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

    async def _keep_one_admin(self, organization_id: int) -> None:
        """409 when removing an admin would leave the organization without one.

        The organization row is locked first, so two concurrent demotions cannot both pass.
        """
        await self.users.lock_organization(organization_id)
        if await self.users.admin_count(organization_id) <= 1:
            raise Conflict("last_admin")

    async def create_operator(
        self, actor: Actor, login_id: str, name: str, password: str | None
    ) -> tuple[UserRow, str | None]:
        """Create an operator; (user, generated password or None). ValueError on bad input."""
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
        user = await self.insert(
            actor,
            organization_id=None,
            location=None,
            login_id=login_id,
            name=name,
            role=Role.OPERATOR,
            password=password,
            temporary=False,
        )
        if generated is not None:
            # Whoever ran the command saw it: it must be changed at first login, but it does
            # not expire, so that a first operator can log in whenever the service is set up.
            user.password_temporary = True
            await self.context.session.flush()
        return user, generated

    async def operator_exists(self) -> bool:
        """Whether any operator account exists."""
        return await self.users.operator_exists()


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


UserServiceDep = Annotated[UserService, Depends(provide(UserService))]
