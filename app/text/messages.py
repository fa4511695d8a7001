"""The message registry: human messages by stable code, in Japanese (default) and English.

The kernel's own codes (HTTP and protocol, field validation) are here; every other package
registers its codes from a `messages.py` of its own with `register_messages`, imported by the
package's `__init__.py`, so that importing the package registers them.
"""

from collections.abc import Iterable
from typing import Any, Literal

Language = Literal["ja", "en"]

# code: (Japanese, English). Templates are str.format()ed with the error's context.
MESSAGES: dict[str, tuple[str, str]] = {
    # HTTP and protocol
    "bad_request": ("リクエストが正しくありません。", "The request is invalid."),
    "not_found": ("指定されたリソースは存在しません。", "The requested resource does not exist."),
    "method_not_allowed": (
        "このメソッドは使用できません。",
        "This method is not allowed for this resource.",
    ),
    "validation_failed": (
        "入力内容に誤りがあります。各項目のエラーを確認してください。",
        "The request is invalid. See the errors of each field.",
    ),
    "malformed_json": (
        "リクエスト本文が正しいJSONではありません（{position}文字目付近）。",
        "The request body is not valid JSON (near character {position}).",
    ),
    "body_not_object": (
        "リクエスト本文はJSONオブジェクト（{ } で囲んだ形）で送ってください。本文が不要なときは送らないでください。",
        "Send the request body as a JSON object ({ ... }), or send no body at all where none is needed.",
    ),
    "json_required": (
        "リクエスト本文はJSON形式で送ってください（Content-Type: application/json、受け取った形式: {media_type}）。",
        "Send the request body as JSON (Content-Type: application/json); received {media_type}.",
    ),
    "form_required": (
        "このエンドポイントにはフォーム形式（Content-Type: application/x-www-form-urlencoded）で送ってください（受け取った形式: {media_type}）。",
        "Send this endpoint's fields form-encoded (Content-Type: application/x-www-form-urlencoded); "
        "received {media_type}.",
    ),
    "body_not_utf8": (
        "リクエスト本文がUTF-8ではありません（先頭から{position}バイトの位置）。UTF-8で送ってください。",
        "The request body is not UTF-8 (at byte offset {position}). Send it as UTF-8.",
    ),
    "payload_too_large": (
        "リクエスト本文が大きすぎます（上限 {limit} バイト）。",
        "The request body is too large (limit {limit} bytes).",
    ),
    "not_authenticated": (
        "認証が必要です。アクセストークンを指定してください。",
        "Authentication is required. Send an access token.",
    ),
    "invalid_token": (
        "アクセストークンが無効です。再度ログインしてください。",
        "The access token is invalid. Log in again.",
    ),
    "forbidden": ("この操作を行う権限がありません。", "You are not allowed to do this."),
    "conflict": (
        "他のデータと競合するため処理できません。",
        "The request conflicts with existing data.",
    ),
    "gone": ("このリソースは既に存在しません。", "This resource no longer exists."),
    "precondition_failed": (
        "データが他の操作で更新されています。最新の内容を取得してからやり直してください。",
        "The resource has changed since you read it. Fetch it again and retry.",
    ),
    "invalid_if_match": (
        "If-Match ヘッダーの形式が正しくありません。",
        "The If-Match header is malformed.",
    ),
    "duplicate_member": (
        "JSONの項目 {name} が2回以上指定されています。",
        "The JSON member {name} is given more than once.",
    ),
    "rate_limited": (
        "試行回数が多すぎます。{retry_after}秒後に再試行してください。",
        "Too many attempts. Retry after {retry_after} seconds.",
    ),
    "service_unavailable": (
        "データベースに接続できません。しばらくしてから再試行してください。",
        "The database is unavailable. Retry shortly.",
    ),
    "request_header_too_large": (
        "リクエストヘッダーが大きすぎます（上限 {limit} バイト）。",
        "The request headers are too large (limit {limit} bytes).",
    ),
    "datetime_out_of_range": (
        "扱える範囲（西暦1年〜9999年、UTC）の日時で指定してください。",
        "Give a date-time within years 1 to 9999 in UTC.",
    ),
    "internal_error": (
        "内部エラーが発生しました。",
        "An internal error occurred.",
    ),
    # RFC 6749 §5.2 and forms: a parameter that must be given
    "invalid_request": (
        "必須パラメータ {parameter} が指定されていません。",
        "The parameter {parameter} is required.",
    ),
    # Field validation
    "missing": ("必須項目です。", "This field is required."),
    "extra_forbidden": (
        "この項目は指定できません。",
        "This field is not allowed.",
    ),
    "immutable_field": (
        "この項目は変更できません。",
        "This field cannot be changed.",
    ),
    "string_type": ("文字列で指定してください。", "Must be a string."),
    "string_unicode": (
        "不正な文字（Unicodeとして解釈できない文字）が含まれています。",
        "Contains characters that are not valid Unicode.",
    ),
    "int_from_float": ("整数で指定してください。", "Must be an integer."),
    "int_parsing_size": ("値が大きすぎます。", "The number is too large."),
    "value_error": ("値が正しくありません。", "The value is invalid."),
    "int_type": ("整数で指定してください。", "Must be an integer."),
    "int_parsing": ("整数で指定してください。", "Must be an integer."),
    "bool_type": ("true または false を指定してください。", "Must be true or false."),
    "literal_error": (
        "次のいずれかを指定してください: {expected_ja}",
        "Must be one of: {expected_en}",
    ),
    "enum": ("次のいずれかを指定してください: {expected_ja}", "Must be one of: {expected_en}"),
    "greater_than_equal": ("{ge}以上で指定してください。", "Must be at least {ge}."),
    "less_than_equal": ("{le}以下で指定してください。", "Must be at most {le}."),
    "not_full_width": (
        "全角文字（JIS X 0208）で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be full-width characters (JIS X 0208) only; see invalid_characters.",
    ),
    "not_half_width_digits": (
        "半角数字（0-9）で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be half-width digits (0-9) only; see invalid_characters.",
    ),
    "invalid_characters": (
        "制御文字や見えない書式文字は使用できません。該当する文字は invalid_characters に示します。",
        "Must not contain control or invisible formatting characters; see invalid_characters.",
    ),
    "too_short": (
        "{min_length}文字以上で入力してください。",
        "Must be at least {min_length} characters.",
    ),
    "too_long": (
        "{max_length}文字以内で入力してください（現在{length}文字）。",
        "Must be at most {max_length} characters (now {length}).",
    ),
    "string_too_short": (
        "{min_length}文字以上で入力してください。",
        "Must be at least {min_length} characters.",
    ),
    "string_too_long": (
        "{max_length}文字以内で入力してください。",
        "Must be at most {max_length} characters.",
    ),
    "string_pattern_mismatch": (
        "形式が正しくありません。",
        "The format is invalid.",
    ),
    "too_long_list": (
        "{max_length}件以内で指定してください。",
        "Must have at most {max_length} items.",
    ),
    "too_short_list": (
        "{min_length}件以上指定してください。",
        "Must have at least {min_length} items.",
    ),
    "list_type": ("配列で指定してください。", "Must be a list."),
    "model_type": ("オブジェクトで指定してください。", "Must be an object."),
    "model_attributes_type": ("オブジェクトで指定してください。", "Must be an object."),
    "bool_parsing": ("true または false を指定してください。", "Must be true or false."),
    "datetime_object_invalid": (
        "日時（ISO 8601）で指定してください。",
        "Must be a date-time (ISO 8601).",
    ),
    "dict_type": ("オブジェクトで指定してください。", "Must be an object."),
    "datetime_type": (
        "日時（ISO 8601）で指定してください。",
        "Must be a date-time (ISO 8601).",
    ),
    "datetime_parsing": (
        "日時（ISO 8601）で指定してください。",
        "Must be a date-time (ISO 8601).",
    ),
    "datetime_from_date_parsing": (
        "日時（ISO 8601）で指定してください。",
        "Must be a date-time (ISO 8601).",
    ),
    "timezone_aware": (
        "タイムゾーン付きの日時で指定してください（例: 2026-04-01T09:00:00+09:00）。",
        "Give a date-time with a time zone (e.g. 2026-04-01T09:00:00+09:00).",
    ),
    "invalid_sort": (
        "並び順には次の項目を指定できます: {allowed}",
        "sort must be one of: {allowed}",
    ),
    # An endpoint that takes files
    "malformed_multipart": (
        "リクエスト本文を multipart/form-data として読み取れません。各パートに Content-Disposition ヘッダー（name 付き）を付け、境界文字列で区切って送ってください。",
        "The request body cannot be read as multipart/form-data: each part needs a Content-Disposition "
        "header with a name, between boundary lines.",
    ),
    "multipart_required": (
        "このエンドポイントには multipart/form-data で送ってください（受け取った形式: {media_type}）。",
        "Send this endpoint's fields as multipart/form-data; received {media_type}.",
    ),
}

