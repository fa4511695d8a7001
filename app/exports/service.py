"""各種ダウンロード (SPEC §5.6): locations and users as CSV, streamed out and uploaded in bulk.

Uploads are all or nothing: every row is read and checked first (the JSON API's schemas and
messages, §4 row by row), and only a file without a single error changes anything. The changes
then go through the locations and users services, so that each row is written, and audited, as
the JSON API writes it; the audit events of the whole upload are written together.
"""

import asyncio
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Annotated, Any, Final

from fastapi import Depends
from pydantic import ValidationError
from sqlalchemy import Row, Select

from app.auth.dependencies import OrganizationScope
from app.auth.organization_ids import format_organization_id
from app.auth.permissions import UserVisibility, user_visibility
from app.auth.principals import Role
from app.config.clock import JAPAN, JAPAN_OFFSET
from app.exports.columns import LOCATIONS, ROLE_LABELS, USERS, Sheet, role_value
from app.exports.csv_io import (
    CsvEncoding,
    Table,
    decode,
    read_table,
    render,
    row_error,
    unencodable,
    validation_errors,
)
from app.exports.csv_io import (
    Row as CsvRow,
)
from app.exports.repository import stream_rows
from app.exports.schemas import ImportResult, TemporaryPassword, UserImportResult, UserRowCreate
from app.http.errors import FieldError, ProblemError, Unprocessable
from app.journal.context import RequestContext, provide
from app.locations.repository import LocationRepository
from app.locations.schemas import LocationCreate, LocationFilters, LocationUpdate
from app.locations.service import LocationService, location_scope
from app.models import User as UserRow
from app.security.passwords import generate_password, password_errors
from app.text.rules import normalize
from app.users.repository import UserRepository, UserSearch
from app.users.schemas import UserCreate, UserFilters, UserUpdate
from app.users.service import UserService, check_user_change

# 権限 by the stored role name (looked up per row of a download).
_ROLE_LABELS: Final = {role.value: label for role, label in ROLE_LABELS.items()}
# A Shift_JIS download is built in a temporary file before it is answered (see `_checked`): in
# memory up to this size, on disk beyond.
SPOOL_MEMORY_BYTES: Final = 1024 * 1024
READ_BYTES: Final = 64 * 1024
# How many values a refused Shift_JIS download names at most.
MAX_REPORTED: Final = 1000


@dataclass
class Download:
    """A CSV answer: its file name, content type and body."""

    filename: str
    media_type: str
    body: AsyncGenerator[bytes, None]


@dataclass(frozen=True)
class Upload:
    """An uploaded CSV file: its bytes and the charset its content type named, if any."""

    data: bytes
    charset: str | None


def japan_time(value: datetime | None) -> str:
    """最終ログイン日時 as the screens show it: Japan time, `YYYY/MM/DD HH:MM`.

    Japan keeps no daylight saving time: UTC + 9 hours. Formatted field by field, which takes
    half the time of astimezone and strftime (a download of 100,000 users formats 100,000).
    """
    if value is None:
        return ""
    local = value.astimezone(UTC) + JAPAN_OFFSET
    return f"{local.year:04d}/{local.month:02d}/{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def _location_cells(row: Row[Any]) -> list[str]:
    code, name, short_name, delegate_number = row
    return [code, name, short_name, delegate_number or ""]


def _user_cells(row: Row[Any]) -> list[str]:
    login_id, name, location_code, location_name, role, last_login_at = row
    return [
        login_id,
        name,
        location_code or "",
        location_name or "",
        _ROLE_LABELS[role],
        japan_time(last_login_at),
    ]


class ExportService:
    """Downloads: the list's rows, filters and scope, as a CSV file that streams."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    async def locations(
        self, scope: OrganizationScope, filters: LocationFilters, encoding: CsvEncoding
    ) -> Download:
        """The locations the caller may read that match the filters, in code order."""
        statement, params = LocationRepository(self.context.session).export_select(
            location_scope(scope), filters
        )
        return await self._download(scope, LOCATIONS, statement, params, _location_cells, encoding)

    async def users(self, scope: OrganizationScope, filters: UserFilters, encoding: CsvEncoding) -> Download:
        """The users the caller may read that match the filters, in login ID order."""
        statement, params = await UserSearch(UserRepository(self.context.session)).export_select(
            scope.organization_id, user_visibility(scope.principal), filters
        )
        return await self._download(scope, USERS, statement, params, _user_cells, encoding)

    async def _download(
        self,
        scope: OrganizationScope,
        sheet: Sheet,
        statement: Select[Any],
        params: dict[str, Any],
        cells: Callable[[Row[Any]], list[str]],
        encoding: CsvEncoding,
    ) -> Download:
        day = f"{self.context.clock.now().astimezone(JAPAN):%Y%m%d}"
        filename = f"{sheet.resource}_{format_organization_id(scope.organization_id)}_{day}.csv"
        chunks = _encoded(sheet, stream_rows(self.context.runtime.engine, statement, params), cells, encoding)
        if encoding is CsvEncoding.SHIFT_JIS:
            body = await _checked(chunks)
        else:
            # The first chunk is read now, so that a database that does not answer is a 503, not a
            # 200 that breaks off.
            body = _prepend(await anext(chunks), chunks)
        return Download(filename, encoding.media_type, body)


class _Unencodable(Exception):
    """Values of a download that its encoding cannot write."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("unencodable")
        self.errors = errors


