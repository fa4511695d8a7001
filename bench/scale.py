"""Scale (issue 6 item 4): every list and search of SPEC §5.2 at 1,000,000 users and 100,000 locations.

The generator adds 100,000 locations, 1,000,000 users and 1,000,000 audit events over 10,000
organizations with COPY. The largest organization (the onboarded "main" one) has 25,000 locations
and 200,000 users: lists are per organization, so the largest tenant is the worst case. Each
query is measured over HTTP against the service at one connection (wrk -c1), and the plans of the
repositories' own statements are shown with EXPLAIN ANALYZE.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch
from urllib.parse import quote, urlencode

import asyncpg

from bench import data, load
from bench.run import Servers, prepare
from bench.world import OPERATOR, token


@dataclass(frozen=True)
class Query:
    """One list or search of SPEC §5.2, as a caller sends it."""

    key: str
    caller: str  # operator, main (admin of the largest organization), typical (admin of a median one)
    path: str  # with {main} or {typical} for the organization id
    params: dict[str, Any]
    note: str = ""

    def url(self, base: str, organizations: dict[str, str]) -> str:
        """The full URL."""
        query = urlencode(self.params, doseq=True, quote_via=quote)
        return base + self.path.format(**organizations) + (f"?{query}" if query else "")


SINCE = (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
QUERIES = [
    Query("organizations", "operator", "/api/v1/organizations", {}, "10,000 organizations"),
    Query("organizations?name=商事", "operator", "/api/v1/organizations", {"name": "商事"}, "2 characters"),
    Query("organizations?name=東京自動車", "operator", "/api/v1/organizations", {"name": "東京自動車"}),
    Query("organizations?offset=9950", "operator", "/api/v1/organizations", {"offset": 9950}, "last page"),
    Query("locations", "main", "/api/v1/organizations/{main}/locations", {}, "25,000 locations"),
    Query("locations?code=TKY0001", "main", "/api/v1/organizations/{main}/locations", {"code": "TKY0001"}),
    Query(
        "locations?name=駅前",
        "main",
        "/api/v1/organizations/{main}/locations",
        {"name": "駅前"},
        "2 characters",
    ),
    Query("locations?name=大阪駅前", "main", "/api/v1/organizations/{main}/locations", {"name": "大阪駅前"}),
    Query(
        "locations?short_name=名古屋１２",
        "main",
        "/api/v1/organizations/{main}/locations",
        {"short_name": "名古屋１２"},
    ),
    Query(
        "locations?delegate_number=1234",
        "main",
        "/api/v1/organizations/{main}/locations",
        {"delegate_number": "1234"},
    ),
    Query(
        "locations?offset=20000", "main", "/api/v1/organizations/{main}/locations", {"offset": 20000}, "deep"
    ),
    Query("users", "main", "/api/v1/organizations/{main}/users", {}, "200,000 users"),
    Query(
        "users?login_id=tanaka.hanako",
        "main",
        "/api/v1/organizations/{main}/users",
        {"login_id": "tanaka.hanako"},
    ),
    Query("users?name=田中", "main", "/api/v1/organizations/{main}/users", {"name": "田中"}, "2 characters"),
    Query("users?name=田中 花子", "main", "/api/v1/organizations/{main}/users", {"name": "田中 花子"}),
    Query(
        "users?location_code=OSK000013",
        "main",
        "/api/v1/organizations/{main}/users",
        {"location_code": "OSK000013"},
    ),
    Query("users?role=admin", "main", "/api/v1/organizations/{main}/users", {"role": "admin"}),
    Query(
        "users?role=location_admin&role=staff_submitter",
        "main",
        "/api/v1/organizations/{main}/users",
        {"role": ["location_admin", "staff_submitter"]},
    ),
    Query(
        "users?sort=-last_login_at", "main", "/api/v1/organizations/{main}/users", {"sort": "-last_login_at"}
    ),
    Query("users?offset=50000", "main", "/api/v1/organizations/{main}/users", {"offset": 50000}, "deep"),
    Query("api-keys", "main", "/api/v1/organizations/{main}/api-keys", {}),
    Query("audit-events", "main", "/api/v1/organizations/{main}/audit-events", {}, "~200,000 events"),
    Query(
        "audit-events?action=location",
        "main",
        "/api/v1/organizations/{main}/audit-events",
        {"action": "location"},
    ),
    Query("audit-events?since=7 days", "main", "/api/v1/organizations/{main}/audit-events", {"since": SINCE}),
    Query(
        "audit-events?offset=50000",
        "main",
        "/api/v1/organizations/{main}/audit-events",
        {"offset": 50000},
        "deep",
    ),
    Query("locations (median organization)", "typical", "/api/v1/organizations/{typical}/locations", {}),
    Query(
        "users?name=田中 (median organization)",
        "typical",
        "/api/v1/organizations/{typical}/users",
        {"name": "田中"},
    ),
]


async def _typical_admin(dsn: str, exclude: list[int]) -> tuple[str, str]:
    """An admin of the organization with the median number of users, and its id (9 digits)."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            WITH sizes AS (
                SELECT organization_id, count(*) AS n FROM users
                WHERE organization_id IS NOT NULL AND NOT organization_id = ANY($1::int[])
                GROUP BY organization_id
            ), median AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) AS n FROM sizes)
            SELECT u.login_id, u.organization_id FROM users u
            JOIN sizes s ON s.organization_id = u.organization_id, median m
            WHERE u.role = 'admin' AND s.n >= m.n ORDER BY s.n, u.id LIMIT 1
            """,
            exclude,
        )
    finally:
        await connection.close()
    return str(row["login_id"]), f"{row['organization_id']:09d}"


class _Capture:
    """Stands in for a session: records the statements a repository would run, with their values
    (prepared selects included, see `_capturing_prepared_selects`)."""

    # Bound to no engine: `Repository.page` remembers no total, so each list's counted page is
    # what gets explained.
    bind = None

    def __init__(self) -> None:
        self.statements: list[tuple[Any, dict[str, Any]]] = []

    async def scalar(self, statement: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.statements.append((statement, dict(params or {})))
        return 0

    async def scalars(self, statement: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.statements.append((statement, dict(params or {})))
        return _Empty()

    async def execute(self, statement: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.statements.append((statement, dict(params or {})))
        return _Empty()

    async def connection(self, *args: Any, **kwargs: Any) -> "_Capture":
        return self


@contextmanager
def _capturing_prepared_selects() -> Iterator[None]:
    """PreparedSelect runs on the driver, past the session: record its statement instead."""
    from app.db.prepared import PreparedSelect

    async def record(self: PreparedSelect, session: _Capture, params: Any) -> list[Any]:
        session.statements.append((self.statement, dict(params)))
        return []

    with patch.object(PreparedSelect, "all", record):
        yield


class _Empty:
    def all(self) -> list[Any]:
        return []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: None


def _repository_calls(main_id: int) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    """The repository calls behind some of the queries, to EXPLAIN their statements."""
    from app.auth.permissions import UserVisibility
    from app.http.pagination import PageRequest
    from app.journal.audit_repository import AuditEventRepository
    from app.journal.audit_schemas import AuditFilters
    from app.locations.repository import LocationRepository, LocationScope
    from app.locations.schemas import LocationFilters
    from app.organizations.repository import OrganizationRepository
    from app.organizations.schemas import OrganizationFilters
    from app.users.repository import UserRepository, UserSearch
    from app.users.schemas import UserFilters

    page = PageRequest(50, 0, None)
    everywhere = LocationScope(main_id, None)

    def users(page: PageRequest = page, **filters: Any) -> Callable[[Any], Awaitable[Any]]:
        return lambda session: UserSearch(UserRepository(session)).search(
            main_id, UserVisibility(), UserFilters(**filters), page
        )

    return {
        "organizations?name=東京自動車": lambda session: OrganizationRepository(session).search(
            only_id=None, exact_id=None, filters=OrganizationFilters(name="東京自動車"), page=page
        ),
        "locations": lambda session: LocationRepository(session).search(everywhere, LocationFilters(), page),
        "locations?name=大阪駅前": lambda session: LocationRepository(session).search(
            everywhere, LocationFilters(name="大阪駅前"), page
        ),
        "locations?name=ｵｵｻｶ (half-width kana: nothing, the names are kanji)": lambda session: LocationRepository(
            session
        ).search(everywhere, LocationFilters(name="ｵｵｻｶ"), page),
        "locations?short_name=名古屋１２": lambda session: LocationRepository(session).search(
            everywhere, LocationFilters(short_name="名古屋１２"), page
        ),
        "locations?offset=20000": lambda session: LocationRepository(session).search(
            everywhere, LocationFilters(), PageRequest(50, 20000, None)
        ),
        "users": users(),
        "users?login_id=tanaka.hanako": users(login_id="tanaka.hanako"),
        "users?name=田中": users(name="田中"),
        "users?name=田中 花子": users(name="田中 花子"),
        "users?location_code=OSK000013": users(location_code="OSK000013"),
        "users?sort=-last_login_at": users(page=PageRequest(50, 0, "-last_login_at")),
        "users?offset=50000": users(page=PageRequest(50, 50000, None)),
        "audit-events": lambda session: AuditEventRepository(session).search(main_id, AuditFilters(), page),
        "audit-events?action=location": lambda session: AuditEventRepository(session).search(
            main_id, AuditFilters(action="location"), page
        ),
    }


# Statements the Findings of docs/performance.md propose, explained on the same data.
PROPOSALS = {
    "users, total as a scalar subquery (one round trip, index-only count)": """
        SELECT users.login_id, users.name, locations.code, users.role,
               (SELECT count(*) FROM users AS counted WHERE counted.organization_id = {main}) AS total
        FROM users LEFT OUTER JOIN locations ON locations.id = users.location_id
        WHERE users.organization_id = {main} ORDER BY users.login_id, users.id LIMIT 50 OFFSET 0""",
    "users?offset=50000, deferred join (ids from the index, then 50 rows)": """
        SELECT users.login_id, users.name, locations.code, users.role
        FROM users LEFT OUTER JOIN locations ON locations.id = users.location_id
        WHERE users.id IN (SELECT id FROM users WHERE organization_id = {main}
                           ORDER BY login_id, id LIMIT 50 OFFSET 50000)
        ORDER BY users.login_id, users.id""",
    "users?name=田中, short needle as lower(name) LIKE (no trigram index can match it)": """
        SELECT count(*) FROM users
        WHERE users.organization_id = {main} AND lower(users.name) LIKE '%' || lower('田中') || '%' ESCAPE '/'""",
    "users?name=田中 in the median organization, lower(name) LIKE": """
        SELECT count(*) FROM users
        WHERE users.organization_id = {typical} AND lower(users.name) LIKE '%' || lower('田中') || '%' ESCAPE '/'""",
    "users?name=田中 in the median organization, ILIKE as today": """
        SELECT count(*) FROM users
        WHERE users.organization_id = {typical} AND users.name ILIKE '%' || '田中' || '%' ESCAPE '/'""",
}


async def _plans(dsn: str, main_id: int, typical_id: int) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each captured statement, with literal values."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
    plans: dict[str, list[str]] = {}
    connection = await asyncpg.connect(dsn)
    try:
        for key, call in _repository_calls(main_id).items():
            capture = _Capture()
            try:
                with _capturing_prepared_selects():
                    await call(capture)
                texts = []
                for statement, params in capture.statements:
                    bound = statement.params(params) if params else statement
                    sql = str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
                    await connection.fetch(sql)  # warm, as the service's repeated queries are
                    rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    texts.append(sql + "\n\n" + "\n".join(row[0] for row in rows))
                plans[key] = texts
            except Exception as exc:  # a refactored repository: report, do not fail the benchmark
                plans[key] = [f"plan unavailable: {type(exc).__name__}: {exc}"]
        for key, template in PROPOSALS.items():
            sql = template.format(main=main_id, typical=typical_id)
            await connection.fetch(sql)
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plans[f"proposal: {key}"] = [sql.strip() + "\n\n" + "\n".join(row[0] for row in rows)]
    finally:
        await connection.close()
    return plans


def scale(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, then measure every query at one connection and explain the main ones."""
    servers: Servers = prepare(data.SCALE, "ainas_scale", with_baseline=False)
    try:
        url = servers.service.url
        main_id = servers.context.main.id
        typical_login, typical_id = asyncio.run(
            _typical_admin(servers.database.dsn, [int(main_id), int(servers.context.writer.id)])
        )
        tokens = {
            "operator": token(url, OPERATOR),
            "main": servers.context.main_token,
            "typical": token(url, typical_login),
        }
        organizations = {"main": main_id, "typical": typical_id}
        print(f"  generated {servers.loaded.rows} in {servers.loaded.seconds:.0f} s", flush=True)
        figures: dict[str, Any] = {}
        for query in QUERIES:
            target = query.url(url, organizations)
            headers = {"Authorization": f"Bearer {tokens[query.caller]}"}
            load.run(target, seconds=1, connections=1, headers=headers)
            result = load.run(target, seconds=args.scale_duration, connections=1, headers=headers)
            figures[query.key] = {"note": query.note, **result.as_dict()}
            print(
                f"  {query.key:<48} p50 {result.p50_ms:>7.2f} ms  p99 {result.p99_ms:>7.2f} ms  "
                f"({result.requests} requests, {result.errors} errors)",
                flush=True,
            )
        plans = asyncio.run(_plans(servers.database.dsn, int(main_id), int(typical_id)))
        return {
            "rows": servers.loaded.rows,
            "generation_seconds": round(servers.loaded.seconds, 1),
            "typical_organization": typical_id,
            "queries": figures,
            "plans": plans,
        }
    finally:
        servers.stop()
