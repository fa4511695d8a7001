"""The messages of locations (依頼人拠点), registered with the kernel on import."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "location_code_taken": (
        "依頼人拠点コード {code} は既に使用されています。",
        "The location code {code} is already used in this organization.",
    ),
    "location_in_use": (
        "この拠点には{count}人のユーザーが所属しているため削除できません。先にユーザーの拠点を変更してください。",
        "{count} users are assigned to this location; move them before deleting it.",
    ),
    "invalid_location_code": (
        "半角英数字（0-9、A-Z、a-z）で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be half-width letters and digits (0-9, A-Z, a-z) only; see invalid_characters.",
    ),
}

register_messages(MESSAGES)
