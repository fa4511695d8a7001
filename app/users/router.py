"""/organizations/{org_id}/users: thin handlers over UserService."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.http.errors import Conflict, FieldError, Forbidden, Unprocessable
from app.http.etag import IfMatch
from app.http.openapi import invalid, problems
from app.http.pagination import Page
from app.idempotency.routing import ResourceRoute
from app.users.schemas import PasswordReset, User, UserCreate, UserQuery, UserUpdate
from app.users.service import UserServiceDep

router = APIRouter(
    prefix="/organizations/{org_id}/users", tags=["依頼人ユーザー (users)"], route_class=ResourceRoute
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_READ))]
CanWrite = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_WRITE))]
CanReset = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_PASSWORD_RESET))]
LoginIdPath = Annotated[str, Path(max_length=64, title="ログインID", description="Case does not matter")]
Filters = Annotated[UserQuery, Query()]


@router.get(
    "",
    response_model=Page[User],
    summary="依頼人ユーザー検索",
    description=(
        "Each filter is optional. Text filters match partially, ignoring width and case; "
        "`location_code` matches exactly, and an empty `location_code=` finds the users of all locations; "
        "`role` may be given more than once (either). Admins see everyone; location admins the "
        "users of their scope; staff only themselves."
    ),
    responses=problems(),
)
async def list_users(scope: CanRead, service: UserServiceDep, query: Filters) -> Response:
    """Search the organization's users (JSON straight from the rows)."""
    return Response(await service.search(scope, query, query.page()), media_type="application/json")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=User,
    summary="管理者/担当者ユーザーの追加",
    description=(
        "Admins add location admins and staff; location admins add staff within their location; only "
        "operators add admins. The password is temporary: it must be changed "
        "at first login and expires after 72 hours by default."
    ),
    responses=problems(
        Forbidden("role_not_allowed"),
        Conflict("login_id_taken", context={"login_id": "tanaka.h"}),
        Unprocessable(errors=[FieldError("location_code", "unknown_location")]),
        Unprocessable(errors=[FieldError("location_code", "admin_has_no_location")]),
        Unprocessable(errors=[FieldError("password", "password_too_common")]),
        invalid(
            UserCreate,
            login_id="tanaka.h",
            name="田中 花子",
            password="initial-pass-2026",  # noqa: S106 (an example)
            role="manager",
        ),
    ),
)
async def create_user(
    scope: CanWrite, body: UserCreate, service: UserServiceDep, request: Request
) -> Response:
    """Create a user."""
    return (await service.create(scope, body)).created(request, body.login_id)


@router.get(
    "/{login_id}",
    response_model=User,
    summary="依頼人ユーザーの参照",
    description="One user of the organization, with its ETag.",
    responses=problems(),
)
async def get_user(scope: CanRead, login_id: LoginIdPath, service: UserServiceDep) -> Response:
    """One user (JSON straight from its row)."""
    return (await service.get(scope, login_id)).response()


@router.patch(
    "/{login_id}",
    response_model=User,
    summary="管理者/担当者ユーザーの変更",
    description=(
        "Name, location, role. Admins may rename admins; only operators change "
        "an admin's role. The last admin cannot be demoted. Send If-Match with the ETag you read."
    ),
    responses=problems(
        Forbidden("role_not_allowed"),
        Conflict("last_admin"),
        Unprocessable(errors=[FieldError("location_code", "unknown_location")]),
        invalid(UserUpdate, role="manager"),
    ),
)
async def update_user(
    scope: CanWrite,
    login_id: LoginIdPath,
    body: Annotated[UserUpdate, Body(default_factory=UserUpdate)],
    expected: IfMatch,
    service: UserServiceDep,
) -> Response:
    """Change a user."""
    return (await service.update(scope, login_id, body, expected)).response()


@router.delete(
    "/{login_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="管理者/担当者ユーザーの削除",
    description="Only operators delete admins. Nobody deletes themselves; the last admin stays.",
    responses=problems(Forbidden("role_not_allowed"), Conflict("cannot_delete_self"), Conflict("last_admin")),
)
async def delete_user(
    scope: CanWrite, login_id: LoginIdPath, expected: IfMatch, service: UserServiceDep
) -> Response:
    """Delete a user."""
    await service.delete(scope, login_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{login_id}/password-reset",
    summary="ログインパスワードの初期化",
    description=(
        "Answers a one-time temporary password, shown only here: it must be "
        "changed at first login and expires after 72 hours by default. Unlocks the account and ends the user's sessions."
    ),
    responses=problems(),
)
async def reset_password(scope: CanReset, login_id: LoginIdPath, service: UserServiceDep) -> PasswordReset:
    """Reset a user's password."""
    return await service.reset_password(scope, login_id)
