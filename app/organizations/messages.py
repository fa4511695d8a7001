"""The messages of organizations (依頼人組織), registered with the kernel on import."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "duplicate_login_id": (
        "ログインIDが重複しています。",
        "The same login ID is given twice.",
    ),
}

register_messages(MESSAGES)
