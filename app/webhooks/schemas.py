"""Shapes of webhook endpoints and their deliveries (SPEC §5.7). An endpoint's secret appears in
the answers to its creation and to `rotate-secret` only (`WebhookEndpointWithSecret`)."""

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.http.fields import CreatedAt, UpdatedAt, Version
from app.text.types import BlankIsNull, Label
from app.webhooks.guard import MAX_URL_LENGTH

MAX_EVENT_TYPES = 50
Url = Annotated[
    str, Field(min_length=1, max_length=MAX_URL_LENGTH, title="送信先URL", description="`https://` only")
]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        max_length=MAX_EVENT_TYPES,
        title="送信するイベント",
        description="Change feed actions (SPEC §5.5) to send, e.g. `location.created`; empty: all of them",
    ),
]

_EXAMPLE: dict[str, JsonValue] = {
    "id": "9B2D4C8FA1E3B5D7092C4E6F6F1C0A7E",
    "url": "https://dealer.example.jp/ainas/webhook",
    "description": "販売管理システム",
    "event_types": ["location.created", "location.updated", "location.deleted"],
    "enabled": True,
    "disabled_reason": None,
    "created_at": "2026-04-01T09:00:00Z",
    "updated_at": "2026-04-01T09:00:00Z",
    "version": 1,
}


class WebhookEndpoint(BaseModel):
    """A webhook endpoint; never its secret."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})

    id: str = Field(title="エンドポイントID", description="32 upper-case hexadecimal characters")
    url: str = Field(title="送信先URL")
    description: str | None = Field(title="説明", description="Free text")
    event_types: list[str] = Field(
        title="送信するイベント", description="Feed actions sent; empty: all of them"
    )
    enabled: bool = Field(title="有効", description="Whether messages are sent")
    disabled_reason: str | None = Field(
        title="無効化の理由",
        description="Why the service disabled it: `gone` (the endpoint answered 410) or `failing` "
        "(every message failed for 5 days); null when enabled or disabled by a person",
    )
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version


class WebhookEndpointWithSecret(WebhookEndpoint):
    """An endpoint and its signing secret, shown this once."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]}
    )

    secret: str = Field(
        title="シークレット", description="`whsec_` and the base64 of 32 random bytes: shown once, keep it"
    )


class WebhookEndpointCreate(BaseModel):
    """Register an endpoint."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"url": "https://dealer.example.jp/ainas/webhook", "description": "販売管理システム"}
            ]
        },
    )

    url: Url
    description: Annotated[Label | None, BlankIsNull] = Field(
        default=None, title="説明", description="Free text, optional"
    )
    event_types: EventTypes = Field(default_factory=list)


class WebhookEndpointUpdate(BaseModel):
    """Change an endpoint. `enabled: true` enables it again: delivery resumes where it stopped."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": True}]})
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    url: Url = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    description: Annotated[Label | None, BlankIsNull] = Field(
        default=None, title="説明", description='`""` or null removes it'
    )
    event_types: EventTypes = None  # type: ignore[assignment]
    enabled: bool = Field(default=None, title="有効", description="`true` enables it again")  # type: ignore[assignment]


class WebhookRecover(BaseModel):
    """Resend every message after a feed cursor."""

    model_config = ConfigDict(extra="forbid")

    after: str = Field(
        min_length=1,
        max_length=64,
        title="カーソル",
        description="A cursor of this organization's change feed (a message's `data.cursor`, or the feed's)",
    )


class WebhookDelivery(BaseModel):
    """One attempt of a message, as the service sent it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "42",
                    "webhook_id": "msg_9B2D4C8FA1E3B5D7092C4E6F6F1C0A7E_17",
                    "type": "location.created",
                    "cursor": "AQAAAAEAAAAAAAAAEdGxO6Xh0h1mRk2A",
                    "attempt": 1,
                    "status_code": 200,
                    "error": None,
                    "duration_ms": 84,
                    "attempted_at": "2026-04-01T09:00:01Z",
                    "next_attempt_at": None,
                    "response_body": "ok",
                }
            ]
        }
    )

    id: str = Field(title="試行ID")
    webhook_id: str = Field(
        title="メッセージID",
        description="The message's `webhook-id` header: the same for each of its attempts",
    )
    type: str = Field(title="種類", description="The feed action, or `webhook.test`")
    cursor: str | None = Field(
        title="カーソル", description="The feed entry's cursor; null for a test message"
    )
    attempt: int = Field(title="試行回数", description="1 for the first attempt of the message")
    status_code: int | None = Field(
        title="ステータスコード", description="The answer's status; null when none came"
    )
    error: str | None = Field(
        title="エラー", description="Why the attempt failed without an answer, or was not made"
    )
    duration_ms: int = Field(title="所要時間（ミリ秒）", description="From sending to the end of the answer")
    attempted_at: datetime = Field(title="試行日時", description="When the attempt started")
    next_attempt_at: datetime | None = Field(
        title="次回の試行日時", description="When the message is tried again; null: not again"
    )
    response_body: str | None = Field(
        title="応答本文", description="At most the first 1 KiB of the answer's body"
    )
