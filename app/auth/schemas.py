"""Shapes of the authentication endpoints."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.principals import PrincipalKind, Role


class TokenRequest(BaseModel):
    """The token request (RFC 6749 §4.3, §4.4, §6), form-encoded; which fields depend on grant_type."""

    grant_type: str | None = Field(
        default=None, description="`password`, `client_credentials` or `refresh_token`", examples=["password"]
    )
    username: str | None = Field(default=None, description="ログインID (grant_type=password)")
    password: str | None = Field(default=None, description="パスワード (grant_type=password)")
    refresh_token: str | None = Field(default=None, description="grant_type=refresh_token")
    client_id: str | None = Field(
        default=None,
        description="APIキー (grant_type=client_credentials; or HTTP Basic client authentication)",
    )
    client_secret: str | None = Field(
        default=None, description="APIパスワード (grant_type=client_credentials)"
    )
    scope: str | None = Field(default=None, description="Accepted and ignored: there are no scopes")


class RevokeRequest(BaseModel):
    """Token revocation (RFC 7009), form-encoded."""

    token: str | None = Field(default=None, description="The refresh token to revoke")


class TokenResponse(BaseModel):
    """An access token (RFC 6749 §5.1) and, for a full session, a refresh token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        default=None,
        description="Omitted while the password must be changed: such a token cannot be refreshed.",
    )
    password_change_required: bool = Field(
        description="パスワード変更が必要: true when the token can only change the password."
    )


class Me(BaseModel):
    """The authenticated principal."""

    kind: PrincipalKind
    login_id: str | None = Field(description="ログインID (users and operators)")
    key_id: str | None = Field(description="APIキーID (linked systems)")
    organization_id: str | None = Field(description="依頼人組織ID; null for operators")
    role: Role | None = Field(description="権限; null for linked systems")
    location_code: str | None = Field(description="依頼人拠点コード; null = all locations")
    password_change_required: bool


class PasswordChange(BaseModel):
    """Change one's own password (パスワード変更)."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1024)
    new_password: str = Field(
        max_length=1024,
        description="8 to 128 characters; not a common password; not containing the login ID.",
    )
