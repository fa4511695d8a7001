"""The messages of password rules (SPEC §3.4) and the hashing guard, registered on import."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "password_too_short": (
        "パスワードは{min_length}文字以上で入力してください。",
        "The password must be at least {min_length} characters.",
    ),
    "password_too_long": (
        "パスワードは{max_length}文字以内で入力してください。",
        "The password must be at most {max_length} characters.",
    ),
    "password_contains_login_id": (
        "パスワードにログインIDを含めることはできません。",
        "The password must not contain the login ID.",
    ),
    "password_too_common": (
        "よく使われているパスワードのため使用できません。推測されにくいパスワードを指定してください。",
        "This password is too common. Choose one that is harder to guess.",
    ),
    "server_busy": (
        "パスワードの確認が混み合っています。{retry_after}秒後に再試行してください。",
        "Too many password checks at once. Retry after {retry_after} seconds.",
    ),
}

register_messages(MESSAGES)
