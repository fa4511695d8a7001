"""POST /auth/token, POST /auth/revoke, GET /me, PUT /me/password."""

from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response, status

from app.auth.dependencies import AuthenticatedPrincipal, CurrentPrincipal
from app.auth.linked_systems import LinkedSystemAuthDep
from app.auth.organization_ids import format_organization_id
from app.auth.schemas import Me, PasswordChange, RevokeRequest, TokenRequest, TokenResponse
from app.auth.service import AuthServiceDep, invalid_grant
from app.http.errors import (
    FieldError,
    Forbidden,
    OAuthError,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)
from app.http.openapi import problems
from app.http.routing import ApiRoute, OAuthRoute
from app.security.credentials import parse_basic

router = APIRouter(tags=["認証 (authentication)"], route_class=ApiRoute)
# A key throttled after wrong API passwords, as the token endpoint answers it.
THROTTLED = TooManyRequests(60)
THROTTLED.oauth_error = "temporarily_unavailable"
# Every password-hashing turn of the process taken (SPEC §5.1: bounded hashing).
BUSY = ServiceUnavailable("server_busy", context={"retry_after": 1})
BUSY.oauth_error = "temporarily_unavailable"
# The OAuth 2.0 endpoints (RFC 6749, RFC 7009): form-encoded, errors with RFC 6749's `error`.
oauth_router = APIRouter(tags=["認証 (authentication)"], route_class=OAuthRoute)


@oauth_router.post(
    "/auth/token",
    summary="ログイン / APIキー認証",
    description=(
        "OAuth 2.0 token endpoint (RFC 6749), form-encoded:\n\n"
        "- `grant_type=password` with `username` (login ID) and `password`: a user's token;\n"
        "- `grant_type=client_credentials` with `client_id` (API key) and `client_secret` "
        "(API password), or the same as HTTP Basic client authentication: a linked system's token;\n"
        "- `grant_type=refresh_token` with `refresh_token`: new tokens; the refresh token rotates.\n\n"
        "By default, after 5 failed logins in a row an account is locked for 15 minutes (both configurable). "
        "A JSON body answers 415: send the fields form-encoded."
    ),
    responses=problems(
        invalid_grant(),
        invalid_grant("account_locked", context={"retry_after": 600}),
        invalid_grant("temporary_password_expired"),
        invalid_grant("invalid_refresh_token"),
        OAuthError("invalid_request", "invalid_request", context={"parameter": "password"}),
        OAuthError("invalid_request", "repeated_parameter", context={"parameter": "username"}),
        OAuthError("unsupported_grant_type", "unsupported_grant_type"),
        OAuthError("invalid_client", "invalid_client", status=401),
        THROTTLED,
        BUSY,
    ),
)
async def token(
    request: Request,
    service: AuthServiceDep,
    linked_systems: LinkedSystemAuthDep,
    fields: Annotated[TokenRequest, Form()],
) -> TokenResponse:
    """Exchange credentials for tokens."""
    grant_type, username, password = fields.grant_type, fields.username, fields.password
    refresh_token, client_id, client_secret = fields.refresh_token, fields.client_id, fields.client_secret
    form = await request.form()
    repeated = [name for name in set(form.keys()) if len(form.getlist(name)) > 1]
    if repeated:
        # RFC 6749 §3.2: a parameter sent twice is an invalid request, not "the last one wins".
        raise OAuthError("invalid_request", "repeated_parameter", context={"parameter": sorted(repeated)[0]})
    try:
        if grant_type == "password":
            return await service.password_grant(
                _required("username", username), _required("password", password)
            )
        if grant_type == "refresh_token":
            return await service.refresh_grant(_required("refresh_token", refresh_token))
        if grant_type == "client_credentials":
            key, secret = _client_credentials(request, client_id, client_secret)
            return await linked_systems.client_credentials_grant(service, key, secret)
    except ServiceUnavailable as busy:
        busy.oauth_error = "temporarily_unavailable"  # every hashing turn taken: RFC 6749's form
        raise
    if grant_type is None:
        _required("grant_type", None)
    raise OAuthError("unsupported_grant_type", "unsupported_grant_type")


def _required(name: str, value: str | None) -> str:
    if not value:
        raise OAuthError("invalid_request", "invalid_request", context={"parameter": name})
    return value


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> tuple[str, str]:
    """The API key and password from the form or from HTTP Basic client authentication."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        if client_id is not None or client_secret is not None:
            # RFC 6749 §2.3: one way of client authentication per request.
            raise OAuthError("invalid_request", "invalid_request", context={"parameter": "client_id"})
        credentials = parse_basic(encoded)
        if credentials is None:
            raise OAuthError("invalid_client", "invalid_client", status=401)
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        return unquote_plus(credentials[0]), unquote_plus(credentials[1])
    return _required("client_id", client_id), _required("client_secret", client_secret)


@oauth_router.post(
    "/auth/revoke",
    status_code=status.HTTP_200_OK,
    response_class=Response,
    summary="ログアウト",
    description="Revokes the refresh token and every token rotated from the same login (RFC 7009: unknown tokens are not an error).",
    responses=problems(OAuthError("invalid_request", "invalid_request", context={"parameter": "token"})),
)
async def revoke(service: AuthServiceDep, fields: Annotated[RevokeRequest, Form()]) -> Response:
    """Revoke a refresh token."""
    await service.revoke(_required("token", fields.token))
    return Response(status_code=status.HTTP_200_OK)


@router.get(
    "/me",
    summary="ログイン中の利用者",
    description="The authenticated principal: kind, login ID or key id, organization, role, location.",
    responses=problems(),
)
async def me(principal: CurrentPrincipal) -> Me:
    """The caller."""
    return Me(
        kind=principal.kind,
        login_id=principal.login_id,
        key_id=str(principal.api_key_id) if principal.api_key_id is not None else None,
        organization_id=(
            format_organization_id(principal.organization_id)
            if principal.organization_id is not None
            else None
        ),
        role=principal.role,
        location_code=principal.location_code,
        password_change_required=principal.password_change_required,
    )


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="パスワード変更",
    description=(
        "Needs the current password. Every existing token of the user stops "
        "working; log in again with the new password. Allowed with a token that may only "
        "change the password."
    ),
    responses=problems(
        Forbidden(),
        Unprocessable(errors=[FieldError("current_password", "current_password_incorrect")]),
        Unprocessable(errors=[FieldError("new_password", "password_too_common")]),
        TooManyRequests(600, "account_locked"),
        ServiceUnavailable("server_busy", context={"retry_after": 1}),
    ),
)
async def change_my_password(
    principal: AuthenticatedPrincipal, body: PasswordChange, service: AuthServiceDep
) -> Response:
    """Change the caller's own password."""
    await service.change_own_password(principal, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(oauth_router)
