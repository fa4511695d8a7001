"""Messages of users that only their CSV sheet raises."""

from app.text.messages import register_messages

register_messages(
    {
        "invalid_role": (
            "管理者、拠点管理者、担当者（送信可）、担当者（送信不可） のいずれかを指定してください。",
            "Must be one of admin, location_admin, staff_submitter, staff_preparer.",
        ),
        "csv_login_ids_taken": (
            "ファイルのログインIDのうち{limit}件を超えるものが既に使用されています（他の組織、または権限の範囲外のユーザー）。"
            "別のログインIDを指定してください。何も変更されていません。",
            "More than {limit} login IDs of the file are already used (in another organization, or by "
            "users outside your scope): choose others. Nothing was changed.",
        ),
    }
)
