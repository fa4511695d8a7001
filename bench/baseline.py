"""The baseline: the physical limit of this stack for the benchmark's requests.

Bare Starlette + raw asyncpg + orjson, serving the same rows of the same database with the same
checks as the service: an HS256 JWT verified with the same key (fixed algorithm, issuer, expiry),
one user row read per request comparing the security stamp (and lock / temporary password),
the tenant check (the path's organization is the caller's), then count + page. HTTP Basic uses the
same fast path as the service (HMAC of key id, password stamp and password compared with the
stored digest, argon2 only when it does not match). Nothing here is slowed down on purpose, and
nothing the service must do for these requests is left out.

Run by the benchmark as `uvicorn bench.baseline:create_app --factory`; reads BASELINE_DATABASE_URL,
AINAS_SECRET_KEY and the AINAS_ARGON2_* cost parameters.
"""

import base64
import binascii
import csv
import hashlib
import hmac
import io
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import argon2
import asyncpg
import orjson
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.text.rules import search_form

ISSUER = "ainas"
ACCESS_MINUTES = 30
_CODE = re.compile(r"^[0-9A-Za-z]{1,10}$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")

LOCATION_COLUMNS = "code, name, short_name, delegate_number, created_at, updated_at, version"
# With the search forms of the names (migration of the width-insensitive search), as the service writes them.
_INSERT_LOCATION = (
    "INSERT INTO locations (organization_id, code, name, short_name, delegate_number, created_at, "
    "updated_at, version, name_search, short_name_search) VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $7, $8) "
    "RETURNING "
)
INSERT_LOCATION = _INSERT_LOCATION + LOCATION_COLUMNS
# PATCH and DELETE: the row locked until the transaction ends, then the write.
_LOCK_LOCATION = (
    "SELECT id, " + LOCATION_COLUMNS + " FROM locations WHERE organization_id = $1 AND code = $2 FOR UPDATE"  # noqa: S608
)
_UPDATE_LOCATION = (
    "UPDATE locations SET name = $2, short_name = $3, delegate_number = $4, updated_at = $5, "  # noqa: S608
    "version = version + 1, name_search = $6, short_name_search = $7 WHERE id = $1 "
    "RETURNING id, " + LOCATION_COLUMNS
)
_LOCATION_EVENT = (
    "INSERT INTO audit_events (at, organization_id, actor_kind, actor_id, action, resource_type, "
    "resource_id, changes, request_id, client_ip) VALUES ($1, $2, $3, $4, $5, 'location', $6, $7, $8, $9)"
)
_EDITABLE = ("name", "short_name", "delegate_number")
USER_COLUMNS = (
    "u.login_id, u.name, l.code AS location_code, u.role, u.password_expires_at, "
    "u.password_temporary AS password_change_required, u.last_login_at, u.locked_until, "
    "u.created_at, u.updated_at, u.version"
)


# CSV (SPEC §5.6), as the service writes and reads it.
JAPAN = timezone(timedelta(hours=9))
USER_HEADER = ["ログインID", "ユーザー名", "依頼人拠点コード", "依頼人拠点名", "権限", "最終ログイン日時"]
ROLE_LABELS = {
    "admin": "管理者",
    "location_admin": "拠点管理者",
    "staff_submitter": "担当者（送信可）",
    "staff_preparer": "担当者（送信不可）",
}
LOCATION_FIELDS = {
    "依頼人拠点コード": "code",
    "依頼人拠点名": "name",
    "依頼人拠点名（略称）": "short_name",
    "記録等事務代行者委託番号": "delegate_number",
}
_FORMULA = frozenset("=+-@\t\r'")


