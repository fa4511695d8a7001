"""The certificate key: required in production, distinct from the signing key, kept beside the
SQLite database in development; sealed values open only under their key and their binding."""

import base64
import os
import secrets
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.certificates.keys import associated_data
from app.config.settings import Settings
from app.security.sealing import SealedSecretUnreadable, key_id
from app.security.sealing import SealingKeyMissing as CertificateKeyMissing
from app.security.sealing import sealing_keys as certificate_keys

SIGNING_KEY = secrets.token_urlsafe(48)
POSTGRES = "postgresql://postgres@127.0.0.1/ainas"


def new_key() -> str:
    """What `openssl rand -base64 32` prints."""
    return base64.b64encode(os.urandom(32)).decode()


def settings(**values: object) -> Settings:
    return Settings(**{"environment": "test", "secret_key": SIGNING_KEY, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"environment": "production", "database_url": POSTGRES}, "must be set in production"),
        ({"certificate_key": "too short"}, "32 random bytes in base64"),
        ({"certificate_key": base64.b64encode(os.urandom(16)).decode()}, "32 random bytes in base64"),
        ({"certificate_key": new_key(), "certificate_previous_keys": ["nope"]}, "PREVIOUS_KEYS"),
    ],
    ids=["production-without", "not-base64", "16-bytes", "bad-previous"],
)
def test_a_missing_or_malformed_key_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        settings(**values)
    assert str(values.get("certificate_key", "none")) not in str(raised.value)  # errors do not echo keys


def test_the_certificate_key_must_differ_from_the_signing_key() -> None:
    key = new_key()
    with pytest.raises(ValidationError, match="must differ from AINAS_SECRET_KEY"):
        Settings(environment="production", database_url=POSTGRES, secret_key=key, certificate_key=key)  # type: ignore[call-arg]
    accepted = settings(environment="production", database_url=POSTGRES, certificate_key=key)
    assert accepted.certificate_key is not None
    assert "*" in repr(accepted.certificate_key)  # a SecretStr: never printed


def test_both_base64_alphabets_and_missing_padding_are_accepted() -> None:
    raw = os.urandom(32)
    for written in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ):
        ring = certificate_keys(settings(database_url=POSTGRES, certificate_key=written))
        assert ring.keys == {key_id(raw): raw}


def test_development_keeps_a_generated_key_beside_the_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "ainas.db"
    development = Settings(database_url=f"sqlite:///{database}")  # type: ignore[call-arg]
    ring = certificate_keys(development)
    kept = tmp_path / "ainas.db.certificate-key"
    assert kept.exists()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(kept.read_text().strip() + "=")) == 32
    # Another process of the same service (a new settings object) finds the same key.
    assert certificate_keys(Settings(database_url=f"sqlite:///{database}")).current_id == ring.current_id  # type: ignore[call-arg]
    other = certificate_keys(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}"))  # type: ignore[call-arg]
    assert other.current_id != ring.current_id


def test_postgresql_without_a_configured_key_is_refused_at_start() -> None:
    with pytest.raises(CertificateKeyMissing, match="AINAS_CERTIFICATE_KEY must be set"):
        certificate_keys(settings(database_url=POSTGRES))


def test_a_sealed_value_opens_only_with_its_key_and_its_binding() -> None:
    old, new = new_key(), new_key()
    before = certificate_keys(settings(database_url=POSTGRES, certificate_key=old))
    during = certificate_keys(
        settings(database_url=POSTGRES, certificate_key=new, certificate_previous_keys=[old])
    )
    after = certificate_keys(settings(database_url=POSTGRES, certificate_key=new))
    aad = associated_data("file", 1, "A" * 32)
    sealed = before.seal(b"pkcs12 bytes", aad)
    assert b"pkcs12 bytes" not in sealed
    assert before.seal(b"pkcs12 bytes", aad) != sealed  # a fresh nonce each time
    assert during.open(before.current_id, sealed, aad) == b"pkcs12 bytes"
    assert during.current_id == after.current_id != before.current_id
    for ring, sealing_key, binding in (
        (after, before.current_id, aad),  # the old key is no longer configured
        (during, before.current_id, associated_data("file", 2, "A" * 32)),  # another organization
        (during, before.current_id, associated_data("file", 1, "B" * 32)),  # another certificate
        (during, before.current_id, associated_data("password", 1, "A" * 32)),  # another purpose
        (during, during.current_id, aad),  # recorded under the wrong key id
    ):
        with pytest.raises(SealedSecretUnreadable):
            ring.open(sealing_key, sealed, binding)
    with pytest.raises(SealedSecretUnreadable):
        during.open(before.current_id, sealed[:-1] + bytes([sealed[-1] ^ 1]), aad)
