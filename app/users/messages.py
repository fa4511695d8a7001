"""The messages of users (依頼人ユーザー), registered with the kernel on import."""

from app.auth.messages import ROLE_LABELS
from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "login_id_taken": (
        "ログインID {login_id} は既に使用されています。",
        "The login ID {login_id} is already taken.",
    ),
    "last_admin": (
        "組織の最後の管理者は削除・変更できません。",
        "The last admin of an organization cannot be deleted or demoted.",
    ),
    "cannot_delete_self": (
        "自分自身は削除できません。",
        "You cannot delete yourself.",
    ),
    "unknown_location": (
        "指定された依頼人拠点コードの拠点は存在しません。",
        "No location of this organization has this code.",
    ),
    "admin_has_no_location": (
        "管理者には拠点を指定できません（全拠点が対象です）。",
        "Admins have no location: they cover all locations.",
    ),
    "role_not_allowed": (
        "この権限のユーザーを作成・変更する権限がありません。",
        "You may not give or manage this role.",
    ),
    # The users' CSV sheet
    "invalid_role": (
        "、".join(ja for ja, _ in ROLE_LABELS.values()) + " のいずれかを指定してください。",
        f"Must be one of {', '.join(ROLE_LABELS)}.",
    ),
    "csv_login_ids_taken": (
        "ファイルのログインIDのうち{limit}件を超えるものが既に使用されています（他の組織、または権限の範囲外のユーザー）。"
        "別のログインIDを指定してください。何も変更されていません。",
        "More than {limit} login IDs of the file are already used (in another organization, or by "
        "users outside your scope): choose others. Nothing was changed.",
    ),
}

register_messages(MESSAGES)
