"""The messages of requester certificates (SPEC §2.6), registered with the kernel on import."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
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

register_messages(MESSAGES)
