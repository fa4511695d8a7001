"""Feed cursors: an organization and a position in its feed, sealed so that no one can make one up.

`base64url(version, organization id, position, HMAC-SHA256(...)[:12])`, 34 characters. The
MAC is keyed by a key derived from the service's secret key, so a cursor of one organization
cannot be edited into another's, and one the service never issued does not decode. Changing
the secret key makes every outstanding cursor invalid (400): take a new one.
"""

import base64
import binascii
import hashlib
import hmac
import struct
from functools import lru_cache

_VERSION = 1
_LAYOUT = struct.Struct(">BIQ")
_TAG_BYTES = 12
_LENGTH = _LAYOUT.size + _TAG_BYTES
MAX_CURSOR_LENGTH = 64


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    """The cursor key, derived from the service secret (never the secret itself)."""
    return hmac.new(secret_key.encode(), b"ainas change-feed cursor v1", hashlib.sha256).digest()


def _tag(secret_key: str, body: bytes) -> bytes:
    return hmac.new(_key(secret_key), body, hashlib.sha256).digest()[:_TAG_BYTES]


def encode_cursor(secret_key: str, organization_id: int, position: int) -> str:
    """The cursor of `position` (the number of the last change it has seen) in an organization's feed."""
    body = _LAYOUT.pack(_VERSION, organization_id, position)
    return base64.urlsafe_b64encode(body + _tag(secret_key, body)).rstrip(b"=").decode()


def decode_cursor(secret_key: str, organization_id: int, cursor: str) -> int | None:
    """The position of a cursor issued for this organization, or None for any other string."""
    if not cursor.isascii() or len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _LENGTH:
        return None
    body, tag = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if not hmac.compare_digest(tag, _tag(secret_key, body)):
        return None
    version, issued_for, position = _LAYOUT.unpack(body)
    if version != _VERSION or issued_for != organization_id:
        return None
    return int(position)
