"""Logins, token refresh and revocation, and changing one's own password."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends

from app.auth.principals import Principal
from app.auth.repository import AccountRepository, LoginCandidate, RefreshTokenRepository
from app.auth.schemas import TokenResponse
from app.auth.types import is_login_id
from app.config.clock import seconds_until
from app.config.settings import Settings
from app.db.session import separate_transaction
from app.http.errors import FieldError, Forbidden, OAuthError, TooManyRequests, Unprocessable
from app.journal.audit_trail import Actor
from app.journal.context import RequestContext, provide
from app.models import RefreshToken, User
from app.security.credentials import digest, new_secret_token, new_stamp
from app.security.passwords import password_errors


def invalid_grant(code: str = "invalid_credentials", **kwargs: object) -> OAuthError:
    """RFC 6749 `invalid_grant`; the attempt's counters and audit event are kept."""
    return OAuthError("invalid_grant", code, persist=True, **kwargs)  # type: ignore[arg-type]


def account_locked(locked_until: datetime | None, now: datetime) -> OAuthError:
    """The login is refused, and for how long."""
    return invalid_grant("account_locked", context={"retry_after": _retry_after(locked_until, now)})


def visible_login_id(login_id: str) -> str:
    """What was typed as a login ID, made safe to store and to show (no NUL or control characters)."""
    return login_id if is_login_id(login_id) else ascii(login_id)[1:-1][:64]


