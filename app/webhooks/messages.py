"""The messages of webhook endpoints (SPEC §5.7), registered with the service's message registry."""

from app.text.messages import register_messages

REASONS = {
    "too_long": ("2,000文字を超えています", "it is longer than 2,000 characters"),
    "malformed": ("URLとして読めません", "it is not a URL"),
    "scheme": ("https://で始まっていません", "it does not begin with https://"),
    "userinfo": (
        "ユーザー情報（user:password@）を含んでいます",
        "it carries user information (user:password@)",
    ),
    "host_not_allowed": ("送信を許可されたホストではありません", "its host is not among the hosts allowed"),
    "unresolvable": ("ホスト名を解決できません", "its host name does not resolve"),
    "private_address": (
        "ホストが公開されていないアドレス（ループバック、プライベート、リンクローカル等）に解決されます",
        "its host resolves to an address that is not public (loopback, private, link-local...)",
    ),
}

register_messages(
    {
        "webhook_url_not_allowed": (
            "このURLには送信できません（{reason_ja}）。公開アドレスのhttps:// URLを指定してください。",
            "Messages cannot be sent to this URL: {reason_en}. Give an https:// URL of a public address.",
        ),
        "webhook_event_type_unknown": (
            "イベント種別 {event_type} はありません。次のいずれかを指定してください: {allowed}",
            "There is no event type {event_type}. Use any of: {allowed}",
        ),
        "webhook_endpoint_limit_reached": (
            "Webhookエンドポイントは1組織あたり{limit}件までです。不要なものを削除してから登録してください。",
            "An organization has at most {limit} webhook endpoints: delete one you no longer need first.",
        ),
        "webhook_secret_unreadable": (
            "このエンドポイントの署名用シークレットを設定済みの鍵で復号できません。rotate-secretで新しいシークレットを発行してください。",
            "The signing secret of this endpoint does not open under the configured keys: issue a new one "
            "with rotate-secret.",
        ),
    }
)


def reason_context(reason: str) -> dict[str, str]:
    """The message context of a refused URL: why, in both languages."""
    ja, en = REASONS.get(reason, (reason, reason))
    return {"reason": reason, "reason_ja": ja, "reason_en": en}
