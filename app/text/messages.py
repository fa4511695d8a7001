"""Every human message of the service, by stable code, in Japanese (default) and English."""

from typing import Any, Literal

Language = Literal["ja", "en"]

# code: (Japanese, English). Templates are str.format()ed with the error's context.
MESSAGES: dict[str, tuple[str, str]] = {
    # HTTP and protocol
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
    "malformed_multipart": (
        "リクエスト本文を multipart/form-data として読み取れません。各パートに Content-Disposition ヘッダー（name 付き）を付け、境界文字列で区切って送ってください。",
        "The request body cannot be read as multipart/form-data: each part needs a Content-Disposition "
        "header with a name, between boundary lines.",
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
    "token_expired": (
        "アクセストークンの有効期限が切れています。",
        "The access token has expired.",
    ),
    "forbidden": ("この操作を行う権限がありません。", "You are not allowed to do this."),
    "password_change_required": (
        "パスワードの変更が必要です。パスワードを変更してから操作してください。",
        "You must change your password before doing anything else.",
    ),
    "conflict": (
        "他のデータと競合するため処理できません。",
        "The request conflicts with existing data.",
    ),
    # The change feed (SPEC §5.5)
    "gone": ("このリソースは既に存在しません。", "This resource no longer exists."),
    "invalid_cursor": (
        "カーソルが正しくありません。この組織の変更履歴が返したcursorまたはnext_cursorをそのまま指定してください。",
        "The cursor is not valid here: send a cursor or next_cursor exactly as this organization's change feed answered it.",
    ),
    "cursor_expired": (
        "カーソルの位置以降の変更履歴は保存期間（{days}日）を過ぎて削除されました。afterを指定せずに新しいカーソルを取得し、一覧を取得し直してから追跡してください。",
        "The changes after this cursor are past the retention period ({days} days) and were removed: "
        "take a new cursor (no `after`), list again, then follow.",
    ),
    "location_code_taken": (
        "依頼人拠点コード {code} は既に使用されています。",
        "The location code {code} is already used in this organization.",
    ),
    "location_in_use": (
        "この拠点には{count}人のユーザーが所属しているため削除できません。先にユーザーの拠点を変更してください。",
        "{count} users are assigned to this location; move them before deleting it.",
    ),
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
    "location_out_of_scope": (
        "担当する拠点以外は指定できません。",
        "You can only assign your own location.",
    ),
    "admin_has_no_location": (
        "管理者には拠点を指定できません（全拠点が対象です）。",
        "Admins have no location: they cover all locations.",
    ),
    "role_not_allowed": (
        "この権限のユーザーを作成・変更する権限がありません。",
        "You may not give or manage this role.",
    ),
    "duplicate_login_id": (
        "ログインIDが重複しています。",
        "The same login ID is given twice.",
    ),
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
    "idempotency_key_reused": (
        "同じ Idempotency-Key が異なる内容のリクエストで使用されています。",
        "This Idempotency-Key was already used with a different request.",
    ),
    "idempotency_in_progress": (
        "同じ Idempotency-Key のリクエストを処理中です。しばらくしてから再試行してください。",
        "A request with this Idempotency-Key is still being processed. Retry later.",
    ),
    "invalid_idempotency_key": (
        "Idempotency-Key は1〜255文字の表示可能なASCII文字で指定してください。",
        "The Idempotency-Key must be 1 to 255 printable ASCII characters.",
    ),
    "rate_limited": (
        "試行回数が多すぎます。{retry_after}秒後に再試行してください。",
        "Too many attempts. Retry after {retry_after} seconds.",
    ),
    "service_unavailable": (
        "データベースに接続できません。しばらくしてから再試行してください。",
        "The database is unavailable. Retry shortly.",
    ),
    "server_busy": (
        "パスワードの確認が混み合っています。{retry_after}秒後に再試行してください。",
        "Too many password checks at once. Retry after {retry_after} seconds.",
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
    # Authentication
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
    "invalid_request": (
        "必須パラメータ {parameter} が指定されていません。",
        "The parameter {parameter} is required.",
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
    "invalid_location_code": (
        "半角英数字（0-9、A-Z、a-z）で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be half-width letters and digits (0-9, A-Z, a-z) only; see invalid_characters.",
    ),
    "not_half_width_digits": (
        "半角数字（0-9）で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be half-width digits (0-9) only; see invalid_characters.",
    ),
    "invalid_login_id": (
        "半角英数字と「.」「_」「-」で入力してください。使用できない文字は invalid_characters に示します。",
        "Must be half-width letters, digits, '.', '_' and '-' only; see invalid_characters.",
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
    # Passwords (SPEC §3.4)
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
    "password_unchanged": (
        "新しいパスワードは現在のパスワードと異なるものを指定してください。",
        "The new password must differ from the current one.",
    ),
    # Requester certificates (SPEC §2.6)
    "multipart_required": (
        "multipart/form-data で file（証明書ファイル）と password を送信してください。",
        "Send multipart/form-data with the fields file (the certificate file) and password.",
    ),
    "certificate_too_large": (
        "証明書ファイルが大きすぎます（上限 {limit} バイト）。",
        "The certificate file is too large (limit {limit} bytes).",
    ),
    "certificate_unreadable": (
        "PKCS#12形式（.p12/.pfx）の証明書ファイルとして読み込めません。ファイルが壊れているか、"
        "PEM（-----BEGIN で始まるテキスト）など別の形式です。",
        "The file cannot be read as a PKCS#12 (.p12/.pfx) certificate file: it is damaged, in another "
        "format such as PEM (text beginning with -----BEGIN), or too costly to open.",
    ),
    "certificate_password_incorrect": (
        "パスワードが正しくないため、証明書ファイルを開けません。",
        "The password does not open the certificate file.",
    ),
    "certificate_key_missing": (
        "証明書ファイルに秘密鍵が含まれていません。秘密鍵を含めて書き出したファイルを指定してください。",
        "The file holds no private key. Export the certificate together with its private key.",
    ),
    "certificate_key_mismatch": (
        "証明書ファイルに、秘密鍵に対応する証明書が含まれていません。",
        "None of the certificates in the file belongs to its private key.",
    ),
    "certificate_serial_number_too_long": (
        "証明書のシリアル番号が {limit} バイトを超えています（RFC 5280 では20バイトまで）。AINASの署名には使用できない証明書です。",
        "The certificate's serial number is longer than {limit} bytes (RFC 5280 allows 20): it is not a "
        "certificate AINAS can sign with.",
    ),
    "certificate_expired": (
        "証明書の有効期間は {not_after} に終了しています。更新後の証明書を登録してください。",
        "The certificate expired at {not_after}. Register the renewed certificate.",
    ),
    "certificate_not_yet_valid": (
        "証明書の有効期間は {not_before} からです。有効期間が始まってから登録してください。",
        "The certificate is valid only from {not_before}. Register it once it is valid.",
    ),
    "certificate_key_too_weak": (
        "鍵の強度が不足しています（{key_type}）。RSAは2048ビット以上、楕円曲線はP-256以上が必要です。",
        "The key is too weak ({key_type}): RSA needs at least 2048 bits, elliptic curves P-256 or stronger.",
    ),
    "certificate_key_unsupported": (
        "この種類の鍵（{key_type}）には対応していません。RSA（2048ビット以上）または楕円曲線（P-256以上）の鍵を使用してください。",
        "Keys of this kind ({key_type}) are not supported: use RSA (2048 bits or more) or an elliptic "
        "curve (P-256 or stronger).",
    ),
    "certificate_not_for_signing": (
        "この証明書は署名に使用できません（鍵用途に digitalSignature がありません）。",
        "The certificate may not be used for signing (its keyUsage lacks digitalSignature).",
    ),
    "certificate_already_registered": (
        "この証明書は既に登録されており、使用中です。",
        "This certificate is already registered and active.",
    ),
    "certificate_secret_unreadable": (
        "保存されている証明書ファイルを復号できません（設定された鍵で開けないか、別の証明書のデータです）。"
        "証明書を登録し直してください。",
        "The stored file of this certificate cannot be decrypted with the configured keys (it belongs to "
        "another certificate, is damaged, or was sealed under a key no longer configured). Register the "
        "certificate again.",
    ),
    "certificate_check_busy": (
        "証明書ファイルの確認が混み合っています。{retry_after}秒後に再試行してください。",
        "Too many certificate files are being checked at once. Retry after {retry_after} seconds.",
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
# (role `admin`: 管理者). Domains register theirs (`register_labels`).
VALUE_LABELS: dict[str, tuple[str, str]] = {}


def register_labels(labels: dict[str, tuple[str, str]]) -> None:
    """Add labels of enumerated values: value -> (Japanese, English)."""
    VALUE_LABELS.update(labels)


def listed_values(values: list[str], language: Language) -> str:
    """Allowed values as a list in one language: `admin：管理者、…` or `admin (administrator), …`."""
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
