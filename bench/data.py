"""Realistic rows, loaded fast with COPY into the migrated schema.

Organizations, locations and users look like the real thing: Japanese full-width names, location
codes like TKY000123, login IDs like tanaka.hanako12345, role mix of a chain of stores, creation
times over the past year. Sizes are skewed: a few organizations are large, most are small.
Every generated user has the same password hash (hashed once with the service's own hasher), so
that any of them can log in with the benchmark password.
"""

import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.text.rules import search_form

SURNAMES = [
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"), ("伊藤", "ito"),
    ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"), ("加藤", "kato"),
    ("吉田", "yoshida"), ("山田", "yamada"), ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"),
    ("井上", "inoue"), ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"), ("清水", "shimizu"),
]  # fmt: skip
GIVEN_NAMES = [
    ("花子", "hanako"), ("太郎", "taro"), ("陽菜", "hina"), ("蓮", "ren"), ("結衣", "yui"),
    ("大翔", "hiroto"), ("美咲", "misaki"), ("翔太", "shota"), ("さくら", "sakura"), ("健一", "kenichi"),
    ("直樹", "naoki"), ("由美", "yumi"), ("誠", "makoto"), ("恵子", "keiko"), ("拓也", "takuya"),
    ("明美", "akemi"), ("大輔", "daisuke"), ("裕子", "yuko"), ("和也", "kazuya"), ("真由美", "mayumi"),
]  # fmt: skip
CITIES = [
    ("東京", "TKY"), ("大阪", "OSK"), ("名古屋", "NGY"), ("札幌", "SPR"), ("福岡", "FKO"), ("横浜", "YKH"),
    ("神戸", "KOB"), ("京都", "KYT"), ("仙台", "SND"), ("広島", "HRS"), ("千葉", "CHB"), ("埼玉", "STM"),
]  # fmt: skip
AREAS = ["中央", "駅前", "北口", "南口", "東", "西", "本町", "新町"]
INDUSTRIES = ["自動車販売", "商事", "不動産", "建設", "電機", "物産", "モータース", "オート"]
ROLES = [("admin", 0.02), ("location_admin", 0.08), ("staff_submitter", 0.50), ("staff_preparer", 0.40)]
AUDIT_ACTIONS = ["auth.login", "auth.login", "auth.login", "location.update", "user.create", "user.update"]

LOCATION_COLUMNS = [
    "id", "organization_id", "code", "name", "short_name", "delegate_number", "created_at", "updated_at",
    "version", "name_search", "short_name_search",
]  # fmt: skip
USER_COLUMNS = [
    "id", "organization_id", "location_id", "login_id", "name", "role", "password_hash", "password_temporary",
    "password_changed_at", "password_expires_at", "security_stamp", "failed_login_count", "locked_until",
    "last_login_at", "created_at", "updated_at", "version", "name_search",
]  # fmt: skip
AUDIT_COLUMNS = [
    "at", "organization_id", "actor_kind", "actor_id", "action", "resource_type", "resource_id", "changes",
    "request_id", "client_ip",
]  # fmt: skip

_FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def full_width(number: int) -> str:
    """A number in full-width digits (JIS X 0208)."""
    return str(number).translate(_FULL_WIDTH_DIGITS)


@dataclass(frozen=True)
class Shape:
    """How much to generate: the main organization's share, then the rest spread over others."""

    main_locations: int
    main_users: int
    main_audit_events: int
    organizations: int
    locations: int
    users: int
    audit_events: int


# The benchmark's data: the listed organization has 1,000 locations (the reference setup).
MAIN = Shape(
    main_locations=1_000,
    main_users=5_000,
    main_audit_events=20_000,
    organizations=98,
    locations=9_000,
    users=45_000,
    audit_events=100_000,
)
# Issue 6 item 4: 100,000 locations and 1,000,000 users over 10,000 organizations.
SCALE = Shape(
    main_locations=25_000,
    main_users=200_000,
    main_audit_events=200_000,
    organizations=9_998,
    locations=75_000,
    users=800_000,
    audit_events=800_000,
)