def _japan_minute(value: datetime) -> str:
    local = value + timedelta(hours=9)  # asyncpg: aware UTC; Japan has no daylight saving time
    return f"{local.year:04d}/{local.month:02d}/{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        ["'" + cell if cell[:1] in _FORMULA else cell for cell in row] for row in rows
    )
    return buffer.getvalue()


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    """HS256 JWTs, exactly the claims the service signs and checks."""

    _HEADER = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))

    def __init__(self, key: str) -> None:
        self.key = key.encode()

    def decode(self, token: str) -> dict[str, Any] | None:
        """Claims of a valid token (signature, algorithm HS256 only, issuer, expiry), or None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signed = f"{parts[0]}.{parts[1]}".encode()
        try:
            signature = _b64url_decode(parts[2])
            header = orjson.loads(_b64url_decode(parts[0]))
            claims = orjson.loads(_b64url_decode(parts[1]))
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(signature, hmac.new(self.key, signed, hashlib.sha256).digest()):
            return None
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
            return None
        exp, sub, stm = claims.get("exp"), claims.get("sub"), claims.get("stm")
        if claims.get("iss") != ISSUER or not isinstance(exp, int) or exp <= time.time():
            return None
        if not isinstance(sub, str) or not isinstance(stm, str):
            return None
        return claims

    def encode(self, subject: str, stamp: str, now: datetime) -> str:
        """A token the service itself would accept."""
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "stm": stamp,
            "pcr": False,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=ACCESS_MINUTES)).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        payload = f"{self._HEADER}.{_b64url(orjson.dumps(claims))}"
        signature = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()
        return f"{payload}.{_b64url(signature)}"


class Principal:
    """The caller after the checks."""

    __slots__ = ("actor_id", "actor_kind", "key_id", "location_id", "organization_id", "role", "user_id")

    def __init__(
        self,
        organization_id: int | None,
        role: str | None,
        location_id: int | None,
        user_id: int | None,
        actor_kind: str,
        actor_id: str,
        key_id: int | None = None,
    ) -> None:
        self.organization_id = organization_id
        self.role = role
        self.location_id = location_id
        self.user_id = user_id
        self.actor_kind = actor_kind
        self.actor_id = actor_id
        self.key_id = key_id


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _problem(status: int, code: str) -> Response:
    return Response(
        orjson.dumps({"status": status, "code": code}), status, media_type="application/problem+json"
    )


def _if_match(header: str | None) -> set[int] | None | Response:
    """The versions If-Match accepts (None: any), as the service reads the header; 422 when malformed."""
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for raw in header.split(","):
        tag = raw.strip()
        value = tag.removeprefix("W/").strip('"')
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            return _problem(422, "validation_failed")
        if not tag.startswith("W/"):
            versions.add(int(value))
    return versions


async def _location_event(
    connection: asyncpg.Connection,
    request: Request,
    principal: Principal,
    org_id: int,
    action: str,
    code: str,
    changes: dict[str, list[Any]],
    now: datetime,
) -> None:
    """The audit event of a location's change, in the caller's transaction."""
    await connection.execute(
        _LOCATION_EVENT,
        now,
        org_id,
        principal.actor_kind,
        principal.actor_id,
        action,
        code,
        orjson.dumps(changes).decode(),
        uuid.uuid4().hex,
        request.client.host if request.client else None,
    )


def _location(row: asyncpg.Record) -> Response:
    """A location as its GET answers it, with its ETag."""
    body = dict(row)
    del body["id"]
    return _json(body, headers={"ETag": f'"{row["version"]}"'})


async def _locked_location(
    connection: asyncpg.Connection, principal: Principal, org_id: int, code: str, expected: set[int] | None
) -> asyncpg.Record | Response:
    """The location's row, locked until the transaction ends; 404 outside the caller's scope,
    412 when If-Match names other versions."""
    row = await connection.fetchrow(_LOCK_LOCATION, org_id, code)
    if row is None or (principal.location_id is not None and row["id"] != principal.location_id):
        return _problem(404, "not_found")
    if expected is not None and row["version"] not in expected:
        return _problem(412, "precondition_failed")
    return row


class Baseline:
    """The handlers, over one asyncpg pool."""

    def __init__(self) -> None:
        self.dsn = os.environ["BASELINE_DATABASE_URL"]
        self.secret = os.environ["AINAS_SECRET_KEY"]
        self.tokens = Tokens(self.secret)
        self.hasher = argon2.PasswordHasher(
            time_cost=int(os.environ.get("AINAS_ARGON2_TIME_COST", "2")),
            memory_cost=int(os.environ.get("AINAS_ARGON2_MEMORY_KIB", "19456")),
            parallelism=int(os.environ.get("AINAS_ARGON2_PARALLELISM", "1")),
        )
        # Unknown login IDs pay for a hash too, as in the service.
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        self.pool: asyncpg.Pool | None = None

    @property
    def db(self) -> asyncpg.Pool:
        assert self.pool is not None
        return self.pool

    async def principal(self, request: Request) -> Principal | Response:
        """Bearer: JWT + one user row (stamp, lock, temporary password). Basic: the key fast path."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and credentials:
            return await self._basic(credentials.strip())
        if scheme != "bearer" or not credentials:
            return _problem(401, "not_authenticated")
        claims = self.tokens.decode(credentials.strip())
        if claims is None or claims.get("pcr"):
            return _problem(401, "invalid_token")
        kind, _, raw_id = claims["sub"].partition(":")
        if kind != "user" or not raw_id.isdigit():
            return _problem(401, "invalid_token")
        row = await self.db.fetchrow(
            "SELECT organization_id, role, location_id, login_id, security_stamp, locked_until, "
            "password_temporary, password_expires_at FROM users WHERE id = $1",
            int(raw_id),
        )
        now = datetime.now(UTC)
        if row is None or not hmac.compare_digest(row["security_stamp"], claims["stm"]):
            return _problem(401, "invalid_token")
        if row["locked_until"] is not None and row["locked_until"] > now:
            return _problem(401, "invalid_token")
        expires = row["password_expires_at"]
        if row["password_temporary"] or (expires is not None and expires <= now):
            return _problem(403, "password_change_required")
        kind = "operator" if row["role"] == "operator" else "user"
        return Principal(
            row["organization_id"], row["role"], row["location_id"], int(raw_id), kind, row["login_id"]
        )

    async def _basic(self, encoded: str) -> Principal | Response:
        try:
            key, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep or len(key) != 32:
            return _problem(401, "invalid_client")
        row = await self.db.fetchrow(
            "SELECT k.id, k.organization_id, k.revoked_at, k.credential_digest, k.last_used_at, "
            "k.throttled_until, o.api_password_hash, o.api_password_stamp "
            "FROM api_keys k JOIN organizations o ON o.id = k.organization_id WHERE k.key = $1",
            key,
        )
        if row is None or row["revoked_at"] is not None or row["api_password_hash"] is None:
            return _problem(401, "invalid_client")
        now = datetime.now(UTC)
        if row["throttled_until"] is not None and row["throttled_until"] > now:
            return _problem(429, "too_many_requests")
        message = f"{row['id']}|{row['api_password_stamp'] or ''}|{password}".encode()
        digest = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        stored = row["credential_digest"]
        if stored is None or not hmac.compare_digest(stored, digest):
            try:
                await to_thread.run_sync(self.hasher.verify, row["api_password_hash"], password)
            except argon2.exceptions.VerificationError:
                return _problem(401, "invalid_client")
            await self.db.execute(
                "UPDATE api_keys SET credential_digest = $2 WHERE id = $1", row["id"], digest
            )
        if row["last_used_at"] is None or now - row["last_used_at"] >= timedelta(minutes=1):
            await self.db.execute("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", row["id"], now)
        return Principal(
            row["organization_id"], None, None, None, "linked_system", f"key:{row['id']}", row["id"]
        )

    @staticmethod
    def tenant(request: Request, principal: Principal) -> int | None:
        """The path's organization when the caller may see it (404 otherwise, like the service)."""
        raw = request.path_params["org_id"]
        if len(raw) != 9 or not raw.isdigit():
            return None
        org_id = int(raw)
        if principal.role != "operator" and principal.organization_id != org_id:
            return None
        return org_id

    @staticmethod
    def window(request: Request) -> tuple[int, int] | None:
        try:
            limit = int(request.query_params.get("limit", "50"))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return None
        if not (1 <= limit <= 200) or offset < 0:
            return None
        return limit, offset

    async def list_locations(self, request: Request) -> Response:
        principal = await self.principal(request)
        if isinstance(principal, Response):
            return principal
        org_id = self.tenant(request, principal)
        if org_id is None:
            return _problem(404, "not_found")
        window = self.window(request)
        if window is None:
            return _problem(422, "validation_failed")
        limit, offset = window
        scope = "" if principal.location_id is None else " AND id = $2"
        args: list[Any] = [org_id] if principal.location_id is None else [org_id, principal.location_id]
        n = len(args)
        async with self.db.acquire() as connection:
            total = await connection.fetchval(
                f"SELECT count(*) FROM locations WHERE organization_id = $1{scope}",  # noqa: S608
                *args,
            )
            rows = await connection.fetch(
                f"SELECT {LOCATION_COLUMNS} FROM locations WHERE organization_id = $1{scope} "  # noqa: S608
                f"ORDER BY code, id LIMIT ${n + 1} OFFSET ${n + 2}",
                *args,
                limit,
                offset,
            )
        return _json({"items": [dict(row) for row in rows], "total": total, "limit": limit, "offset": offset})

    async def get_location(self, request: Request) -> Response:
        principal = await self.principal(request)
        if isinstance(principal, Response):
            return principal
        org_id = self.tenant(request, principal)
        if org_id is None:
            return _problem(404, "not_found")
        row = await self.db.fetchrow(
            f"SELECT id, {LOCATION_COLUMNS} FROM locations WHERE organization_id = $1 AND code = $2",  # noqa: S608
            org_id,
            request.path_params["code"],
        )
        if row is None or (principal.location_id is not None and row["id"] != principal.location_id):
            return _problem(404, "not_found")
        return _location(row)

    async def _location_writer(self, request: Request) -> tuple[Principal, int] | Response:
        """The caller and the organization whose locations it may change, or the refusal."""
        principal = await self.principal(request)
        if isinstance(principal, Response):
            return principal
        org_id = self.tenant(request, principal)
        if org_id is None:
            return _problem(404, "not_found")
        if principal.role not in ("admin", "operator"):
            return _problem(403, "forbidden")
        return principal, org_id

    async def create_location(self, request: Request) -> Response:
        writer = await self._location_writer(request)
        if isinstance(writer, Response):
            return writer
        principal, org_id = writer
        try:
            body = orjson.loads(await request.body())
            code, name, short_name = body["code"], body["name"], body["short_name"]
            delegate = body.get("delegate_number")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _problem(422, "validation_failed")
        if (
            not isinstance(code, str)
            or not _CODE.match(code)
            or not isinstance(name, str)
            or not 1 <= len(name) <= 50
            or not isinstance(short_name, str)
            or not 1 <= len(short_name) <= 10
            or (delegate is not None and (not isinstance(delegate, str) or not _DIGITS.match(delegate)))
        ):
            return _problem(422, "validation_failed")
        now = datetime.now(UTC)
        changes = {"code": [None, code], "name": [None, name], "short_name": [None, short_name]}
        changes["delegate_number"] = [None, delegate]
        async with self.db.acquire() as connection, connection.transaction():
            try:
                row = await connection.fetchrow(
                    INSERT_LOCATION,
                    org_id,
                    code,
                    name,
                    short_name,
                    delegate,
                    now,
                    search_form(name),
                    search_form(short_name),
                )
            except asyncpg.UniqueViolationError:
                return _problem(409, "location_code_taken")
            await _location_event(
                connection, request, principal, org_id, "location.create", code, changes, now
            )
        return _json(
            dict(row),
            201,
            {"Location": f"{request.url.path}/{code}", "ETag": f'"{row["version"]}"'},
        )

    async def _writable_location(
        self, request: Request
    ) -> tuple[Principal, int, str, set[int] | None] | Response:
        """A PATCH's or DELETE's caller, organization, code and If-Match versions, or the refusal."""
        writer = await self._location_writer(request)
        if isinstance(writer, Response):
            return writer
        code = request.path_params["code"]
        if not _CODE.match(code):
            return _problem(404, "not_found")
        expected = _if_match(request.headers.get("if-match"))
        if isinstance(expected, Response):
            return expected
        return *writer, code, expected

    async def update_location(self, request: Request) -> Response:
        """PATCH: lock the row, If-Match, write the fields that differ and the audit event, in one transaction."""
        checked = await self._writable_location(request)
        if isinstance(checked, Response):
            return checked
        principal, org_id, code, expected = checked
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _problem(422, "validation_failed")
        if not isinstance(body, dict) or set(body) - set(_EDITABLE):
            return _problem(422, "validation_failed")
        name, short_name = body.get("name", ""), body.get("short_name", "")
        delegate = body.get("delegate_number") or None
        if (
            not isinstance(name, str)
            or len(name) > 50
            or ("name" in body and not name)
            or not isinstance(short_name, str)
            or len(short_name) > 10
            or ("short_name" in body and not short_name)
            or (delegate is not None and (not isinstance(delegate, str) or not _DIGITS.match(delegate)))
        ):
            return _problem(422, "validation_failed")
        values = {
            field: (body[field] or None) if field == "delegate_number" else body[field] for field in body
        }
        now = datetime.now(UTC)
        async with self.db.acquire() as connection, connection.transaction():
            row = await _locked_location(connection, principal, org_id, code, expected)
            if isinstance(row, Response):
                return row
            changes = {field: [row[field], value] for field, value in values.items() if row[field] != value}
            if changes:
                after = {field: row[field] for field in _EDITABLE} | values
                row = await connection.fetchrow(
                    _UPDATE_LOCATION,
                    row["id"],
                    after["name"],
                    after["short_name"],
                    after["delegate_number"],
                    now,
                    search_form(after["name"]),
                    search_form(after["short_name"]),
                )
                await _location_event(
                    connection, request, principal, org_id, "location.update", code, changes, now
                )
        return _location(row)

    async def delete_location(self, request: Request) -> Response:
        """DELETE: lock the row, If-Match, the in-use checks (one query), delete and audit, in one transaction."""
        checked = await self._writable_location(request)
        if isinstance(checked, Response):
            return checked
        principal, org_id, code, expected = checked
        now = datetime.now(UTC)
        async with self.db.acquire() as connection, connection.transaction():
            row = await _locked_location(connection, principal, org_id, code, expected)
            if isinstance(row, Response):
                return row
            # The service's three checks, with the same conditions: users assigned, designations, templates.
            in_use = await connection.fetchrow(
                "SELECT (SELECT count(*) FROM users WHERE location_id = $1) AS users, "
                "(SELECT count(*) FROM agent_designations WHERE location_id = $1) AS designations, "
                "(SELECT count(*) FROM application_templates WHERE location_id = $1) AS templates",
                row["id"],
            )
            for name, conflict in (
                ("users", "location_in_use"),
                ("designations", "location_has_designations"),
                ("templates", "location_has_templates"),
            ):
                if in_use[name]:
                    return _problem(409, conflict)
            await connection.execute("DELETE FROM locations WHERE id = $1", row["id"])
            changes = {name: [value, None] for name, value in row.items() if name != "id"}
            await _location_event(
                connection, request, principal, org_id, "location.delete", code, changes, now
            )
        return Response(status_code=204)

    async def list_users(self, request: Request) -> Response:
        principal = await self.principal(request)
        if isinstance(principal, Response):
            return principal
        org_id = self.tenant(request, principal)
        if org_id is None:
            return _problem(404, "not_found")
        if principal.role is None:
            return _problem(403, "forbidden")
        window = self.window(request)
        if window is None:
            return _problem(422, "validation_failed")
        limit, offset = window
        where = ["u.organization_id = $1"]
        args: list[Any] = [org_id]
        if principal.role in ("staff_submitter", "staff_preparer"):
            args.append(principal.user_id)
            where.append(f"u.id = ${len(args)}")
        elif principal.location_id is not None:
            args.append(principal.location_id)
            where.append(f"u.location_id = ${len(args)}")
        name = request.query_params.get("name", "").strip()
        if name:
            args.append(name.replace("/", "//").replace("%", "/%").replace("_", "/_"))
            where.append(f"u.name ILIKE '%' || ${len(args)} || '%' ESCAPE '/'")
        condition = " AND ".join(where)
        n = len(args)
        async with self.db.acquire() as connection:
            total = await connection.fetchval(f"SELECT count(*) FROM users u WHERE {condition}", *args)  # noqa: S608
            rows = await connection.fetch(
                f"SELECT {USER_COLUMNS} FROM users u LEFT JOIN locations l ON l.id = u.location_id "  # noqa: S608
                f"WHERE {condition} ORDER BY u.login_id, u.id LIMIT ${n + 1} OFFSET ${n + 2}",
                *args,
                limit,
                offset,
            )
        return _json({"items": [dict(row) for row in rows], "total": total, "limit": limit, "offset": offset})

    async def token(self, request: Request) -> Response:
        """grant_type=password: the same reads and writes as the service's successful login."""
        form = parse_qs((await request.body()).decode())
        grant = form.get("grant_type", [""])[0]
        login_id, password = form.get("username", [""])[0], form.get("password", [""])[0]
        if grant != "password" or not login_id or not password:
            return _json({"error": "invalid_request"}, 400)
        row = await self.db.fetchrow(
            "SELECT id, organization_id, login_id, password_hash, security_stamp, locked_until, "
            "password_temporary FROM users WHERE lower(login_id) = lower($1)",
            login_id,
        )
        now = datetime.now(UTC)
        try:
            await to_thread.run_sync(
                self.hasher.verify, row["password_hash"] if row else self.dummy_hash, password
            )
        except argon2.exceptions.VerificationError:
            return _json({"error": "invalid_grant"}, 400)
        if row is None or (row["locked_until"] is not None and row["locked_until"] > now):
            return _json({"error": "invalid_grant"}, 400)
        refresh = secrets.token_urlsafe(32)
        async with self.db.acquire() as connection, connection.transaction():
            await connection.execute(
                "UPDATE users SET failed_login_count = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1",
                row["id"],
                now,
            )
            await connection.execute(
                "INSERT INTO audit_events (at, organization_id, actor_kind, actor_id, action, "
                "resource_type, resource_id, changes, request_id, client_ip) "
                "VALUES ($1, $2, 'user', $3, 'auth.login', 'user', $3, '{}', $4, $5)",
                now,
                row["organization_id"],
                row["login_id"],
                uuid.uuid4().hex,
                request.client.host if request.client else None,
            )
            await connection.execute(
                "INSERT INTO refresh_tokens (token_digest, family, user_id, stamp, issued_at, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                hashlib.sha256(refresh.encode()).hexdigest(),
                secrets.token_hex(16),
                row["id"],
                row["security_stamp"],
                now,
                now + timedelta(days=14),
            )
        return _json(
            {
                "access_token": self.tokens.encode(f"user:{row['id']}", row["security_stamp"], now),
                "token_type": "bearer",
                "expires_in": ACCESS_MINUTES * 60,
                "refresh_token": refresh,
                "password_change_required": bool(row["password_temporary"]),
            }
        )

    async def export_users(self, request: Request) -> Response:
        """The users CSV: the same columns, labels, guard and encodings, streamed from a cursor."""
        principal = await self.principal(request)
        if isinstance(principal, Response):
            return principal
        org_id = self.tenant(request, principal)
        if org_id is None:
            return _problem(404, "not_found")
        if principal.role not in ("operator", "admin", "location_admin"):
            return _problem(403, "forbidden")
        encoding = request.query_params.get("encoding", "utf-8")
        codec = {"utf-8": "utf-8", "shift_jis": "cp932"}.get(encoding)
        if codec is None:
            return _problem(422, "validation_failed")
        args: list[Any] = [org_id]
        scope = ""
        if principal.location_id is not None:
            args.append(principal.location_id)
            scope = " AND u.location_id = $2"
        sql = (
            "SELECT u.login_id, u.name, l.code, l.name, u.role, u.last_login_at FROM users u "  # noqa: S608
            f"LEFT JOIN locations l ON l.id = u.location_id WHERE u.organization_id = $1{scope} "
            "ORDER BY u.login_id, u.id"
        )

        async def body() -> AsyncIterator[bytes]:
            yield (b"\xef\xbb\xbf" if codec == "utf-8" else b"") + _csv([USER_HEADER]).encode(codec)
            async with self.db.acquire() as connection, connection.transaction():
                batch: list[list[str]] = []
                async for row in connection.cursor(sql, *args, prefetch=1000):
                    last = row[5]
                    batch.append(
                        [
                            row[0],
                            row[1],
                            row[2] or "",
                            row[3] or "",
                            ROLE_LABELS[row[4]],
                            "" if last is None else _japan_minute(last),
                        ]
                    )
                    if len(batch) == 1000:
                        yield _csv(batch).encode(codec)
                        batch = []
                if batch:
                    yield _csv(batch).encode(codec)

        media = "text/csv; charset=utf-8" if codec == "utf-8" else "text/csv; charset=Shift_JIS"
        disposition = f'attachment; filename="users_{org_id:09d}_{datetime.now(JAPAN):%Y%m%d}.csv"'
        return StreamingResponse(body(), media_type=media, headers={"Content-Disposition": disposition})

    async def import_locations(self, request: Request) -> Response:
        """The locations upload: parse, check each row, then insert, update and audit in one transaction."""
        principal = await self.principal(request)
        if isinstance(principal, Response):
            return principal
        org_id = self.tenant(request, principal)
        if org_id is None:
            return _problem(404, "not_found")
        if principal.role not in ("admin", "operator"):
            return _problem(403, "forbidden")
        dry_run = request.query_params.get("dry_run") == "true"
        body = await request.body()
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = body.decode("cp932")
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        columns = [LOCATION_FIELDS.get(heading.strip()) for heading in next(reader)]
        if None in columns or "code" not in columns:
            return _problem(422, "validation_failed")
        rows: dict[str, dict[str, Any]] = {}
        for cells in reader:
            if not any(cells):
                continue
            row = dict(zip(columns, cells, strict=True))
            code, name, short_name = row.get("code", ""), row.get("name", ""), row.get("short_name", "")
            delegate = row.get("delegate_number") or None
            if (
                not _CODE.match(code)
                or code in rows
                or not 1 <= len(name) <= 50
                or not 1 <= len(short_name) <= 10
                or (delegate is not None and not _DIGITS.match(delegate))
            ):
                return _problem(422, "validation_failed")
            rows[code] = {"name": name, "short_name": short_name, "delegate_number": delegate}
        if len(rows) > 10_000:
            return _problem(413, "too_many_rows")
        now = datetime.now(UTC)
        request_id, client_ip = uuid.uuid4().hex, request.client.host if request.client else None
        async with self.db.acquire() as connection, connection.transaction():
            existing = {
                row["code"]: row
                for row in await connection.fetch(
                    # Joined to the codes: a code list as `code = ANY(...)` is planned on the
                    # trigram index, which takes seconds for 10,000 codes.
                    "SELECT l.id, l.code, l.name, l.short_name, l.delegate_number FROM locations l "  # noqa: S608 (fixed text)
                    "JOIN unnest($2::varchar[]) AS wanted(code) ON wanted.code = l.code "
                    "WHERE l.organization_id = $1" + ("" if dry_run else " FOR UPDATE OF l"),
                    org_id,
                    list(rows),
                )
            }
            creates, updates, events = [], [], []
            for code, values in rows.items():
                old = existing.get(code)
                if old is None:
                    creates.append(
                        (
                            org_id,
                            code,
                            values["name"],
                            values["short_name"],
                            values["delegate_number"],
                            now,
                            search_form(values["name"]),
                            search_form(values["short_name"]),
                        )
                    )
                    changes = {
                        "code": [None, code],
                        **{name: [None, value] for name, value in values.items()},
                    }
                    events.append((now, org_id, principal.actor_kind, principal.actor_id, "location.create", code,
                                   orjson.dumps(changes).decode(), request_id, client_ip))  # fmt: skip
                    continue
                changes = {name: [old[name], value] for name, value in values.items() if old[name] != value}
                if changes:
                    updates.append(
                        (
                            old["id"],
                            values["name"],
                            values["short_name"],
                            values["delegate_number"],
                            now,
                            search_form(values["name"]),
                            search_form(values["short_name"]),
                        )
                    )
                    events.append((now, org_id, principal.actor_kind, principal.actor_id, "location.update", code,
                                   orjson.dumps(changes).decode(), request_id, client_ip))  # fmt: skip
            if not dry_run:
                await connection.executemany(_INSERT_LOCATION + "id", creates)
                await connection.executemany(
                    "UPDATE locations SET name = $2, short_name = $3, delegate_number = $4, updated_at = $5, "
                    "version = version + 1, name_search = $6, short_name_search = $7 WHERE id = $1",
                    updates,
                )
                await connection.executemany(
                    "INSERT INTO audit_events (at, organization_id, actor_kind, actor_id, action, resource_type, "
                    "resource_id, changes, request_id, client_ip) VALUES ($1, $2, $3, $4, $5, 'location', $6, $7, $8, $9)",
                    events,
                )
        unchanged = len(rows) - len(creates) - len(updates)
        return _json({"created": len(creates), "updated": len(updates), "unchanged": unchanged})

    async def health(self, request: Request) -> Response:
        return Response(b"ok")


def create_app() -> Starlette:
    """The baseline application."""
    baseline = Baseline()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        baseline.pool = await asyncpg.create_pool(baseline.dsn, min_size=10, max_size=20)
        yield
        await baseline.pool.close()

    prefix = "/api/v1/organizations/{org_id}"
    return Starlette(
        routes=[
            Route(f"{prefix}/locations", baseline.list_locations, methods=["GET"]),
            Route(f"{prefix}/locations", baseline.create_location, methods=["POST"]),
            Route(f"{prefix}/locations/{{code}}", baseline.get_location, methods=["GET"]),
            Route(f"{prefix}/locations/{{code}}", baseline.update_location, methods=["PATCH"]),
            Route(f"{prefix}/locations/{{code}}", baseline.delete_location, methods=["DELETE"]),
            Route(f"{prefix}/users", baseline.list_users, methods=["GET"]),
            Route(f"{prefix}/exports/users", baseline.export_users, methods=["GET"]),
            Route(f"{prefix}/imports/locations", baseline.import_locations, methods=["POST"]),
            Route("/api/v1/auth/token", baseline.token, methods=["POST"]),
            Route("/healthz", baseline.health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
