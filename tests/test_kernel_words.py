"""The kernel and the CSV kit know no domain (README, Architecture): no domain word, code or field
name in them.

What they need from above is handed to them (a schema's `immutable_fields`, install_openapi's
`descriptions`, register_messages, a sheet and its example row, a gauge to report); a domain word
creeping back into config, text, db, http, security, operations, runtime.py or csv fails here.
Comments and docstrings count: they are where a domain's assumption is written down first.
"""

import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
KERNEL = ["config", "text", "db", "http", "security", "operations", "runtime.py", "csv"]

# Words of the domains above the kernel (SPEC §2): resources, their fields, roles, the journal and
# its change feed, webhooks (a resource: SPEC §5.7).
DOMAIN_WORDS = re.compile(
    r"organi[sz]ation|org_id|locations?(?![a-z])|login[ _]?id|certificate|api[ _]?keys?\b|"
    r"delegate|commission|change[ _]feed|\bfeed\b|journal|audit|webhooks?|\busers\b|\bstaff|\badmins?\b|"
    r"\boperators?\b|\broles?\b|requester|依頼人|拠点|組織|ユーザー|証明書|ログインID|委託|管理者|担当者",
    re.IGNORECASE,
)
# HTTP's own `Location` header is no location of the domain.
_HTTP_LOCATION_HEADER = re.compile(r"[`\"']Location[`\"']")

# Explicit exceptions, each with the reason it cannot be otherwise: (file, the exact text).
ALLOWED: dict[tuple[str, str], str] = {
    # The one settings object (STYLE habit 12: nothing else reads the environment) holds every
    # package's settings, so their names (AINAS_CERTIFICATE_KEY, api_key_*, the change feed's
    # retention) are the environment's and stay here.
    ("config/settings.py", "*"): "one settings object",
    # Sealing moved here from certificates (now webhooks seal too): its keys keep their
    # environment names (AINAS_CERTIFICATE_KEY...), the key file's name beside an SQLite database
    # and the key-id label, which stored secrets depend on; renaming them would orphan those.
    ("security/sealing.py", "*"): "persisted names",
    # SPEC §3.4: a password must not contain the account's login ID; the stable code of that
    # rule and its message say so.
    ("security/passwords.py", "password_contains_login_id"): "stable error code",
    ("security/messages.py", "password_contains_login_id"): "stable error code",
    ("security/messages.py", "パスワードにログインIDを含めることはできません。"): "SPEC §3.4 message",
    ("security/messages.py", "The password must not contain the login ID."): "SPEC §3.4 message",
    # SQLite's own pragma (write-ahead log), not the journal package.
    ("db/session.py", "PRAGMA journal_mode=WAL"): "SQLite's name",
}


def kernel_files() -> list[Path]:
    """Every Python file of the kernel packages."""
    found: list[Path] = []
    for name in KERNEL:
        path = APP / name
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def domain_words(path: Path) -> list[str]:
    """`line: word` for each domain word of a kernel file that no exception allows."""
    relative = str(path.relative_to(APP))
    if (relative, "*") in ALLOWED:
        return []
    allowed = [text for (file, text) in ALLOWED if file == relative]
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        checked = _HTTP_LOCATION_HEADER.sub("", line)
        for text in allowed:
            checked = checked.replace(text, "")
        found.extend(f"{relative}:{number}: {match.group()}" for match in DOMAIN_WORDS.finditer(checked))
    return found


def test_the_kernel_names_no_domain() -> None:
    found = [hit for path in kernel_files() for hit in domain_words(path)]
    assert not found, "domain words in the kernel (hand the kernel what it needs from above):\n" + "\n".join(
        found
    )


@pytest.mark.parametrize(
    ("line", "hits"),
    [
        ('raise Conflict("location_code_taken")', True),
        ("# 404, also for another organization's resources", True),
        ('IMMUTABLE_FIELDS = {"id", "code", "login_id"}', True),
        ("依頼人拠点コード", True),
        ("the change feed", True),
        ('"Webhook messages not yet delivered."', True),
        ("a download of 100,000 users", True),
        ("the row's key column", False),
        ('response.headers["Location"] = url', False),
        ("AdminShutdownError", False),
        ("the request's unit of work", False),
    ],
)
def test_the_word_list_finds_domain_words(line: str, hits: bool) -> None:
    assert (DOMAIN_WORDS.search(_HTTP_LOCATION_HEADER.sub("", line)) is not None) is hits
