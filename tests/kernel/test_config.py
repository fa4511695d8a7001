"""The signing key rule: never a published or guessable key; configured in production and with
PostgreSQL; otherwise generated once beside the SQLite database (app/config/local_secrets.py)."""

import base64
import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config.local_secrets import PUBLISHED
from app.config.settings import Settings

POSTGRES = "postgresql://postgres@127.0.0.1/ainas"
PUBLISHED_KEY = next(iter(PUBLISHED))
# Fixed (test ids must not change between pytest workers), as random as a generated key.
RANDOM = base64.urlsafe_b64encode(hashlib.sha512(b"a random-looking key").digest()).decode()
HEX_128_BITS = hashlib.sha256(b"another one").hexdigest()[:32]
# Production also requires a certificate key (tests/certificates/test_keys.py).
CERTIFICATE_KEY = base64.b64encode(hashlib.sha256(b"a certificate key").digest()).decode()


@pytest.mark.parametrize(
    ("environment", "database_url", "secret_key", "refusal"),
    [
        # Not configured: generated beside the SQLite file outside production only.
        ("development", "sqlite:///./ainas.db", "", None),
        ("test", "sqlite:///./ainas.db", "", None),
        ("production", "sqlite:///./ainas.db", "", "must be set in production"),
        ("development", POSTGRES, "", "must be set with PostgreSQL"),
        ("production", POSTGRES, "", "must be set in production"),
        # Configured: never the old published development key, in any environment.
        ("development", "sqlite:///./ainas.db", PUBLISHED_KEY, "published"),
        ("production", POSTGRES, PUBLISHED_KEY, "published"),
        # Length alone is not enough: regular keys are refused.
        ("production", POSTGRES, "short-key", "fewer than 32"),
        ("production", POSTGRES, "a" * 32, "too regular"),
        ("production", POSTGRES, "k" * 64, "too regular"),
        ("production", POSTGRES, "abcdefghijklmnopqrstuvwxyz012345", "too regular"),
        ("production", POSTGRES, "0123456789abcdef" * 2, "too regular"),
        ("production", POSTGRES, "password1234" * 3, "repeats itself"),
        ("production", POSTGRES, RANDOM, None),
        ("production", POSTGRES, HEX_128_BITS, None),
        ("test", POSTGRES, RANDOM, None),
    ],
)
def test_signing_keys_are_refused_where_they_would_be_guessable(
    environment: str, database_url: str, secret_key: str, refusal: str | None
) -> None:
    values = {
        "environment": environment,
        "database_url": database_url,
        "secret_key": secret_key,
        "certificate_key": CERTIFICATE_KEY,
    }
    if refusal is None:
        assert Settings(**values).secret_key == secret_key  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError, match=f"AINAS_SECRET_KEY .*{refusal}"):
            Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("certificate_key", "refusal"),
    [
        (base64.b64encode(bytes(32)).decode(), "too regular"),  # 32 zero bytes: AAAA…
        (base64.b64encode(b"0123456789abcdef" * 2).decode(), "too regular"),
        (base64.b64encode(b"sixteen bytes!!?" * 2).decode(), "repeats itself"),
        (CERTIFICATE_KEY, None),
    ],
)
def test_guessable_certificate_keys_are_refused_too(certificate_key: str, refusal: str | None) -> None:
    values = {"database_url": POSTGRES, "secret_key": RANDOM, "certificate_key": certificate_key}
    if refusal is None:
        assert Settings(**values).certificate_key is not None  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError, match=f"AINAS_CERTIFICATE_KEY is refused: .*{refusal}"):
            Settings(**values)  # type: ignore[arg-type]


def test_settings_alone_touch_no_file(tmp_path: Path) -> None:
    """Reading the configuration creates nothing; the key is made when a runtime is built."""
    Settings(database_url=f"sqlite:///{tmp_path / 'ainas.db'}")  # type: ignore[call-arg]
    assert list(tmp_path.iterdir()) == []


def test_plain_urls_select_the_async_drivers() -> None:
    assert Settings(database_url=POSTGRES, secret_key=RANDOM).database_url.startswith(  # type: ignore[call-arg]
        "postgresql+asyncpg://"
    )
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"  # type: ignore[call-arg]
