"""Idempotency-Key on POST (SPEC §5.3), kept in the database in the same transaction as the change.

A retry with the same key and body answers the stored answer and changes nothing; the same key
with another body answers 422; a retry while the first request is still running answers 409
(on PostgreSQL a transaction-scoped advisory lock marks "running" across every instance).
Only successful answers are stored: a failed request changed nothing and may be retried.

Some answers carry secrets shown once (registration notice, temporary passwords). So nothing is
kept in a form a copy of the database would reveal: the key is stored as an HMAC under the
service secret, the request as an HMAC, and the answer body encrypted (AES-GCM) under a key
derived from the service secret and the client's Idempotency-Key, which is itself not stored.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.auth.dependencies import AuthenticatedPrincipal, usable
from app.db.session import SessionDep
from app.http.errors import Conflict, Forbidden, Unprocessable, field_errors
from app.http.openapi import raises
from app.models import IdempotencyRecord
from app.runtime import runtime_of

REPLAY_HEADER = "Idempotent-Replayed"
_STORED_HEADERS = ("location", "etag", "content-type")


class IdempotentReplay(Exception):
    """The stored answer of an earlier request with the same key; rendered as that answer."""

    def __init__(self, record: IdempotencyRecord, body: bytes) -> None:
        super().__init__("replay")
        # Copied now: the session rolls back (and expires the row) before the answer is rendered.
        self.status_code = record.status_code
        self.headers = dict(record.headers)
        self.body = body


class Sealer:
    """Derives what is stored for one principal's Idempotency-Key, and seals the answer body."""

    def __init__(self, secret_key: str, principal: str, key: str) -> None:
        self._secret = secret_key.encode()
        self._scope = f"{principal}\n{key}".encode()
        self.lookup = self._mac(b"lookup").hex()

    def _mac(self, purpose: bytes, *parts: bytes) -> bytes:
        return hmac.new(self._secret, b"\n".join([purpose, self._scope, *parts]), hashlib.sha256).digest()

    def request_digest(self, *parts: bytes) -> str:
        """What identifies the request's content (method, path, query, body) without revealing it."""
        return self._mac(b"request", *parts).hex()

    def seal(self, body: bytes) -> bytes:
        """Nonce and ciphertext of the answer body."""
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._mac(b"body")).encrypt(nonce, body, self.lookup.encode())

    def open(self, sealed: bytes) -> bytes:
        """The answer body sealed by `seal` for the same principal and key."""
        return AESGCM(self._mac(b"body")).decrypt(sealed[:12], sealed[12:], self.lookup.encode())


class PendingIdempotency:
    """A key seen for the first time: the answer is stored before the transaction commits."""

    def __init__(
        self, session: AsyncSession, principal: str, sealer: Sealer, digest: str, runtime: Any
    ) -> None:
        self.session = session
        self.principal = principal
        self.sealer = sealer
        self.digest = digest
        self.runtime = runtime

    async def store(self, response: Response) -> None:
        """Keep a successful answer with the change it reports."""
        headers = {name: value for name, value in response.headers.items() if name in _STORED_HEADERS}
        self.session.add(
            IdempotencyRecord(
                principal=self.principal,
                key=self.sealer.lookup,
                request_digest=self.digest,
                status_code=response.status_code,
                headers=headers,
                body=self.sealer.seal(bytes(response.body)),
                created_at=self.runtime.clock.now(),
            )
        )
        # Records past their retention go now, whoever they belonged to (index on created_at).
        await purge_expired(self.session, self.runtime)
        await self.session.flush()


@raises(
    Forbidden("password_change_required"),
    field_errors("invalid_idempotency_key", "Idempotency-Key"),
    Unprocessable("idempotency_key_reused"),
    Conflict("idempotency_in_progress"),
)
async def idempotency(
    request: Request,
    session: SessionDep,
    authenticated: AuthenticatedPrincipal,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes a retried POST safe: the same key and body answer the first answer (kept 24 hours)",
        ),
    ] = None,
) -> None:
    """Replay, refuse, or remember a POST that carries an Idempotency-Key."""
    # `usable` and the runtime taken here rather than injected: two dependencies less to solve
    # on every POST.
    principal = usable(authenticated)
    runtime = runtime_of(request)
    if key is None:
        return
    if not (1 <= len(key) <= 255 and key.isascii() and key.isprintable()):
        raise field_errors("invalid_idempotency_key", "Idempotency-Key")
    # The principal as it is now: a stored answer is replayed only to the same principal with
    # the same role and location, so that a demoted caller cannot replay what it may no longer do.
    scope = f"{principal.subject}:{principal.role}:{principal.location_id}"
    sealer = Sealer(runtime.settings.secret_key, scope, key)
    digest = sealer.request_digest(
        request.method.encode(),
        request.url.path.encode(),
        request.url.query.encode(),
        await _content(request),
    )
    if session.bind.dialect.name == "postgresql":
        # Held until this transaction ends: a concurrent retry sees it taken and answers 409.
        locked = await session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"{scope}\n{key}", 0)))
        )
        if not locked:
            raise Conflict("idempotency_in_progress")
    record = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == scope, IdempotencyRecord.key == sealer.lookup
        )
    )
    now = runtime.clock.now()
    if record is not None:
        if record.created_at > now - timedelta(hours=runtime.settings.idempotency_hours):
            if record.request_digest != digest:
                raise Unprocessable("idempotency_key_reused")
            try:
                raise IdempotentReplay(record, sealer.open(record.body))
            except InvalidTag:
                pass  # a body that does not open (damaged) cannot be replayed: the request runs anew
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
    request.state.idempotency = PendingIdempotency(session, scope, sealer, digest, runtime)


async def _content(request: Request) -> bytes:
    """The body as the digest sees it. A multipart form counts by its fields' names and contents,
    in any order: a client picks a new boundary for each attempt, and FastAPI has parsed the form
    (consuming the body) before dependencies run."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return await request.body()
    parts = []
    for name, value in (await request.form()).multi_items():
        if isinstance(value, UploadFile):
            content = await value.read()
            await value.seek(0)
        else:
            content = value.encode()
        parts.append(hashlib.sha256(name.encode()).digest() + hashlib.sha256(content).digest())
    return b"".join(sorted(parts))


async def replay(request: Request, exc: Exception) -> Response:
    """Answer a stored response again, marked as a replay."""
    assert isinstance(exc, IdempotentReplay)
    return Response(
        content=exc.body, status_code=exc.status_code, headers={**exc.headers, REPLAY_HEADER: "true"}
    )


async def purge_expired(session: AsyncSession, runtime: Any) -> int:
    """Delete records older than the retention period; returns how many."""
    cutoff = runtime.clock.now() - timedelta(hours=runtime.settings.idempotency_hours)
    result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


IdempotencyDep = Depends(idempotency)
