"""Messages of locations that the location package raises itself."""

from app.text.messages import register_messages

register_messages(
    {
        "location_has_templates": (
            "この拠点には{count}件の申請テンプレートがあるため削除できません。先にテンプレートを削除するか拠点を変更してください。",
            "{count} application templates belong to this location; delete them or move them to another location first.",
        ),
        "location_has_designations": (
            "この拠点には{count}件の依頼先代理人が指定されているため削除できません。先に依頼先代理人を削除してください。",
            "{count} agent designations are for this location; delete them before deleting it.",
        ),
    }
)