TITLES: dict[int, tuple[str, str]] = {
    400: ("不正なリクエスト", "Bad Request"),
    401: ("認証エラー", "Unauthorized"),
    403: ("権限エラー", "Forbidden"),
    404: ("見つかりません", "Not Found"),
    405: ("許可されていないメソッド", "Method Not Allowed"),
    409: ("競合", "Conflict"),
    410: ("消去済み", "Gone"),
    412: ("前提条件エラー", "Precondition Failed"),
    413: ("リクエストが大きすぎます", "Content Too Large"),
    415: ("未対応のメディアタイプ", "Unsupported Media Type"),
    422: ("入力エラー", "Unprocessable Content"),
    429: ("リクエスト過多", "Too Many Requests"),
    431: ("リクエストヘッダーが大きすぎます", "Request Header Fields Too Large"),
    500: ("内部エラー", "Internal Server Error"),
    503: ("一時的に利用できません", "Service Unavailable"),
}


def register_messages(messages: dict[str, tuple[str, str]]) -> None:
    """Add a package's messages: code -> (Japanese, English). A code keeps one text everywhere."""
    for code, texts in messages.items():
        if MESSAGES.setdefault(code, texts) != texts:
            raise ValueError(f"message code {code!r} is registered twice with different texts")
    MESSAGES.update(messages)