class AuthService:
    """Authentication of people (users and operators)."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self.hasher = context.runtime.hasher
        self.tokens = context.runtime.tokens
        self.users = AccountRepository(context.session)
        self.refresh_tokens = RefreshTokenRepository(context.session)

    async def _claim(self, now: datetime, **who: Any) -> LoginCandidate | None:
        """Count one attempt in a transaction of its own, committed before the password is
        checked, so that every racing attempt sees it (SPEC §5.1: the count is exact)."""
        async with separate_transaction(self.context.runtime.sessionmaker) as session:
            return await AccountRepository(session).claim_login(
                now,
                self.context.settings.lockout_threshold,
                now + timedelta(minutes=self.context.settings.lockout_minutes),
                **who,
            )

    async def password_grant(self, login_id: str, password: str) -> TokenResponse:
        """Log in with a login ID and password; lock after repeated failures (SPEC §5.1).

        The attempt is counted before its password is checked, and refused unchecked while the
        account is locked: of any number of simultaneous wrong passwords at most the threshold
        are checked. Unknown login IDs pay for a hash too, so that timing does not tell which
        IDs exist. The hashing turn is taken first, so that no attempt is counted unchecked.
        """
        now = self.context.clock.now()
        known = is_login_id(login_id)
        async with self.hasher.turn() as hashing:
            user = await self._claim(now, login_id=login_id) if known else None
            locked = await self.users.locked(login_id=login_id) if known and user is None else None
            if user is None and locked is None:
                await hashing.verify(password, None)
            matches, new_hash = await hashing.verify(password, user.password_hash) if user else (False, None)
        if locked is not None:
            await self._login_failed(locked.login_id, locked.organization_id, "locked")
            raise account_locked(locked.locked_until, now)
        if user is None:
            await self._login_failed(visible_login_id(login_id), None, "unknown_login_id", anonymous=True)
            raise invalid_grant()
        if not matches:
            await self._login_failed(
                user.login_id,
                user.organization_id,
                "wrong_password",
                {"failures": [user.failures - 1, user.failures]},
            )
            if user.claimed_lock is not None:
                await self._locked_out(user.login_id, user.organization_id, user.claimed_lock)
                raise account_locked(user.claimed_lock, now)
            raise invalid_grant()
        expired = user.password_expires_at is not None and user.password_expires_at <= now
        # A one-time password is good for a limited time; after that an admin resets again.
        refused = expired and user.password_temporary
        bookkeeping: dict[str, object] = {} if refused else {"last_login_at": now}
        if new_hash is not None and not refused:
            bookkeeping["password_hash"] = new_hash
        if not await self.users.record_success(user.id, now, user.claimed_lock, bookkeeping):
            # Right, but another attempt's lock is in force: no login succeeds while locked.
            await self._login_failed(user.login_id, user.organization_id, "locked")
            raise account_locked(await self._lock_end(user.id), now)
        if refused:
            await self._login_failed(user.login_id, user.organization_id, "temporary_password_expired")
            raise invalid_grant("temporary_password_expired")
        await self.context.audit.record(
            self._actor(user.login_id, user.organization_id),
            "auth.login",
            "user",
            user.login_id,
            user.organization_id,
        )
        return await self.issue_tokens(
            f"user:{user.id}", user.security_stamp, user.password_temporary or expired, user_id=user.id
        )

    async def _lock_end(self, user_id: int) -> datetime | None:
        """When the lock now in force ends."""
        locked = await self.users.locked(user_id=user_id)
        return locked.locked_until if locked else None

    @staticmethod
    def _actor(login_id: str, organization_id: int | None) -> Actor:
        return Actor("operator" if organization_id is None else "user", login_id)

    async def _login_failed(
        self,
        login_id: str,
        organization_id: int | None,
        reason: str,
        changes: dict[str, Any] | None = None,
        *,
        anonymous: bool = False,
    ) -> None:
        """Audit a refused login with its reason."""
        await self.context.audit.record(
            Actor("anonymous", login_id) if anonymous else self._actor(login_id, organization_id),
            "auth.login_failed",
            "user",
            None if anonymous else login_id,
            organization_id,
            {"reason": ["", reason], **(changes or {})},
        )

    async def _locked_out(self, login_id: str, organization_id: int | None, locked_until: datetime) -> None:
        """Audit the lock that the threshold's wrong password set."""
        await self.context.audit.record(
            Actor("system", None),
            "user.lockout",
            "user",
            login_id,
            organization_id,
            {"locked_until": [None, locked_until.isoformat()]},
        )

    async def refresh_grant(self, token: str) -> TokenResponse:
        """Trade a refresh token for new tokens; a token used twice ends its whole family."""
        now = self.context.clock.now()
        stored = await self.refresh_tokens.by_digest(digest(token))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise invalid_grant("invalid_refresh_token")
        if stored.used_at is not None or not await self.refresh_tokens.mark_used(stored.id, now):
            # A rotated token came back: it was stolen or replayed. End the login everywhere.
            await self.refresh_tokens.revoke_family(stored.family, now)
            await self.context.audit.record(
                Actor("system", None),
                "auth.refresh_token_reuse",
                "refresh_token",
                str(stored.id),
                None,
            )
            raise invalid_grant("invalid_refresh_token")
        row = await self.users.principal_row(stored.user_id)
        # A lock from failed logins does not end a login that began before it (SPEC §5.1).
        if row is None or row.security_stamp != stored.stamp:
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
            await self.refresh_tokens.revoke_family(stored.family, self.context.clock.now())

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
        now = self.context.clock.now()
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
                    expires_at=now + timedelta(days=self.context.settings.refresh_token_days),
                )
            )
        return TokenResponse(
            access_token=self.tokens.encode(subject, stamp, password_change_required, now),
            expires_in=int(self.tokens.lifetime.total_seconds()),
            refresh_token=refresh,
            password_change_required=password_change_required,
        )

    async def change_own_password(self, principal: Principal, current: str, new: str) -> None:
        """パスワード変更: the current password proves it is the user; all old tokens end.

        A wrong current password counts as a failed login (a stolen token must not allow
        unthrottled guessing), claimed before it is checked like any login; while the account
        is locked the check is refused (429), also for the right password.
        """
        if principal.user_id is None or principal.login_id is None:
            raise Forbidden()
        errors = password_errors(new, principal.login_id, field="new_password")
        if not errors and new == current:
            errors = [FieldError("new_password", "password_unchanged")]
        if errors:
            raise Unprocessable(errors=errors)
        now = self.context.clock.now()
        matches, new_hash = False, None
        async with self.hasher.turn() as hashing:
            claimed = await self._claim(now, user_id=principal.user_id)
            if claimed is not None:
                matches, _ = await hashing.verify(current, claimed.password_hash)
                new_hash = await hashing.hash(new) if matches else None
        if claimed is None:
            locked = await self.users.locked(user_id=principal.user_id)
            if locked is None:
                raise Forbidden()
            await self._password_change_failed(principal, locked.login_id, locked.organization_id, "locked")
            raise TooManyRequests(_retry_after(locked.locked_until, now), "account_locked", persist=True)
        if not matches:
            await self._password_change_failed(
                principal,
                claimed.login_id,
                claimed.organization_id,
                "wrong_password",
                {"failures": [claimed.failures - 1, claimed.failures]},
            )
            if claimed.claimed_lock is not None:
                await self._locked_out(claimed.login_id, claimed.organization_id, claimed.claimed_lock)
                raise TooManyRequests(_retry_after(claimed.claimed_lock, now), "account_locked", persist=True)
            raise Unprocessable(
                errors=[FieldError("current_password", "current_password_incorrect")], persist=True
            )
        if not await self.users.record_success(claimed.id, now, claimed.claimed_lock, {}):
            await self._password_change_failed(principal, claimed.login_id, claimed.organization_id, "locked")
            raise TooManyRequests(
                _retry_after(await self._lock_end(claimed.id), now), "account_locked", persist=True
            )
        user = await self.users.get(claimed.id)
        if user is None:
            raise Forbidden()
        assert new_hash is not None
        await set_password(self.users, user, new_hash, self.context.settings, now, temporary=False)
        await self.context.audit.record(
            principal.actor, "user.password_change", "user", user.login_id, user.organization_id
        )

    async def _password_change_failed(
        self,
        principal: Principal,
        login_id: str,
        organization_id: int | None,
        reason: str,
        changes: dict[str, Any] | None = None,
    ) -> None:
        await self.context.audit.record(
            principal.actor,
            "auth.password_change_failed",
            "user",
            login_id,
            organization_id,
            {"reason": ["", reason], **(changes or {})},
        )


def _retry_after(locked_until: datetime | None, now: datetime) -> int:
    """Seconds until a lock ends (at least one, also for a lock just ending)."""
    return seconds_until(max(locked_until or now, now), now)


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
