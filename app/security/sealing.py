"""Sealing of stored secrets (AES-256-GCM) under the configured key-encryption keys.

Each sealed value is `nonce | ciphertext and tag` under one configured key, and its row records
which key (`key_id`). The caller's associated data binds the value to its row and purpose (a
ciphertext copied to another row, or one secret put in another's place, does not open). During a
rotation the ring holds the new key (which seals) and the previous ones (which still open).

The keys come from AINAS_CERTIFICATE_KEY and AINAS_CERTIFICATE_PREVIOUS_KEYS (named after the
first secrets sealed with them); without one, development keeps a generated key beside its
SQLite database. This module knows no domain: what a value is bound to is the caller's.
"""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.config.local_secrets import local_secret
from app.config.settings import ENCRYPTION_KEY_BYTES, Settings, decode_encryption_key

NONCE_BYTES = 12
# Kept beside an SQLite database file as `ainas.db.certificate-key` when not configured (the
# name predates other secrets sealed with it; kept so existing files still open).
KEY_NAME = "certificate-key"
# The label of key ids: ids are stored in rows, so it never changes.
_KEY_ID_LABEL = b"ainas certificate key id"


class SealedSecretUnreadable(Exception):
    """A sealed value does not open: sealed for another row, damaged, or under a key not configured."""


class SealingKeyMissing(RuntimeError):
    """No key is configured and none can be kept for this database."""


def key_id(key: bytes) -> str:
    """A short public name of a key (a keyed digest: it reveals nothing of the key)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The key that seals, and every key that opens, by id."""

    current_id: str
    keys: Mapping[str, bytes]

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """`nonce | ciphertext and tag` of the plaintext under the current key."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.keys[self.current_id]).encrypt(nonce, plaintext, aad)

    def open(self, sealing_key_id: str, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of a sealed value; SealedSecretUnreadable when it does not open."""
        key = self.keys.get(sealing_key_id)
        if key is None or len(sealed) <= NONCE_BYTES:
            raise SealedSecretUnreadable()
        try:
            return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag:
            raise SealedSecretUnreadable() from None


def _configured_key(settings: Settings) -> str:
    """AINAS_CERTIFICATE_KEY, or in development the key kept beside the SQLite database."""
    if settings.certificate_key is not None:
        return settings.certificate_key.get_secret_value()
    if settings.is_sqlite:
        return _kept(settings.database_url)
    raise SealingKeyMissing(
        "AINAS_CERTIFICATE_KEY must be set (32 random bytes in base64, e.g. openssl rand -base64 32): "
        "a generated key is kept only beside an SQLite database file"
    )


@lru_cache(maxsize=8)
def _kept(database_url: str) -> str:
    """The key kept beside this SQLite database file (app/config/local_secrets.py), read once; an
    in-memory database's lives as long as this process, as the database does."""
    return local_secret(KEY_NAME, "", database_url, size=ENCRYPTION_KEY_BYTES)


@lru_cache(maxsize=32)
def _ring(current: str, previous: tuple[str, ...]) -> KeyRing:
    keys: dict[str, bytes] = {}
    for value in (*previous, current):
        raw = decode_encryption_key(value)
        if raw is None:
            raise SealingKeyMissing(
                f"the certificate key kept for this database is not {ENCRYPTION_KEY_BYTES} bytes in base64"
            )
        keys[key_id(raw)] = raw
    current_raw = decode_encryption_key(current)
    assert current_raw is not None
    return KeyRing(key_id(current_raw), keys)


def sealing_keys(settings: Settings) -> KeyRing:
    """The key ring of these settings (read once per distinct configuration)."""
    previous = tuple(key.get_secret_value() for key in settings.certificate_previous_keys)
    return _ring(_configured_key(settings), previous)