@dataclass
class Loaded:
    """What the generator made that the benchmark addresses later."""

    main_location_codes: list[str]
    main_login_ids: list[str]
    rows: dict[str, int]
    seconds: float


async def _next_id(connection: asyncpg.Connection, table: str) -> int:
    return int(await connection.fetchval(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))  # noqa: S608


async def _copy(
    connection: asyncpg.Connection, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    records = list(rows)
    await connection.copy_records_to_table(table, records=records, columns=columns)
    return len(records)


def _when(rng: random.Random, now: datetime, days: int = 365) -> datetime:
    return now - timedelta(seconds=rng.randrange(days * 86_400))


async def load(  # noqa: PLR0915 (one generator per table, in FK order)
    dsn: str,
    shape: Shape,
    main_organization_id: int,
    password_hash: str,
    seed: int = 6,
) -> Loaded:
    """Add the shape's rows: the main organization's share to it, the rest to new organizations."""
    started = time.perf_counter()
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    counts: dict[str, int] = {}
    try:
        async with connection.transaction():
            org_id = await _next_id(connection, "organizations")
            organization_ids = list(range(org_id, org_id + shape.organizations))

            def organizations() -> Iterator[tuple[Any, ...]]:
                for n, id_ in enumerate(organization_ids):
                    city = CITIES[n % len(CITIES)][0]
                    industry = INDUSTRIES[(n // len(CITIES)) % len(INDUSTRIES)]
                    created = _when(rng, now)
                    name, short_name = (
                        f"株式会社{city}{industry}{full_width(n + 1)}",
                        f"{city}{industry}"[:10],
                    )
                    yield (
                        id_,
                        name,
                        short_name,
                        created,
                        created,
                        1,
                        search_form(name),
                        search_form(short_name),
                    )

            counts["organizations"] = await _copy(
                connection,
                "organizations",
                [
                    "id",
                    "name",
                    "short_name",
                    "created_at",
                    "updated_at",
                    "version",
                    "name_search",
                    "short_name_search",
                ],
                organizations(),
            )

            def api_keys() -> Iterator[tuple[Any, ...]]:
                for id_ in organization_ids:
                    yield (id_, secrets.token_hex(16).upper(), None, _when(rng, now), "operator", 0)

            counts["api_keys"] = await _copy(
                connection,
                "api_keys",
                ["organization_id", "key", "label", "created_at", "created_by", "failed_attempts"],
                api_keys(),
            )

            # Skewed sizes: organization k gets a share that falls off with k.
            def owner() -> int:
                return organization_ids[int(len(organization_ids) * rng.random() ** 2)]

            location_owners = [main_organization_id] * shape.main_locations + [
                owner() for _ in range(shape.locations)
            ]
            next_code: dict[int, int] = {}
            locations_of: dict[int, list[int]] = {}
            main_codes: list[str] = []
            location_id = await _next_id(connection, "locations")

            def locations() -> Iterator[tuple[Any, ...]]:
                nonlocal location_id
                for organization_id in location_owners:
                    k = next_code.get(organization_id, 0) + 1
                    next_code[organization_id] = k
                    city, city_code = CITIES[k % len(CITIES)]
                    code = f"{city_code}{k:06d}"
                    if organization_id == main_organization_id:
                        main_codes.append(code)
                    locations_of.setdefault(organization_id, []).append(location_id)
                    created = _when(rng, now)
                    delegate = f"{rng.randrange(10**6, 10**7)}" if rng.random() < 0.5 else None
                    name = f"{city}{AREAS[k % len(AREAS)]}第{full_width(k)}店"
                    short_name = f"{city}{full_width(k)}"[:10]
                    yield (
                        location_id, organization_id, code, name, short_name, delegate, created, created, 1,
                        search_form(name), search_form(short_name),
                    )  # fmt: skip
                    location_id += 1

            counts["locations"] = await _copy(
                connection,
                "locations",
                LOCATION_COLUMNS,
                locations(),
            )

            user_owners = [main_organization_id] * shape.main_users + [owner() for _ in range(shape.users)]
            main_logins: list[str] = []
            user_id = await _next_id(connection, "users")

            def users() -> Iterator[tuple[Any, ...]]:
                nonlocal user_id
                for organization_id in user_owners:
                    surname, surname_romaji = SURNAMES[user_id % len(SURNAMES)]
                    given, given_romaji = GIVEN_NAMES[(user_id // len(SURNAMES)) % len(GIVEN_NAMES)]
                    login_id = f"{surname_romaji}.{given_romaji}{user_id}"
                    if organization_id == main_organization_id:
                        main_logins.append(login_id)
                    draw, role = rng.random(), ROLES[-1][0]
                    for candidate, share in ROLES:
                        if draw < share:
                            role = candidate
                            break
                        draw -= share
                    places = locations_of.get(organization_id)
                    location = (
                        None if role == "admin" or not places or rng.random() < 0.1 else rng.choice(places)
                    )
                    created = _when(rng, now)
                    last_login = _when(rng, now, 30) if rng.random() < 0.7 else None
                    name = f"{surname} {given}"
                    yield (
                        user_id, organization_id, location, login_id, name, role,
                        password_hash, False, created, None, f"{user_id:032x}", 0, None, last_login,
                        created, created, 1, search_form(name),
                    )  # fmt: skip
                    user_id += 1

            counts["users"] = await _copy(
                connection,
                "users",
                USER_COLUMNS,
                users(),
            )

            event_owners = [main_organization_id] * shape.main_audit_events + [
                owner() for _ in range(shape.audit_events)
            ]

            def audit_events() -> Iterator[tuple[Any, ...]]:
                for organization_id in event_owners:
                    action = rng.choice(AUDIT_ACTIONS)
                    resource = "location" if action.startswith("location") else "user"
                    actor = f"{SURNAMES[rng.randrange(20)][1]}.{GIVEN_NAMES[rng.randrange(20)][1]}"
                    yield (
                        _when(rng, now, 90), organization_id, "user", actor, action, resource, actor,
                        "{}", secrets.token_hex(16), "127.0.0.1",
                    )  # fmt: skip

            counts["audit_events"] = await _copy(
                connection,
                "audit_events",
                AUDIT_COLUMNS,
                audit_events(),
            )
            for table in ("organizations", "locations", "users"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
                )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return Loaded(main_codes, main_logins, counts, time.perf_counter() - started)


async def _change_locations(dsn: str, statement: str, *args: Any) -> None:
    """One statement on the locations, then VACUUM ANALYZE of the table (its statistics and
    visibility as after the load)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement, *args)
        await connection.execute("VACUUM ANALYZE locations")
    finally:
        await connection.close()


async def add_locations(dsn: str, organization_id: int, prefix: str, count: int) -> None:
    """`count` new locations of an organization, coded `prefix` and 7 digits from 1 (one INSERT)."""
    name, short_name = "ベンチマーク削除拠点", "ベンチ削除"
    await _change_locations(
        dsn,
        "INSERT INTO locations (organization_id, code, name, short_name, created_at, updated_at, version, "
        "name_search, short_name_search) SELECT $1, $2 || lpad(n::text, 7, '0'), $3, $4, now(), now(), 1, "
        "$5, $6 FROM generate_series(1, $7) AS n",
        organization_id,
        prefix,
        name,
        short_name,
        search_form(name),
        search_form(short_name),
        count,
    )


async def remove_locations(dsn: str, organization_id: int, prefix: str) -> None:
    """Delete the organization's locations whose codes start with `prefix` (of `add_locations`)."""
    await _change_locations(
        dsn,
        "DELETE FROM locations WHERE organization_id = $1 AND code LIKE $2",
        organization_id,
        prefix + "%",
    )