async def _encoded(
    sheet: Sheet,
    batches: AsyncIterator[Sequence[Row[Any]]],
    cells: Callable[[Row[Any]], list[str]],
    encoding: CsvEncoding,
) -> AsyncGenerator[bytes, None]:
    """The file, one chunk per batch of rows (the heading row comes with the first). Values the
    encoding cannot write stop the output; the rest is read to name them all (up to a limit),
    then _Unencodable is raised."""
    pending = encoding.preamble + render([sheet.header]).encode(encoding.codec)
    line = 1  # of the last row written
    errors: list[FieldError] = []
    async for batch in batches:
        rows = [cells(row) for row in batch]
        try:
            chunk = render(rows).encode(encoding.codec)
        except UnicodeEncodeError:
            errors += _unencodable_rows(sheet, rows, line + 1, encoding.codec)
            chunk = b""
        line += len(rows)
        if len(errors) >= MAX_REPORTED:
            break
        if not errors:
            yield pending + chunk
            pending = b""
    if errors:
        raise _Unencodable(errors[:MAX_REPORTED])
    if pending:
        yield pending


def _unencodable_rows(sheet: Sheet, rows: list[list[str]], first_line: int, codec: str) -> list[FieldError]:
    found = []
    for offset, row in enumerate(rows):
        for column, value in zip(sheet.columns, row, strict=True):
            invalid = unencodable(value, codec)
            if invalid:
                details = [character.as_dict() for character in invalid]
                where = {"row": first_line + offset, "column": column.label, "invalid_characters": details}
                found.append(FieldError(column.name, "not_shift_jis", {}, where))
    return found


async def _prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


