"""The signing key rule: a published or short key only for development on SQLite."""

import pytest
from pydantic import ValidationError

from app.core.config import DEVELOPMENT_SECRET_KEY, Settings

POSTGRES = "postgresql://postgres@127.0.0.1/ainas"
CERTIFICATE_KEY = "q" * 43  # production also requires one (tests/certificates/test_keys.py)


@pytest.mark.parametrize(
    ("environment", "database_url", "secret_key", "accepted"),
    [
        ("development", "sqlite:///./ainas.db", DEVELOPMENT_SECRET_KEY, True),
        ("development", POSTGRES, DEVELOPMENT_SECRET_KEY, False),
        ("production", "sqlite:///./ainas.db", DEVELOPMENT_SECRET_KEY, False),
        ("production", POSTGRES, "short-key", False),
        ("production", POSTGRES, "k" * 32, True),
        ("test", POSTGRES, DEVELOPMENT_SECRET_KEY, False),
    ],
)
def test_weak_keys_are_refused_where_they_matter(
    environment: str, database_url: str, secret_key: str, accepted: bool
) -> None:
    values = {
        "environment": environment,
        "database_url": database_url,
        "secret_key": secret_key,
        "certificate_key": CERTIFICATE_KEY,
    }
    if accepted:
        assert Settings(**values).secret_key == secret_key  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError, match="AINAS_SECRET_KEY"):
            Settings(**values)  # type: ignore[arg-type]


def test_plain_urls_select_the_async_drivers() -> None:
    assert Settings(database_url=POSTGRES, secret_key="k" * 32).database_url.startswith(
        "postgresql+asyncpg://"
    )  # type: ignore[call-arg]
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"  # type: ignore[call-arg]