def preferred_language(accept_language: str | None) -> Language:
    """Japanese unless Accept-Language prefers English over Japanese (RFC 9110 q-values)."""
    best: tuple[float, Language] = (0.0, "ja")
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("ja", "en") and q > best[0]:
            best = (q, "en" if primary == "en" else "ja")
    return best[1]


def message(
    code: str, language: Language, context: dict[str, Any] | None = None, fallback: str | None = None
) -> str:
    """The message for `code`; an unknown code falls back to the given English text."""
    templates = MESSAGES.get(code)
    if templates is None:
        # A check without a message of its own: pydantic's English text, or a Japanese one that
        # does not quote it (every message of an answer is in one language).
        return (fallback or code) if language == "en" else "入力値が正しくありません。"
    template = templates[0] if language == "ja" else templates[1]
    try:
        return template.format(**(context or {}))
    except (KeyError, IndexError, ValueError):
        return template


def title(status: int, language: Language) -> str:
    """The short, status-wide title of a problem."""
    ja, en = TITLES.get(status, ("エラー", "Error"))
    return ja if language == "ja" else en


# Labels of enumerated values, shown beside each value where an answer lists the values allowed
# (value `a`: its name). Packages register theirs (`register_labels`).
VALUE_LABELS: dict[str, tuple[str, str]] = {}


def register_labels(labels: dict[str, tuple[str, str]]) -> None:
    """Add labels of enumerated values: value -> (Japanese, English)."""
    VALUE_LABELS.update(labels)


def labelled_values(values: Iterable[str]) -> str:
    """Enumerated values for an English description, each with its Japanese label quoted as the
    screens show it: "`value` (`ラベル`), ..." (a value without a label: "`value`")."""
    return ", ".join(
        f"`{value}` (`{VALUE_LABELS[value][0]}`)" if value in VALUE_LABELS else f"`{value}`"
        for value in values
    )


def listed_values(values: list[str], language: Language) -> str:
    """Allowed values as a list in one language: `a：名前、…` or `a (name), …`."""
    shown = []
    for value in values:
        labels = VALUE_LABELS.get(value)
        if labels is None:
            shown.append(value)
        elif language == "ja":
            shown.append(f"{value}：{labels[0]}")
        else:
            shown.append(f"{value} ({labels[1]})")
    return ("、" if language == "ja" else ", ").join(shown)
