"""The messages of authentication (tokens, logins, login IDs, SPEC §3, §4) and the labels of the
roles, registered with the kernel on import."""

from app.models.user import Role
from app.text.messages import register_labels, register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "token_expired": (
        "アクセストークンの有効期限が切れています。",
        "The access token has expired.",
    ),
    "password_change_required": (
        "パスワードの変更が必要です。パスワードを変更してから操作してください。",
        "You must change your password before doing anything else.",
    ),
    "invalid_credentials": (
        "ログインIDまたはパスワードが正しくありません。",
        "The login ID or password is incorrect.",
    ),
    "account_locked": (
        "ログインに続けて失敗したため、アカウントがロックされています。{retry_after}秒後に再試行するか、管理者にパスワードの初期化を依頼してください。",
        "The account is locked after repeated failed logins. Retry after {retry_after} seconds "
        "or ask an administrator to reset the password.",
    ),
    "temporary_password_expired": (
        "仮パスワードの有効期限が切れています。管理者にパスワードの初期化を依頼してください。",
        "The temporary password has expired. Ask an administrator to reset it again.",
    ),
    "invalid_refresh_token": (
        "リフレッシュトークンが無効です。再度ログインしてください。",
        "The refresh token is invalid. Log in again.",
    ),
    "unsupported_grant_type": (
        "grant_type は password、client_credentials、refresh_token のいずれかを指定してください。",
        "grant_type must be password, client_credentials or refresh_token.",
    ),
    "repeated_parameter": (
        "パラメータ {parameter} が2回以上指定されています。",
        "The parameter {parameter} is given more than once.",
    ),
    "invalid_client": (
        "APIキーまたはAPIパスワードが正しくありません。",
        "The API key or API password is incorrect.",
    ),
    "current_password_incorrect": (
        "現在のパスワードが正しくありません。",
        "The current password is incorrect.",
    ),
    "password_unchanged": (
        "新しいパスワードは現在のパスワードと異なるものを指定してください。",
        "The new password must differ from the current one.",
    ),
    "invalid_login_id": (
        "半角英数字と「.」「_」「-」で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be half-width letters, digits, '.', '_' and '-' only; see invalid_characters.",
    ),
}

register_messages(MESSAGES)

# 権限 as the screens name them (also in CSV files and in answers that list the roles).
ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("管理者", "administrator"),
    Role.LOCATION_ADMIN: ("拠点管理者", "location administrator"),
    Role.STAFF_SUBMITTER: ("担当者（送信可）", "staff (may submit)"),
    Role.STAFF_PREPARER: ("担当者（送信不可）", "staff (may not submit)"),
}
register_labels({role.value: labels for role, labels in ROLE_LABELS.items()})
