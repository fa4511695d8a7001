"""Messages of locations (依頼人拠点)."""

from app.text.messages import register_messages

register_messages(
    {
        "location_has_templates": (
            "この拠点には{count}件の申請テンプレートがあるため削除できません。先にテンプレートを削除するか拠点を変更してください。",
            "{count} application templates belong to this location; delete them or move them to another location first.",
        ),
    }
)
