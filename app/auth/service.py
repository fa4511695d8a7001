"""Logins, token refresh and revocation, and changing one's own password."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, AuditTrail
from app.audit.unit_of_work import Service, provide
from app.auth.principals import Principal
from app.auth.repository import AccountRepository, RefreshTokenRepository
from app.auth.schemas import TokenResponse
from app.core.clock import seconds_until
from app.core.config import Settings
from app.core.errors import FieldError, Forbidden, OAuthError, Unprocessable
from app.core.passwords import password_errors
from app.core.runtime import Runtime
from app.core.security import digest, new_secret_token, new_stamp
from app.core.types import is_login_id
from app.models import RefreshToken, User


class CurrentPasswordRejected(Unprocessable):
    """422 for a wrong current password; the failure it counts is kept."""

    persist_changes = True


def invalid_grant(code: str = "invalid_credentials", **kwargs: object) -> OAuthError:
    """RFC 6749 `invalid_grant`; the attempt's counters and audit event are kept."""
    return OAuthError("invalid_grant", code, persist=True, **kwargs)  # type: ignore[arg-type]


class AuthService(Service):
    """Authentication of people (users and operators)."""

    def __init__(self, session: AsyncSession, audit: AuditTrail, runtime: Runtime) -> None:
        super().__init__(session, audit, runtime)
        self.hasher = runtime.hasher
        self.tokens = runtime.tokens
        self.users = AccountRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)

    async def password_grant(self, login_id: str, password: str) -> TokenResponse:
        """Log in with a login ID and password; lock after repeated failures (SPEC §5.1)."""
        now = self.clock.now()
        user = await self.users.by_login_id(login_id) if is_login_id(login_id) else None
        # Unknown login IDs pay for a hash too, so that timing does not tell which IDs exist.
        matches, new_hash = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None:
            await self.audit.record(
                # What was typed, made safe to store and to show (no NUL or control characters).
                Actor("anonymous", login_id if is_login_id(login_id) else ascii(login_id)[1:-1][:64]),
                "auth.login_failed",
                "user",
                None,
                None,
                {"reason": ["", "unknown_login_id"]},
            )
            raise invalid_grant()
        actor = Actor("operator" if user.organization_id is None else "user", user.login_id)
        if user.locked_until is not None and user.locked_until > now:
            await self.audit.record(
                actor,
                "auth.login_failed",
                "user",
                user.login_id,
                user.organization_id,
                {"reason": ["", "locked"]},
            )
            raise invalid_grant(
                "account_locked", context={"retry_after": seconds_until(user.locked_until, now)}
            )
        if not matches:
            await self._failed(user, actor, now)
        expired = user.password_expires_at is not None and user.password_expires_at <= now
        if expired and user.password_temporary:
            # A one-time password is good for a limited time; after that an admin resets again.
            await self.audit.record(
                actor,
                "auth.login_failed",
                "user",
                user.login_id,
                user.organization_id,
                {"reason": ["", "temporary_password_expired"]},
            )
            raise invalid_grant("temporary_password_expired")
        await self.users.record_login(user.id, now, new_hash)
        await self.audit.record(actor, "auth.login", "user", user.login_id, user.organization_id)
        return await self.issue_tokens(
            f"user:{user.id}", user.security_stamp, user.password_temporary or expired, user_id=user.id
        )

    async def _failed(self, user: User, actor: Actor, now: datetime) -> None:
        """Count a wrong password, lock at the threshold, and refuse."""
        lock_until = now + timedelta(minutes=self.settings.lockout_minutes)
        failures, locked_until = await self.users.register_failed_login(
            user.id, now, self.settings.lockout_threshold, lock_until
        )
        await self.audit.record(
            actor,
            "auth.login_failed",
            "user",
            user.login_id,
            user.organization_id,
            {"reason": ["", "wrong_password"], "failures": [failures - 1, failures]},
        )
        if failures == self.settings.lockout_threshold and locked_until is not None:
            await self.audit.record(
                Actor("system", None),
                "user.lockout",
                "user",
                user.login_id,
                user.organization_id,
                {"locked_until": [None, locked_until.isoformat()]},
            )
            raise invalid_grant("account_locked", context={"retry_after": seconds_until(locked_until, now)})
        raise invalid_grant()

    async def refresh_grant(self, token: str) -> TokenResponse:
        """Trade a refresh token for new tokens; a token used twice ends its whole family."""
        now = self.clock.now()
        stored = await self.refresh_tokens.by_digest(digest(token))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise invalid_grant("invalid_refresh_token")
        if stored.used_at is not None or not await self.refresh_tokens.mark_used(stored.id, now):
            # A rotated token came back: it was stolen or replayed. End the login everywhere.
            await self.refresh_tokens.revoke_family(stored.family, now)
            await self.audit.record(
                Actor("system", None),
                "auth.refresh_token_reuse",
                "refresh_token",
                str(stored.id),
                None,
            )
            raise invalid_grant("invalid_refresh_token")
        row = await self.users.principal_row(stored.user_id)
        if (
            row is None
            or row.security_stamp != stored.stamp
            or (row.locked_until is not None and row.locked_until > now)
        ):
            raise invalid_grant("invalid_refresh_token")
        # An expired password: the new token may only change it, and the login ends here.
        expired = row.password_expires_at is not None and row.password_expires_at <= now
        return await self.issue_tokens(
            f"user:{row.id}", row.security_stamp, expired, user_id=row.id, family=stored.family
        )

    async def revoke(self, token: str) -> None:
        """Log out: revoke the refresh token's family. Unknown tokens are ignored (RFC 7009)."""
        stored = await self.refresh_tokens.by_digest(digest(token))
        if stored is not None:
            await self.refresh_tokens.revoke_family(stored.family, self.clock.now())

    async def issue_tokens(
        self,
        subject: str,
        stamp: str,
        password_change_required: bool,
        *,
        user_id: int | None = None,
        family: str | None = None,
        refreshable: bool = True,
    ) -> TokenResponse:
        """An access token and, unless the token may only change the password, a refresh token."""
        now = self.clock.now()
        refresh: str | None = None
        if refreshable and user_id is not None and not password_change_required:
            refresh = new_secret_token()
            await self.refresh_tokens.add(
                RefreshToken(
                    token_digest=digest(refresh),
                    family=family or new_stamp(),
                    user_id=user_id,
                    stamp=stamp,
                    issued_at=now,
                    expires_at=now + timedelta(days=self.settings.refresh_token_days),
                )
            )
        return TokenResponse(
            access_token=self.tokens.encode(subject, stamp, password_change_required, now),
            expires_in=int(self.tokens.lifetime.total_seconds()),
            refresh_token=refresh,
            password_change_required=password_change_required,
        )

    async def change_own_password(self, principal: Principal, current: str, new: str) -> None:
        """パスワード変更: the current password proves it is the user; all old tokens end."""
        if principal.user_id is None:
            raise Forbidden()
        user = await self.users.get(principal.user_id)
        if user is None:
            raise Forbidden()
        matches, _ = await self.hasher.verify(current, user.password_hash)
        if not matches:
            # A guess at the password with a stolen token counts like a failed login (and locks).
            now = self.clock.now()
            await self.users.register_failed_login(
                user.id,
                now,
                self.settings.lockout_threshold,
                now + timedelta(minutes=self.settings.lockout_minutes),
            )
            await self.audit.record(
                principal.actor, "auth.password_change_failed", "user", user.login_id, user.organization_id
            )
            raise CurrentPasswordRejected(
                errors=[FieldError("current_password", "current_password_incorrect")]
            )
        errors = password_errors(new, user.login_id, field="new_password")
        if not errors and new == current:
            errors = [FieldError("new_password", "password_unchanged")]
        if errors:
            raise Unprocessable(errors=errors)
        await set_password(
            self.users, user, await self.hasher.hash(new), self.settings, self.clock.now(), temporary=False
        )
        await self.audit.record(
            principal.actor, "user.password_change", "user", user.login_id, user.organization_id
        )


async def set_password(
    users: AccountRepository,
    user: User,
    password_hash: str,
    settings: Settings,
    now: datetime,
    *,
    temporary: bool,
) -> None:
    """Store a new password hash; a temporary one expires, and every old token ends (new stamp)."""
    if temporary:
        expires_at = now + timedelta(hours=settings.temporary_password_hours)
    elif settings.password_max_age_days is not None:
        expires_at = now + timedelta(days=settings.password_max_age_days)
    else:
        expires_at = None
    await users.update(
        user,
        {
            "password_hash": password_hash,
            "password_temporary": temporary,
            "password_changed_at": now,
            "password_expires_at": expires_at,
            "security_stamp": new_stamp(),
            "failed_login_count": 0,
            "locked_until": None,
            "updated_at": now,
        },
    )


AuthServiceDep = Annotated[AuthService, Depends(provide(AuthService))]
