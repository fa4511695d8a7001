"""Linked-system authentication with an API key and the organization's API password (SPEC §5.1).

HTTP Basic on every request must not cost an argon2 hash each time. After one argon2 check
succeeds, the key row keeps `credential_digest` = HMAC-SHA256(service secret, key id | password
stamp | password). A later request whose HMAC matches is accepted without argon2. It is read from
the database on every request together with `revoked_at` and the organization's password stamp,
so a revoked key or a changed password stops working at once on every instance: the new stamp
no longer matches the stored digest, and nothing is cached in process memory.

Wrong passwords are throttled, not locked (SPEC §5.1): each attempt that needs argon2 is first
claimed in the database (app/security/attempts.py), counted for the key and across the organization's
keys, and while the key or any key of the organization is throttled it is refused unchecked
(429). A linked system whose digest matches is not affected: it knows the password.
"""

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Principal, PrincipalKind
from app.auth.repository import KeyCredentials, LinkedSystemRepository
from app.auth.schemas import TokenResponse
from app.config.clock import seconds_until
from app.db.session import separate_transaction
from app.http.errors import FieldError, OAuthError, TooManyRequests, Unauthorized, Unprocessable
from app.journal.audit_trail import Actor, AuditTrail
from app.journal.context import RequestContext, provide
from app.models import Organization
from app.security.credentials import PasswordHasher, constant_time_equals, parse_basic

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


def _throttled(throttled_until: datetime | None, now: datetime, oauth: bool) -> TooManyRequests:
    """429 with Retry-After (its audit event is kept); at the token endpoint with RFC 6749's
    `error` member too."""
    error = TooManyRequests(seconds_until(max(throttled_until or now, now), now), persist=True)
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


@dataclass(frozen=True, slots=True)
class KeyAttempt:
    """One checked (or refused) API password attempt of a key."""

    matches: bool
    # Set when the key is throttled now: the attempt was refused unchecked, or it was the
    # threshold's wrong password.
    throttled_until: datetime | None
    # The throttle this attempt's claim set; given back with the claim when the password is right.
    claimed_throttle: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """A key named by id, with its organization (a principal's key)."""

    id: int
    organization_id: int


class LinkedSystemAuth:
    """Checks an API key and API password, with throttling and the Basic fast path."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def keys(self) -> LinkedSystemRepository:
        """The repository of this request's session."""
        return LinkedSystemRepository(self.context.session)

    @property
    def hasher(self) -> PasswordHasher:
        """The process's password hasher."""
        return self.context.runtime.hasher

    async def verify(self, key_value: str, password: str, *, oauth: bool) -> KeyCredentials:
        """The key's credentials when the password is right; 401, or 429 while throttled.

        Right credentials known from an earlier argon2 check (the keyed digest matches) pass
        at once, also while wrong guesses throttle the key id: the throttle limits guessing, not
        the linked system that knows the password (SPEC §5.1). Any other password is one counted
        attempt, checked only while the key is not throttled.
        """
        now = self.context.clock.now()
        key = await self.keys.credentials(key=key_value) if is_api_key(key_value) else None
        if key is None or key.revoked_at is not None or key.api_password_hash is None:
            await self.hasher.verify(password, None)
            async with self._bookkeeping(in_request=False) as (_, audit):
                await audit.record(
                    Actor("anonymous", None),
                    "auth.api_key_failed",
                    "api_key",
                    None,
                    None,
                    {"reason": ["", "unknown_or_revoked_key"]},
                )
            raise _rejected(oauth)
        digest = credential_digest(
            self.context.settings.secret_key, key.id, key.api_password_stamp or "", password
        )
        last_use: dict[str, object] = (
            {"last_used_at": now}
            if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION
            else {}
        )
        if key.credential_digest is not None and constant_time_equals(key.credential_digest, digest):
            if last_use:
                await self.keys.record_success(key.id, last_use)
            return key
        attempt = await self.attempt(
            key, key.api_password_hash, password, "wrong_api_password", in_request=False
        )
        if attempt.throttled_until is not None:
            raise _throttled(attempt.throttled_until, now, oauth)
        if not attempt.matches:
            raise _rejected(oauth)
        async with self._bookkeeping(in_request=False) as (session, _):
            await LinkedSystemRepository(session).give_back(
                key.id, attempt.claimed_throttle, {"credential_digest": digest, **last_use}
            )
        return key

    async def check_current_password(self, key_id: int, organization: Organization, password: str) -> None:
        """A linked system proves the API password it wants to change: one counted attempt of its
        key like any other, recorded in the request's transaction (422 when wrong, 429 while the
        key is throttled)."""
        now = self.context.clock.now()
        key = KeyIdentity(key_id, organization.id)
        attempt = await self.attempt(
            key, organization.api_password_hash, password, "wrong_current_password", in_request=True
        )
        if attempt.throttled_until is not None:
            raise _throttled(attempt.throttled_until, now, oauth=False)
        if not attempt.matches:
            raise Unprocessable(
                errors=[FieldError("current_password", "current_password_incorrect")], persist=True
            )
        await self.keys.give_back(key_id, attempt.claimed_throttle, {})

    async def attempt(
        self,
        key: KeyIdentity | KeyCredentials,
        password_hash: str | None,
        password: str,
        reason: str,
        *,
        in_request: bool,
    ) -> KeyAttempt:
        """Claim one attempt of the key, check the password unless the key is throttled, and
        audit a failure. The claim and its audit event go to the request's transaction, or to
        transactions of their own committed at once (authentication, which a request's own
        outcome must not undo). The hashing turn is taken first: no attempt is counted unchecked."""
        now = self.context.clock.now()
        throttle_until = now + timedelta(seconds=self.context.settings.api_key_throttle_seconds)
        async with self.hasher.turn() as hashing:
            async with self._bookkeeping(in_request) as (session, _):
                claim = await LinkedSystemRepository(session).claim_attempt(
                    key.id,
                    key.organization_id,
                    now,
                    self.context.settings.api_key_failure_threshold,
                    throttle_until,
                )
            matches = claim.claimed and (await hashing.verify(password, password_hash))[0]
        if matches:
            return KeyAttempt(True, None, claim.throttled_until)
        async with self._bookkeeping(in_request) as (_, audit):
            await audit.record(
                Actor("linked_system", f"key:{key.id}"),
                "auth.api_key_failed",
                "api_key",
                str(key.id),
                key.organization_id,
                {"reason": ["", reason if claim.claimed else "throttled"]},
            )
        # Refused unchecked: throttled (until a moment from now, if the throttle just ended).
        return KeyAttempt(False, claim.throttled_until if claim.claimed else claim.throttled_until or now)

    @asynccontextmanager
    async def _bookkeeping(self, in_request: bool) -> AsyncIterator[tuple[AsyncSession, AuditTrail]]:
        """The request's session and audit trail, or a transaction of their own committed when
        the block ends (GET requests run without one, and a refused request rolls back)."""
        if in_request:
            yield self.context.session, self.context.audit
            return
        async with separate_transaction(self.context.runtime.sessionmaker) as session:
            yield (
                session,
                AuditTrail(
                    session, self.context.clock, self.context.audit.request_id, self.context.audit.client_ip
                ),
            )

    async def client_credentials_grant(
        self, auth: "AuthService", key_value: str, password: str
    ) -> TokenResponse:
        """A linked system's access token (no refresh token: it can always ask again, RFC 6749 §4.4.3)."""
        key = await self.verify(key_value, password, oauth=True)
        await self.context.audit.record(
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
