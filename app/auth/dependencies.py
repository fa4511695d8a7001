"""Authentication and authorization as injected dependencies."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, OAuth2PasswordBearer
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.linked_systems import LinkedSystemAuth, authenticate_basic, principal_for_key
from app.auth.organization_ids import OrganizationIdPath, parse_organization_id
from app.auth.permissions import Permission, has_permission
from app.auth.principals import Principal, PrincipalKind, Role
from app.auth.repository import AccountRepository
from app.db.prepared import PreparedSelect
from app.db.session import SessionDep
from app.http.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from app.http.openapi import raises
from app.journal.context import request_context
from app.models import Organization
from app.runtime import Runtime, runtime_of

# What the OpenAPI document names on every operation that depends on authenticated_principal
# (Swagger's Authorize button); the checks are ours, below. Not dependencies: FastAPI would run
# both on every request for nothing.
SECURITY_SCHEMES = (
    OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="password"),
    HTTPBasic(auto_error=False, scheme_name="linkedSystemBasic", description="API key : API password"),
)


@raises(
    Unauthorized("not_authenticated"),
    Unauthorized("invalid_token"),
    Unauthorized("token_expired"),
    Unauthorized("invalid_client", headers={"WWW-Authenticate": 'Basic realm="ainas"'}),
    TooManyRequests(60),
)
async def authenticated_principal(
    request: Request,
    session: SessionDep,
) -> Principal:
    """The caller, whatever its password state; 401 when the credentials do not stand."""
    runtime = runtime_of(request)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and credentials:
        principal = await _from_bearer(runtime, session, credentials.strip())
    elif scheme == "basic" and credentials:
        # Built here, not injected: bearer requests (most of them) need none of it.
        context = await request_context(session, request)
        principal = await authenticate_basic(LinkedSystemAuth(context), credentials.strip())
    else:
        raise Unauthorized("not_authenticated")
    # The request's context (app/journal/context.py) reads the caller from here.
    request.state.principal = principal
    return principal


async def _from_bearer(runtime: Runtime, session: AsyncSession, token: str) -> Principal:
    """Check signature, expiry and the principal's current state (exists, same stamp)."""
    claims = runtime.tokens.decode(token)
    if claims is None:
        raise Unauthorized("invalid_token")
    now = runtime.clock.now()
    if claims.expires_at <= int(now.timestamp()):
        raise Unauthorized("token_expired")
    kind, _, raw_id = claims.subject.partition(":")
    if not raw_id.isdigit():
        raise Unauthorized("invalid_token")
    if kind == "key":
        principal = await principal_for_key(session, int(raw_id), claims.stamp)
        if principal is None:
            raise Unauthorized("invalid_token")
        return principal
    if kind != "user":
        raise Unauthorized("invalid_token")
    row = await AccountRepository(session).principal_row(int(raw_id))
    # A lock from failed logins is not checked: it stops new logins only (SPEC §5.1).
    if row is None or row.security_stamp != claims.stamp:
        raise Unauthorized("invalid_token")
    role = Role(row.role)
    expired = row.password_expires_at is not None and row.password_expires_at <= now
    return Principal(
        kind=PrincipalKind.OPERATOR if role is Role.OPERATOR else PrincipalKind.USER,
        subject=claims.subject,
        organization_id=row.organization_id,
        role=role,
        location_id=row.location_id,
        location_code=row.location_code,
        user_id=row.id,
        login_id=row.login_id,
        password_change_required=claims.password_change_required or row.password_temporary or expired,
    )


AuthenticatedPrincipal = Annotated[Principal, Depends(authenticated_principal)]


def usable(principal: Principal) -> Principal:
    """The caller, refused while its password must be changed first."""
    if principal.password_change_required:
        raise Forbidden("password_change_required")
    return principal


@raises(Forbidden("password_change_required"))
async def current_principal(principal: AuthenticatedPrincipal) -> Principal:
    """The caller, refused while its password must be changed first."""
    return usable(principal)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through callers whose kind may perform `permission` (403 otherwise)."""

    @raises(Forbidden())
    async def check(principal: CurrentPrincipal) -> Principal:
        if not has_permission(principal, permission):
            raise Forbidden()
        return principal

    return check


_ORGANIZATIONS = cast(Table, Organization.__table__)
# What a scope reads of its organization: every column but the API password's credentials (the
# API password's change loads the row itself, `OrganizationScope.organization`).
_ORGANIZATION_VALUES = PreparedSelect(
    select(
        *(
            column
            for column in _ORGANIZATIONS.c
            if column.key not in {"api_password_hash", "api_password_stamp"}
        )
    ).where(_ORGANIZATIONS.c.id == bindparam("organization_id"))
)


class OrganizationScope:
    """The organization named in the path, as seen by a caller allowed one action on it.

    Another organization's id answers 404 before any permission is looked at, exactly as an
    id that does not exist (SPEC §4), so that ids cannot be probed. The row is loaded only
    when a handler needs more than the id: a user's own organization always exists
    (organizations are never deleted, and users reference them).
    """

    def __init__(self, principal: Principal, organization_id: int, session: AsyncSession) -> None:
        self.principal = principal
        self.organization_id = organization_id
        self._session = session
        self._organization: Organization | None = None
        self._values: Mapping[str, Any] | None = None

    async def organization_values(self) -> Mapping[str, Any]:
        """The organization's columns by name, as they stood when first asked for in this request,
        read on the fast path (app/db/prepared.py: no ORM object, no transaction); 404 if it is
        gone. The API password's credentials are not among them."""
        if self._values is None:
            row = await _ORGANIZATION_VALUES.first(self._session, {"organization_id": self.organization_id})
            if row is None:
                raise NotFound()
            self._values = dict(zip(_ORGANIZATION_VALUES.columns, row, strict=True))
        return self._values

    async def organization(self) -> Organization:
        """The organization's row (404 if it is gone)."""
        if self._organization is None:
            self._organization = await self._session.get(Organization, self.organization_id)
            if self._organization is None:
                raise NotFound()
        return self._organization


def organization_scope(permission: Permission) -> Callable[..., Awaitable[OrganizationScope]]:
    """A dependency: the path's organization, reachable by the caller, with `permission` checked."""

    @raises(Forbidden("password_change_required"), NotFound(), Forbidden())
    async def resolve(
        org_id: OrganizationIdPath, authenticated: AuthenticatedPrincipal, session: SessionDep
    ) -> OrganizationScope:
        # `usable` called here rather than through CurrentPrincipal: one dependency less to
        # resolve on every request of an organization's resources.
        principal = usable(authenticated)
        id_ = parse_organization_id(org_id)
        if id_ is None or not (principal.is_operator or principal.organization_id == id_):
            raise NotFound()
        scope = OrganizationScope(principal, id_, session)
        if principal.is_operator:
            await scope.organization_values()  # operators name any id: it must exist
        if not has_permission(principal, permission):
            raise Forbidden()
        return scope

    return resolve
