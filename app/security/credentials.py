"""Password hashing (argon2id through passlib), access tokens (JWT) and opaque secrets."""

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import anyio
from jose import JWTError, jwt
from passlib.context import CryptContext

from app.config.settings import Settings
from app.http.errors import ServiceUnavailable

T = TypeVar("T")

JWT_ALGORITHM = "HS256"
# Passwords are at most 128 characters (4 bytes each in UTF-8): anything longer is wrong.
MAX_CANDIDATE_BYTES = 1024
JWT_ISSUER = "ainas"
# Access tokens whose signature check is remembered (see TokenCodec), and the longest token taken.
CHECKED_TOKENS = 4096
MAX_TOKEN_LENGTH = 2048
# Retry-After of a request that found every hashing turn taken for hash_wait_seconds.
BUSY_RETRY_AFTER_SECONDS = 2


class PasswordHasher:
    """argon2id with configured cost; older schemes verify and are flagged for upgrade.

    Hashing is bounded: at most `hash_concurrency` hashes run at once in this process, each in
    one of as many threads of its own (never on the event loop). argon2 takes 19 MiB per hash at
    the default cost, so unbounded, a flood of logins with unknown IDs would take the machine's
    memory. A caller waits up to `hash_wait_seconds` for a turn, then gets 503 with Retry-After.
    """

    def __init__(self, settings: Settings, context: CryptContext | None = None) -> None:
        self.context = context or CryptContext(
            schemes=["argon2", "pbkdf2_sha256"],
            deprecated=["pbkdf2_sha256"],
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_kib,
            argon2__rounds=settings.argon2_time_cost,
            argon2__parallelism=settings.argon2_parallelism,
        )
        # Generated passwords (see Settings.argon2_generated_memory_kib): a login with one
        # verifies it at this cost, then rehashes it at the context's (verify_and_update).
        self.generated = self.context.copy(
            argon2__memory_cost=settings.argon2_generated_memory_kib,
            argon2__rounds=settings.argon2_generated_time_cost,
        )
        self.concurrency = settings.hash_concurrency
        self._wait_seconds = settings.hash_wait_seconds
        # As many threads as turns: memory that argon2 frees stays with the few threads that
        # hash (glibc keeps per-thread arenas), not with every worker thread of the process.
        self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ainas-hash")
        self._turns: anyio.Semaphore | None = None  # made in the serving event loop, on first use
        # A hash of a random secret, made now, so that unknown accounts cost what known ones
        # do from the first request on.
        self.dummy_hash = self.context.hash(secrets.token_urlsafe(16))

    def load(self) -> tuple[int, int]:
        """(hashes running, callers waiting for a turn) in this process, for metrics."""
        if self._turns is None:
            return 0, 0
        return self.concurrency - self._turns.value, self._turns.statistics().tasks_waiting

    @asynccontextmanager
    async def turn(self) -> AsyncIterator["Hashing"]:
        """One of the process's hashing turns, held for the block (503 when none frees up in time).

        A caller that must do something before it hashes (claim a login attempt) takes its turn
        first, so that no attempt is counted that then cannot be checked.
        """
        if self._turns is None:
            self._turns = anyio.Semaphore(self.concurrency)
        turns = self._turns
        try:
            turns.acquire_nowait()
        except anyio.WouldBlock:
            try:
                with anyio.fail_after(self._wait_seconds):
                    await turns.acquire()
            except TimeoutError:
                raise ServiceUnavailable(
                    "server_busy",
                    context={"retry_after": BUSY_RETRY_AFTER_SECONDS},
                    headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
                ) from None
        try:
            yield Hashing(self)
        finally:
            turns.release()

    async def hash(self, password: str) -> str:
        """A new argon2id hash of the password (in a turn of its own)."""
        async with self.turn() as hashing:
            return await hashing.hash(password)

    async def hash_generated(self, password: str) -> str:
        """An argon2id hash of a generated password (random, temporary) at its own, lower cost."""
        async with self.turn():
            return await self.run(self.generated.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(matches, replacement hash or None), in a turn of its own; see Hashing.verify."""
        async with self.turn() as hashing:
            return await hashing.verify(password, password_hash)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run a hashing function in one of the hashing threads (the caller holds a turn)."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    def close(self) -> None:
        """Let the hashing threads end."""
        self._threads.shutdown(wait=False)


class Hashing:
    """What a caller holding a hashing turn may do, without waiting for another."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher

    async def hash(self, password: str) -> str:
        """A new argon2id hash of the password."""
        return await self._hasher.run(self._hasher.context.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(matches, replacement hash or None); a missing hash costs the same as a real one.

        A candidate longer than any acceptable password cannot match: it is refused after the
        same work as any other (passlib would raise on more than 4,096 bytes).
        """
        context = self._hasher.context
        if password_hash is None or len(password.encode("utf-8", "surrogatepass")) > MAX_CANDIDATE_BYTES:
            await self._hasher.run(context.verify, "", self._hasher.dummy_hash)
            return False, None
        return await self._hasher.run(context.verify_and_update, password, password_hash)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token asserts."""

    subject: str
    stamp: str
    password_change_required: bool
    expires_at: int


class TokenCodec:
    """Signs and checks access tokens with one key and one algorithm."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key
        self.lifetime = timedelta(minutes=settings.access_token_minutes)
        # A caller sends the same token for every request of its half hour, and checking its
        # signature (python-jose) costs about a tenth of a list request. What a token says never
        # changes, so the outcome of the check is kept per token string, for a bounded number
        # of tokens. Expiry and the principal's state (stamp, lock) are still checked on every
        # request by the caller.
        self._checked = lru_cache(maxsize=CHECKED_TOKENS)(self._check)

    def encode(self, subject: str, stamp: str, password_change_required: bool, now: datetime) -> str:
        """A signed access token for `subject` (the caller, as the application names it)."""
        claims: dict[str, Any] = {
            "iss": JWT_ISSUER,
            "sub": subject,
            "stm": stamp,
            "pcr": password_change_required,
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def decode(self, token: str) -> AccessClaims | None:
        """The claims of a token signed by this service, or None; expiry is checked by the caller."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None  # not one of ours (they are about 300 characters); never kept
        return self._checked(token)

    def _check(self, token: str) -> AccessClaims | None:
        """The claims of a token signed by this service, or None; expiry is checked by the caller.

        The algorithm list is fixed: the token's own `alg` header is never trusted.
        Expiry is compared with the service clock by the caller, so it is not verified here.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                issuer=JWT_ISSUER,
                options={"verify_exp": False, "verify_aud": False},
            )
        except JWTError:
            return None
        subject, stamp, exp = claims.get("sub"), claims.get("stm"), claims.get("exp")
        if not isinstance(subject, str) or not isinstance(stamp, str) or not isinstance(exp, int):
            return None
        return AccessClaims(subject, stamp, bool(claims.get("pcr")), exp)


def parse_basic(credentials: str) -> tuple[str, str] | None:
    """`user:password` from the base64 part of an HTTP Basic header (RFC 7617), or None."""
    try:
        user, separator, password = (
            base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if separator else None


def new_secret_token() -> str:
    """An opaque random token (refresh tokens): 256 bits."""
    return secrets.token_urlsafe(32)


def new_stamp() -> str:
    """A new security stamp; changing it ends every token issued under the old one."""
    return secrets.token_hex(16)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for random tokens, never for passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    """Compare secrets without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())
