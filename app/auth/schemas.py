"""Shapes of the authentication endpoints."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.principals import PrincipalKind, Role


class TokenRequest(BaseModel):
    """The token request (RFC 6749 §4.3, §4.4, §6), form-encoded; which fields depend on grant_type."""

    grant_type: str | None = Field(
        default=None,
        title="グラント種別",
        description="`password`, `client_credentials` or `refresh_token`",
        examples=["password"],
    )
    username: str | None = Field(
        default=None, title="ログインID", description="The login ID (`grant_type=password`)"
    )
    password: str | None = Field(
        default=None, title="パスワード", description="The user's password (`grant_type=password`)"
    )
    refresh_token: str | None = Field(
        default=None, title="リフレッシュトークン", description="`grant_type=refresh_token`"
    )
    client_id: str | None = Field(
        default=None,
        title="APIキー",
        description="The API key (`grant_type=client_credentials`; or HTTP Basic client authentication)",
    )
    client_secret: str | None = Field(
        default=None, title="APIパスワード", description="The API password (`grant_type=client_credentials`)"
    )
    scope: str | None = Field(
        default=None, title="スコープ", description="Accepted and ignored: there are no scopes"
    )


class RevokeRequest(BaseModel):
    """Token revocation (RFC 7009), form-encoded."""

    token: str | None = Field(
        default=None, title="リフレッシュトークン", description="The refresh token to revoke"
    )


class TokenResponse(BaseModel):
    """An access token (RFC 6749 §5.1) and, for a full session, a refresh token."""

    access_token: str = Field(title="アクセストークン", description="A JWT, sent as `Authorization: Bearer`")
    token_type: Literal["bearer"] = Field(default="bearer", title="トークン種別")
    expires_in: int = Field(title="有効期間（秒）", description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        default=None,
        title="リフレッシュトークン",
        description="Omitted while the password must be changed: such a token cannot be refreshed.",
    )
    password_change_required: bool = Field(
        title="パスワード変更が必要", description="True when the token can only change the password."
    )


class Me(BaseModel):
    """The authenticated principal."""

    kind: PrincipalKind = Field(title="種別")
    login_id: str | None = Field(title="ログインID", description="Users and operators")
    key_id: str | None = Field(title="APIキーID", description="Linked systems")
    organization_id: str | None = Field(title="依頼人組織ID", description="null for operators")
    role: Role | None = Field(title="権限", description="null for linked systems")
    location_code: str | None = Field(title="依頼人拠点コード", description="null: all locations")
    password_change_required: bool = Field(
        title="パスワード変更が必要", description="True when only the password may be changed now"
    )


class PasswordChange(BaseModel):
    """A change of one's own password."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1024, title="現在のパスワード")
    new_password: str = Field(
        max_length=1024,
        title="新しいパスワード",
        description="8 to 128 characters; not a common password; not containing the login ID.",
    )
