"""Secrets of one installation (the token signing key and the other keys an installation generates for itself).

The secret named X for this database comes from configuration. When it is not configured, on an
SQLite database file outside production, it is generated once and kept beside the database
file (`ainas.db.X`, mode 0600), so that a first start is safe without a published default and a
restart keeps every token and stored digest valid. In production, and with PostgreSQL (several
instances must share it), it must be configured. A configured value must not be guessable.
"""

import contextlib
import math
import os
import secrets
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

from sqlalchemy.engine import make_url

MIN_LENGTH = 32
# An estimate from the value's own characters (see estimated_bits): 32 random hex digits (128 bits)
# score 91 or more in 200,000 draws; repeated characters and sequences score near 0.
MIN_ESTIMATED_BITS = 80
# Share of three-character sequences that must be distinct: catches a repeated phrase.
MIN_DISTINCT_TRIGRAMS = 0.8
# Values that were ever published as defaults or examples: accepted nowhere.
PUBLISHED = frozenset({"development-only-secret-key-do-not-use-in-production"})
GENERATED_BYTES = 48


class UnusableSecret(ValueError):
    """A secret that is missing where it cannot be generated, or guessable."""


def estimated_bits(value: str) -> float:
    """A rough entropy estimate: the length times the lower of two per-character Shannon
    entropies, of the characters and of the steps between neighbours (so that `aaaa…` and
    `abcdef…` score low, and random base64 or hex high)."""
    if len(value) < 2:
        return 0.0
    steps = [ord(b) - ord(a) for a, b in pairwise(value)]
    return len(value) * min(_shannon(value), _shannon(steps))


def _shannon(symbols: Iterable[object]) -> float:
    counts = Counter(symbols)
    total = sum(counts.values())
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def weakness(value: str) -> str | None:
    """Why a secret is too weak to sign or encrypt with; None when it is fine."""
    if value in PUBLISHED:
        return "it is a published example value"
    if len(value) < MIN_LENGTH:
        return f"it has fewer than {MIN_LENGTH} characters"
    if estimated_bits(value) < MIN_ESTIMATED_BITS:
        return "it is too regular (few distinct characters, or a sequence)"
    trigrams = [value[index : index + 3] for index in range(len(value) - 2)]
    if len(set(trigrams)) < MIN_DISTINCT_TRIGRAMS * len(trigrams):
        return "it repeats itself"
    return None


def database_path(database_url: str) -> Path | None:
    """The file of an SQLite database; None for an in-memory one or any other database."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def secret_path(name: str, database_url: str) -> Path | None:
    """Where the secret `name` of an SQLite database file is kept; None for any other database."""
    path = database_path(database_url)
    return None if path is None else path.with_name(f"{path.name}.{name}")


def create_private_database_file(database_url: str) -> None:
    """Create a missing SQLite database file empty and private (0600), as the secrets beside it:
    SQLite would create it world-readable, and gives its -wal and -shm files the same mode."""
    path = database_path(database_url)
    if path is None:
        return
    # There already, or no folder (SQLite says so): nothing to do.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def refuse_unusable_secret(setting: str, value: str, *, production: bool, database_url: str) -> None:
    """Raise UnusableSecret when `setting` is guessable, or missing where it cannot be generated."""
    if value:
        reason = weakness(value)
        if reason is not None:
            raise UnusableSecret(f"{setting} is refused: {reason}. Use e.g. `openssl rand -base64 48`.")
        return
    if production:
        raise UnusableSecret(f"{setting} must be set in production (e.g. `openssl rand -base64 48`).")
    if not make_url(database_url).drivername.startswith("sqlite"):
        raise UnusableSecret(
            f"{setting} must be set with PostgreSQL: every instance must use the same value "
            "(e.g. `openssl rand -base64 48`)."
        )


def local_secret(name: str, configured: str, database_url: str, *, size: int = GENERATED_BYTES) -> str:
    """The configured value; else the one kept beside the SQLite database file, generated on
    first use (`size` random bytes, URL-safe base64); else (an in-memory database) a new one,
    which the caller keeps for as long as the database lives."""
    if configured:
        return configured
    path = secret_path(name, database_url)
    if path is None:
        return secrets.token_urlsafe(size)
    try:
        return _read(path)
    except FileNotFoundError:
        return _create(path, size)


def _read(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise UnusableSecret(f"{path} may be read by other accounts of this machine: `chmod 600 {path}`.")
    value = path.read_text(encoding="utf-8").strip()
    reason = weakness(value)
    if reason is not None:
        raise UnusableSecret(f"{path} is refused: {reason}. Delete it to generate a new one.")
    return value


def _create(path: Path, size: int = GENERATED_BYTES) -> str:
    """Write a new secret (mode 0600) unless another process wins the race; either way, the one kept."""
    value = secrets.token_urlsafe(size)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(value + "\n")
        try:
            os.link(draft, path)  # atomic, and never replaces a secret another process made
        except FileExistsError:
            return _read(path)
    finally:
        draft.unlink()
    return value


def replace_kept_secret(name: str, database_url: str, value: str) -> bool:
    """Replace the secret kept beside an SQLite database file by `value` (mode 0600, atomically),
    when one is kept there and differs; whether it was replaced."""
    path = secret_path(name, database_url)
    if path is None or not path.exists() or path.read_text(encoding="utf-8").strip() == value.strip():
        return False
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value.strip() + "\n")
    draft.replace(path)
    return True
