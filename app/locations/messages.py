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
    "location_has_templates": (
        "この拠点には{count}件の申請テンプレートがあるため削除できません。先にテンプレートを削除するか拠点を変更してください。",
        "{count} application templates belong to this location; delete them or move them to another location first.",
    ),
    "location_has_designations": (
        "この拠点には{count}件の依頼先代理人が指定されているため削除できません。先に依頼先代理人を削除してください。",
        "{count} agent designations are for this location; delete them before deleting it.",
    ),
}

register_messages(MESSAGES)
