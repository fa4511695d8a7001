"""The messages of the Idempotency-Key header (SPEC §5.3), registered with the kernel on import."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "idempotency_key_reused": (
        "同じ Idempotency-Key が異なる内容のリクエストで使用されています。",
        "This Idempotency-Key was already used with a different request.",
    ),
    "idempotency_in_progress": (
        "同じ Idempotency-Key のリクエストを処理中です。しばらくしてから再試行してください。",
        "A request with this Idempotency-Key is still being processed. Retry later.",
    ),
    "invalid_idempotency_key": (
        "Idempotency-Key は1〜255文字の表示可能なASCII文字で指定してください。",
        "The Idempotency-Key must be 1 to 255 printable ASCII characters.",
    ),
}

register_messages(MESSAGES)
