"""`ainas`: the operators' command line (migrate, serve, start, create-operator, onboard,
rotate-certificate-key, prune-changes, webhook-worker, openapi)."""

import argparse
import asyncio
import getpass
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from app.config.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OPENAPI_PATH = ROOT / "openapi" / "openapi.json"


def migrate(database_url: str | None = None, revision: str = "head") -> None:
    """Bring the database to `revision` with the project's Alembic history."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url or get_settings().database_url
    config.attributes["configure_logging"] = False
    command.upgrade(config, revision)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the application, as served at /openapi.json (built with a
    throwaway signing key: writing the document must not create one beside a database)."""
    from app.main import create_app

    settings = get_settings().model_copy(update={"secret_key": secrets.token_urlsafe(48)})
    return create_app(settings).openapi()


def write_openapi(path: Path) -> None:
    """Write the OpenAPI document, formatted stably so that drift shows as a diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(), ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def _read_password(generate: bool) -> str | None:
    """A password from standard input (or a prompt), or None to generate one."""
    if generate:
        return None
    if sys.stdin.isatty():
        first = getpass.getpass("Password (empty: generate one): ")
        if first and getpass.getpass("Repeat: ") != first:
            raise SystemExit("The passwords differ.")
        return first or None
    line = sys.stdin.readline().rstrip("\n")
    return line or None


def _create_operator(login_id: str, name: str, password: str | None) -> None:
    from app.operators import create_operator

    try:
        created = asyncio.run(create_operator(login_id, name, password))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"Created operator {created.login_id!r}.")
    if created.generated_password:
        print(f"Password (shown once, change it at first login): {created.generated_password}")


def _start(host: str, port: int) -> None:
    """Migrate, make sure a first operator exists (printing its credentials once), serve."""
    from app.operators import ensure_first_operator

    migrate()
    created = asyncio.run(ensure_first_operator())
    if created is not None:
        print("=" * 72)
        print("First operator created. These credentials are shown only this once:")
        print(f"  login ID : {created.login_id}")
        print(f"  password : {created.generated_password}  (temporary: change it at first login)")
        print(f"Log in:  curl -s -X POST http://{host}:{port}/api/v1/auth/token \\")
        print(
            f"           -d grant_type=password -d username={created.login_id} -d password='{created.generated_password}'"
        )
        print("=" * 72, flush=True)
    _serve(host, port, 1)


def _serve(host: str, port: int, workers: int) -> None:
    from app.http.server import serve
    from app.security.sealing import SealingKeyMissing as CertificateKeyMissing
    from app.security.sealing import sealing_keys as certificate_keys

    settings = get_settings()
    try:
        certificate_keys(settings)  # the server would refuse to start without one: say so first
    except CertificateKeyMissing as exc:
        raise SystemExit(f"error: {exc}") from None
    serve(settings, host, port, workers)


def _onboard(path: str) -> None:
    from app.operators import onboard_from_file

    notice = asyncio.run(onboard_from_file(Path(path)))
    print(json.dumps(notice, ensure_ascii=False, indent=2))


def _prune_changes() -> None:
    from app.journal.feed_reader import prune_changes
    from app.runtime import build_runtime

    async def prune() -> int:
        runtime = build_runtime(get_settings())
        try:
            return await prune_changes(runtime)
        finally:
            await runtime.engine.dispose()

    deleted = asyncio.run(prune())
    days = get_settings().change_retention_days
    print(f"Pruned {deleted} change feed entries older than {days} days.")
    attempts = asyncio.run(_prune_webhook_deliveries())
    print(f"Pruned {attempts} webhook attempts older than {days} days.")


async def _prune_webhook_deliveries() -> int:
    """Webhook attempts are kept as long as the feed (SPEC §5.7)."""
    from app.runtime import build_runtime
    from app.webhooks.worker import prune_deliveries

    runtime = build_runtime(get_settings())
    try:
        return await prune_deliveries(runtime)
    finally:
        await runtime.engine.dispose()


def _webhook_worker() -> None:
    from app.runtime import build_runtime
    from app.webhooks.worker import run_worker

    async def work() -> None:
        await run_worker(build_runtime(get_settings()))

    asyncio.run(work())


def _rotate_certificate_key() -> None:
    from app.certificates.rotation import ServersLackTheKey
    from app.operators import SEALED_ROWS, rotate_certificate_key
    from app.security.sealing import SealingKeyMissing

    try:
        report = asyncio.run(rotate_certificate_key(get_settings()))
    except (SealingKeyMissing, ServersLackTheKey) as exc:
        raise SystemExit(f"error: {exc}") from None
    for store in SEALED_ROWS:
        done = report.kinds[store.kind]
        print(f"Re-encrypted {done.resealed} {store.label} under key {report.key_id}.")
        for row_id, organization_id in done.unreadable:
            print(
                f"{store.one} {row_id} of organization {organization_id:09d} opens under "
                f"no configured key: left as it is ({store.remedy})."
            )
        if done.remaining:
            print(
                f"{done.remaining} {store.label} are still sealed under another key (written by an "
                "instance still on the old settings?): restart every instance, then run this again."
            )
    if not report.complete:
        raise SystemExit(1)


def _settings() -> Settings:
    """The settings, or one line saying which setting to fix (no traceback)."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            text = str(error["msg"]).removeprefix("Value error, ")
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"{field}: {text}" if field and field.lower() not in text.lower() else text)
        raise SystemExit("error: " + "; ".join(problems)) from None


