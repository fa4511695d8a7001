"""Linked-system authentication with an API key and the organization's API password (SPEC §5.1).

HTTP Basic on every request must not cost an argon2 hash each time. After one argon2 check
succeeds, the key row keeps `credential_digest` = HMAC-SHA256(service secret, key id | password
stamp | password). A later request whose HMAC matches is accepted without argon2. It is read from
the database on every request together with `revoked_at` and the organization's password stamp,
so a revoked key or a changed password stops working at once on every instance: the new stamp
no longer matches the stored digest, and nothing is cached in process memory.
"""

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, AuditTrail
from app.audit.unit_of_work import Service, provide
from app.auth.principals import Principal, PrincipalKind
from app.auth.repository import KeyCredentials, LinkedSystemRepository
from app.auth.schemas import TokenResponse
from app.core.clock import seconds_until
from app.core.errors import OAuthError, TooManyRequests, Unauthorized
from app.core.security import PasswordHasher, constant_time_equals, parse_basic

if TYPE_CHECKING:
    from app.auth.service import AuthService

LAST_USED_RESOLUTION = timedelta(minutes=1)
API_KEY_CHARACTERS = frozenset("0123456789ABCDEF")


def is_api_key(value: str) -> bool:
    """Whether a value could be an API key (32 upper-case hex characters)."""
    return len(value) == 32 and all(ch in API_KEY_CHARACTERS for ch in value)


def credential_digest(secret_key: str, key_id: int, stamp: str, password: str) -> str:
    """The keyed digest that stands for one successful argon2 check of this key and password."""
    message = f"{key_id}|{stamp}|{password}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _rejected(oauth: bool) -> Exception:
    """401 for a wrong key or password, in the token endpoint's form when it is asked there."""
    if oauth:
        return OAuthError("invalid_client", "invalid_client", status=401)
    return Unauthorized("invalid_client", headers={"WWW-Authenticate": 'Basic realm="ainas"'})


def _throttled(retry_after: int, oauth: bool) -> TooManyRequests:
    """429 with Retry-After; at the token endpoint with RFC 6749's `error` member too."""
    error = TooManyRequests(retry_after)
    if oauth:
        error.oauth_error = "temporarily_unavailable"
    return error


def linked_system_principal(key: KeyCredentials) -> Principal:
    """The principal a valid key stands for."""
    return Principal(
        kind=PrincipalKind.LINKED_SYSTEM,
        subject=f"key:{key.id}",
        organization_id=key.organization_id,
        role=None,
        api_key_id=key.id,
    )


class LinkedSystemAuth(Service):
    """Checks an API key and API password, with throttling and the Basic fast path."""

    @property
    def keys(self) -> LinkedSystemRepository:
        """The repository of this request's session."""
        return LinkedSystemRepository(self.session)

    @property
    def hasher(self) -> PasswordHasher:
        """The process's password hasher."""
        return self.runtime.hasher

    async def verify(self, key_value: str, password: str, *, oauth: bool) -> KeyCredentials:
        """The key's credentials when the password is right; 401 (or 429 while throttled)."""
        now = self.clock.now()
        key = await self.keys.credentials(key=key_value) if is_api_key(key_value) else None
        if key is None or key.revoked_at is not None or key.api_password_hash is None:
            await self.hasher.verify(password, None)
            await self._record_failure(None, "unknown_or_revoked_key", now)
            raise _rejected(oauth)
        if key.throttled_until is not None and key.throttled_until > now:
            raise _throttled(seconds_until(key.throttled_until, now), oauth)
        stamp = key.api_password_stamp or ""
        digest = credential_digest(self.settings.secret_key, key.id, stamp, password)
        updates: dict[str, object] = {}
        if key.credential_digest is None or not constant_time_equals(key.credential_digest, digest):
            matches, _ = await self.hasher.verify(password, key.api_password_hash)
            if not matches:
                throttled_until = await self._record_failure(key, "wrong_api_password", now)
                if throttled_until is not None and throttled_until > now:
                    raise _throttled(seconds_until(throttled_until, now), oauth)
                raise _rejected(oauth)
            updates["credential_digest"] = digest
        if key.failed_attempts:
            updates["failed_attempts"] = 0
            updates["throttled_until"] = None
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            updates["last_used_at"] = now
        if updates:
            await self.keys.record_success(key.id, updates)
        return key

    async def _record_failure(
        self, key: KeyCredentials | None, reason: str, now: datetime
    ) -> datetime | None:
        """Count the failure and audit it in a transaction of their own, committed whatever the
        request does next (GET requests run without one); returns the key's throttle end."""
        async with self.runtime.sessionmaker() as session:
            audit = AuditTrail(session, self.clock, self.audit.request_id, self.audit.client_ip)
            throttled_until = None
            if key is not None:
                throttled_until = await LinkedSystemRepository(session).register_failure(
                    key.id,
                    key.organization_id,
                    now,
                    self.settings.api_key_failure_threshold,
                    now + timedelta(seconds=self.settings.api_key_throttle_seconds),
                )
            await audit.record(
                Actor("linked_system", f"key:{key.id}") if key else Actor("anonymous", None),
                "auth.api_key_failed",
                "api_key",
                str(key.id) if key else None,
                key.organization_id if key else None,
                {"reason": ["", reason]},
            )
            await session.commit()
        return throttled_until

    async def client_credentials_grant(
        self, auth: "AuthService", key_value: str, password: str
    ) -> TokenResponse:
        """A linked system's access token (no refresh token: it can always ask again, RFC 6749 §4.4.3)."""
        key = await self.verify(key_value, password, oauth=True)
        await self.audit.record(
            Actor("linked_system", f"key:{key.id}"),
            "auth.api_key_login",
            "api_key",
            str(key.id),
            key.organization_id,
        )
        return await auth.issue_tokens(
            f"key:{key.id}", key.api_password_stamp or "", False, refreshable=False
        )


LinkedSystemAuthDep = Annotated[LinkedSystemAuth, Depends(provide(LinkedSystemAuth))]


async def authenticate_basic(auth: LinkedSystemAuth, encoded: str) -> Principal:
    """The linked system behind `Authorization: Basic base64(api_key:api_password)`."""
    credentials = parse_basic(encoded)
    if credentials is None:
        raise Unauthorized("invalid_client", headers={"WWW-Authenticate": 'Basic realm="ainas"'})
    return linked_system_principal(await auth.verify(*credentials, oauth=False))


async def principal_for_key(session: AsyncSession, key_id: int, stamp: str) -> Principal | None:
    """The linked system behind a bearer token, if its key stands and its password is unchanged."""
    key = await LinkedSystemRepository(session).credentials(key_id=key_id)
    if key is None or key.revoked_at is not None:
        return None
    if not constant_time_equals(key.api_password_stamp or "", stamp):
        return None
    return linked_system_principal(key)
