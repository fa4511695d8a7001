"""The messages of the change feed (SPEC §5.5), registered with the kernel on import."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "invalid_cursor": (
        "カーソルが正しくありません。この組織の変更履歴が返したcursorまたはnext_cursorをそのまま指定してください。",
        "The cursor is not valid here: send a cursor or next_cursor exactly as this organization's change feed answered it.",
    ),
    "cursor_expired": (
        "カーソルの位置以降の変更履歴は保存期間（{days}日）を過ぎて削除されました。afterを指定せずに新しいカーソルを取得し、一覧を取得し直してから追跡してください。",
        "The changes after this cursor are past the retention period ({days} days) and were removed: "
        "take a new cursor (no `after`), list again, then follow.",
    ),
    "too_many_long_polls": (
        "この呼び出し元が同時に待機できる変更履歴の取得（waitの指定）は{limit}件までです。"
        "{retry_after}秒後に再試行してください。",
        "This caller already has {limit} change feed requests waiting (with `wait`), the most allowed "
        "at once: retry after {retry_after} seconds.",
    ),
}

register_messages(MESSAGES)