def _database_problem(exc: BaseException, database_url: str) -> str | None:
    """What to do about a database that cannot be reached or does not exist; None for anything else."""
    import sqlite3

    import asyncpg

    url = make_url(database_url)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.InvalidCatalogNameError):
            host, port, user = url.host or "127.0.0.1", url.port or 5432, url.username or "postgres"
            return (
                f"the database {url.database!r} does not exist on {host}:{port}: create it first "
                f"(createdb -h {host} -p {port} -U {user} {url.database}), then run this again"
            )
        if isinstance(current, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
            return f"PostgreSQL refused the login of {url.username!r}: check the user and password in DATABASE_URL"
        if isinstance(current, sqlite3.OperationalError) and "unable to open" in str(current):
            return f"cannot open the SQLite database file {url.database}: does its folder exist?"
        if isinstance(current, OSError) and url.drivername.startswith("postgresql"):
            return (
                f"cannot connect to PostgreSQL at {url.host or '127.0.0.1'}:{url.port or 5432} "
                f"({type(current).__name__}): is it running, and is DATABASE_URL right?"
            )
        current = current.__cause__ or current.__context__
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `ainas` command: one line that says what to do when the settings or the
    database are not usable, rather than a traceback."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = _settings()
    try:
        _run(args)
    except Exception as exc:
        problem = _database_problem(exc, settings.database_url)
        if problem is None:
            raise
        raise SystemExit(f"error: {problem}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ainas", description="AINAS requester administration API")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="apply database migrations (DATABASE_URL)")
    serve = commands.add_parser("serve", help="run the HTTP server")
    start = commands.add_parser("start", help="migrate, create a first operator if there is none, and serve")
    for sub in (serve, start):
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    operator = commands.add_parser(
        "create-operator", help="create an operator; password from standard input, or generated"
    )
    operator.add_argument("login_id")
    operator.add_argument("--name", default="運用者")
    operator.add_argument("--generate-password", action="store_true", help="generate and print one")

    onboard = commands.add_parser(
        "onboard", help="onboard an organization from a JSON file {name, short_name, admins}"
    )
    onboard.add_argument("file", help="path of the JSON file, or - for standard input")

    commands.add_parser(
        "prune-changes",
        help="delete change feed entries older than AINAS_CHANGE_RETENTION_DAYS (the server also does it hourly)",
    )
    commands.add_parser(
        "webhook-worker",
        help="deliver webhook messages (SPEC §5.7) without serving HTTP; `serve` delivers too",
    )
    commands.add_parser(
        "rotate-certificate-key",
        help="re-encrypt every stored certificate and webhook endpoint secret under AINAS_CERTIFICATE_KEY "
        "(opening them with AINAS_CERTIFICATE_PREVIOUS_KEYS); safe while the service runs",
    )

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default=str(DEFAULT_OPENAPI_PATH))
    return parser


def _run(args: argparse.Namespace) -> None:
    if args.command == "migrate":
        migrate()
        print("Database is at the latest migration.")
    elif args.command == "serve":
        _serve(args.host, args.port, args.workers)
    elif args.command == "start":
        _start(args.host, args.port)
    elif args.command == "create-operator":
        _create_operator(args.login_id, args.name, _read_password(args.generate_password))
    elif args.command == "onboard":
        _onboard(args.file)
    elif args.command == "prune-changes":
        _prune_changes()
    elif args.command == "webhook-worker":
        _webhook_worker()
    elif args.command == "rotate-certificate-key":
        _rotate_certificate_key()
    elif args.command == "openapi":
        write_openapi(Path(args.output))
        print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
