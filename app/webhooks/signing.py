"""Secrets and signatures of the Standard Webhooks specification, and the messages they sign."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Any

import orjson

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
TEST_TYPE = "webhook.test"


def new_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_header(signing_secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` for each secret, space-separated."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(
            hmac.new(base64.b64decode(secret.removeprefix(SECRET_PREFIX)), signed, hashlib.sha256).digest()
        ).decode()
        for secret in signing_secrets
    )


def headers(signing_secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, webhook_id, timestamp, body),
    }


def message_id(endpoint_id: str, seq: int) -> str:
    """The `webhook-id` of a feed entry's message to an endpoint: the same for every attempt."""
    return f"msg_{endpoint_id}_{seq}"


def message_body(entry: dict[str, Any]) -> bytes:
    """`{type, timestamp, data}` of a feed entry (`{cursor, at, action, resource, data}`, its
    `data` already JSON text: copied as stored)."""
    return orjson.dumps(
        {"type": entry["action"], "timestamp": entry["at"], "data": entry}, option=orjson.OPT_UTC_Z
    )


def test_body(timestamp: Any) -> bytes:
    """The body of a test message."""
    return orjson.dumps({"type": TEST_TYPE, "timestamp": timestamp, "data": {}}, option=orjson.OPT_UTC_Z)