async def _checked(chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """The whole file, written to a temporary file before anything is answered, so that values
    Shift_JIS cannot write are a 422 naming each one, not a file that breaks off (or a silent `?`
    that an upload of the file would then store). The database connection is free before the
    client starts reading."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (closed by _read)
    try:
        async for chunk in chunks:
            spool.write(chunk)
    except _Unencodable as exc:
        spool.close()
        raise Unprocessable(
            "download_not_shift_jis", context={"count": len(exc.errors)}, errors=exc.errors
        ) from None
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return _read(spool)


async def _read(spool: IO[bytes]) -> AsyncGenerator[bytes, None]:
    try:
        while chunk := spool.read(READ_BYTES):
            yield chunk
    finally:
        spool.close()


# Uploads


@dataclass
class _Plan:
    """What a checked upload would do; `errors` lists every wrong row (then it does nothing)."""

    errors: list[FieldError] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class _LocationPlan(_Plan):
    creates: list[LocationCreate] = field(default_factory=list)
    updates: list[tuple[Row[Any], dict[str, Any]]] = field(default_factory=list)


@dataclass
class _UserChange:
    """One changed or new user, in file order."""

    create: UserCreate | None = None
    user: UserRow | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class _UserPlan(_Plan):
    changes: list[_UserChange] = field(default_factory=list)


def _cells(sheet: Sheet, row: CsvRow, *without: str) -> dict[str, Any]:
    """A row's cells as a schema takes them: an empty cell of an optional column is null
    (clears it), roles by label or JSON name."""
    values: dict[str, Any] = {}
    optional = sheet.optional
    for name, cell in row.cells.items():
        if name in without:
            continue
        if name in optional and not normalize(cell):
            values[name] = None
        else:
            values[name] = role_value(cell) if name == "role" else cell
    return values


def _errors_of(line: int, exc: ValidationError | ProblemError, headings: dict[str, str]) -> list[FieldError]:
    """A row's refusal (pydantic's, or a service rule's) as row errors."""
    if isinstance(exc, ValidationError):
        errors = validation_errors(line, exc, headings)
    elif exc.errors:
        errors = [row_error(line, error.field, error.code, headings, error) for error in exc.errors]
    else:  # a refusal of the whole change (role_not_allowed): the role decides what may be done
        errors = [row_error(line, "role", exc.code, headings, FieldError("role", exc.code, exc.context))]
    # The JSON API's enum error lists the JSON names; a CSV cell may also hold the label.
    return [
        replace(error, code="invalid_role", context={})
        if (error.field, error.code) == ("role", "enum")
        else error
        for error in errors
    ]


def _unique(table: Table, sheet: Sheet, key: Callable[[str], str]) -> list[tuple[CsvRow, str]]:
    """The rows with their key (normalized); a key given again is an error of the later row."""
    first: dict[str, int] = {}
    rows = []
    for row in table.rows:
        value = key(row.cells.get(sheet.key, ""))
        if value in first:
            error = FieldError(sheet.key, "csv_duplicate_row", {"first": first[value]})
            table.errors.append(row_error(row.line, sheet.key, error.code, table.headings, error))
            continue
        first[value] = row.line
        rows.append((row, value))
    return rows


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        errors.sort(key=lambda error: error.extra["row"])
        raise Unprocessable("csv_invalid", context={"count": len(errors)}, errors=errors)


class ImportService:
    """Uploads: every row checked, then all applied in the request's one transaction, or none."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    async def locations(self, scope: OrganizationScope, upload: Upload, dry_run: bool) -> ImportResult:
        """Create or update the file's locations; 422 listing every wrong row."""
        table = read_table(decode(upload.data, upload.charset), LOCATIONS)
        rows = _unique(table, LOCATIONS, normalize)
        existing = await LocationRepository(self.context.session).by_codes(
            location_scope(scope), {code for _, code in rows}, lock=not dry_run
        )
        plan = _LocationPlan(errors=table.errors)
        for row, code in rows:
            location = existing.get(code)
            try:
                if location is None:
                    plan.creates.append(LocationCreate.model_validate(_cells(LOCATIONS, row)))
                    continue
                values = LocationUpdate.model_validate(_cells(LOCATIONS, row, "code")).model_dump(
                    exclude_unset=True
                )
            except ValidationError as exc:
                plan.errors += _errors_of(row.line, exc, table.headings)
                continue
            changed = {name: value for name, value in values.items() if getattr(location, name) != value}
            if changed:
                plan.updates.append((location, changed))
            else:
                plan.unchanged += 1
        _refuse(plan.errors)
        if not dry_run:
            locations = LocationService(self.context)
            async with self.context.audit.batched():
                await locations.create_many(scope, plan.creates)
                await locations.update_many(scope, plan.updates)
        return ImportResult(created=len(plan.creates), updated=len(plan.updates), unchanged=plan.unchanged)

    async def users(self, scope: OrganizationScope, upload: Upload, dry_run: bool) -> UserImportResult:
        """Create or update the file's users, each row as the caller may (§4); 422 listing every
        wrong row. New users get temporary passwords, answered here only."""
        table = read_table(decode(upload.data, upload.charset), USERS)
        plan = await self._plan_users(scope, table, lock=not dry_run)
        _refuse(plan.errors)
        created = [change.create for change in plan.changes if change.create is not None]
        result = UserImportResult(
            created=len(created),
            updated=len(plan.changes) - len(created),
            unchanged=plan.unchanged,
            temporary_passwords=[],
        )
        if dry_run:
            return result
        hashes = iter(await self._hash_all([body.password for body in created]))
        users = UserService(self.context)
        async with self.context.audit.batched():
            for change in plan.changes:
                if change.create is not None:
                    user = await users.create(scope, change.create, password_hash=next(hashes))
                    assert user.password_expires_at is not None
                    result.temporary_passwords.append(
                        TemporaryPassword(
                            login_id=user.login_id,
                            password=change.create.password,
                            expires_at=user.password_expires_at,
                        )
                    )
                else:
                    assert change.user is not None
                    await users.change(scope, change.user, change.values)
        return result

    async def _plan_users(self, scope: OrganizationScope, table: Table, *, lock: bool) -> _UserPlan:
        principal = scope.principal
        rows = _unique(table, USERS, lambda value: normalize(value).lower())
        accounts = await UserRepository(self.context.session).by_login_ids(
            [key for _, key in rows], lock=lock
        )
        by_login_id = {user.login_id.lower(): user for user in accounts}
        codes = {normalize(row.cells.get("location_code") or "") for row, _ in rows} - {""}
        locations = await LocationRepository(self.context.session).by_codes(
            location_scope(scope), codes, lock=False
        )
        visibility = user_visibility(principal)
        plan = _UserPlan(errors=table.errors)
        admins = _AdminCount(self.context, scope.organization_id, lock=lock)
        for row, key in rows:
            try:
                change = await self._user_row(scope, row, by_login_id.get(key), locations, visibility, admins)
            except (ValidationError, ProblemError) as exc:
                plan.errors += _errors_of(row.line, exc, table.headings)
                continue
            if change is None:
                plan.unchanged += 1
            else:
                plan.changes.append(change)
        return plan

    async def _user_row(
        self,
        scope: OrganizationScope,
        row: CsvRow,
        found: UserRow | None,
        locations: dict[str, Row[Any]],
        visibility: UserVisibility,
        admins: "_AdminCount",
    ) -> _UserChange | None:
        """What one row does: create a user, change one, or nothing; raises what refuses it."""
        if found is None:
            new = self._new_user(scope, row, locations)
            if new.create is not None and Role(new.create.role) is Role.ADMIN:
                await admins.add(1)
            return new
        user = found
        if user.organization_id != scope.organization_id or not visibility.sees(user.id, user.location_id):
            # Another organization's, an operator's, or out of the caller's sight: to the caller, a
            # login ID that is taken (as POST .../users answers).
            raise Unprocessable(
                errors=[FieldError("login_id", "login_id_taken", {"login_id": user.login_id})]
            )
        change = self._changed_user(scope, row, user, locations)
        if (
            change is not None
            and user.role == Role.ADMIN
            and change.values.get("role", Role.ADMIN) != Role.ADMIN
        ):
            await admins.add(-1)
        return change

    def _new_user(self, scope: OrganizationScope, row: CsvRow, locations: dict[str, Row[Any]]) -> _UserChange:
        values = UserRowCreate.model_validate(_cells(USERS, row)).model_dump()
        location_id = _location_id(values["location_code"], locations)
        check_user_change(scope.principal, Role(values["role"]), location_id)
        return _UserChange(create=UserCreate(**values, password=_temporary_password(values["login_id"])))

    def _changed_user(
        self,
        scope: OrganizationScope,
        row: CsvRow,
        user: UserRow,
        locations: dict[str, Row[Any]],
    ) -> _UserChange | None:
        """The change a row makes to an existing user, or None when it changes nothing."""
        values = UserUpdate.model_validate(_cells(USERS, row, "login_id")).model_dump(exclude_unset=True)
        code = user.location.code if user.location else None
        new_code = values.get("location_code", code)
        location_id = user.location_id if new_code == code else _location_id(new_code, locations)
        role = Role(values.get("role", user.role))
        if (values.get("name", user.name), role, location_id) == (
            user.name,
            Role(user.role),
            user.location_id,
        ):
            return None
        check_user_change(scope.principal, role, location_id, before=(Role(user.role), user.location_id))
        return _UserChange(user=user, values=values)

    async def _hash_all(self, passwords: list[str]) -> list[str]:
        """argon2id hashes of the new users' temporary passwords, with all but one of the process's
        hashing turns (PasswordHasher): logins keep one, and wait for no more than one hash."""
        limit = asyncio.Semaphore(max(1, self.context.runtime.hasher.concurrency - 1))

        async def one(password: str) -> str:
            async with limit:
                return await self.context.runtime.hasher.hash(password)

        return list(await asyncio.gather(*(one(password) for password in passwords)))


def _temporary_password(login_id: str) -> str:
    """A generated password the policy accepts for this user (by chance one could contain the login ID)."""
    while True:
        password = generate_password()
        if not password_errors(password, login_id):
            return password


def _location_id(code: str | None, locations: dict[str, Row[Any]]) -> int | None:
    """The id of a location named in a row, among those in the caller's scope; 422 otherwise
    (a location out of scope is, to the caller, one that does not exist)."""
    if code is None:
        return None
    location = locations.get(code)
    if location is None:
        raise Unprocessable(errors=[FieldError("location_code", "unknown_location")])
    return int(location.id)


class _AdminCount:
    """The organization's admins as the upload's rows change them, in file order: a row that
    would leave none is refused as a row error (the service refuses it too, at its turn)."""

    def __init__(self, context: RequestContext, organization_id: int, *, lock: bool) -> None:
        self.repository = UserRepository(context.session)
        self.organization_id = organization_id
        self.lock = lock
        self.count: int | None = None

    async def add(self, delta: int) -> None:
        if self.count is None:
            if self.lock:
                await self.repository.lock_organization(self.organization_id)
            self.count = await self.repository.admin_count(self.organization_id)
        if delta < 0 and self.count + delta < 1:
            raise Unprocessable(errors=[FieldError("role", "last_admin")])
        self.count += delta


ExportServiceDep = Annotated[ExportService, Depends(provide(ExportService))]
ImportServiceDep = Annotated[ImportService, Depends(provide(ImportService))]
