"""Every table of the service; importing this package registers them all on `Base.metadata`."""

from app.db.orm import Base
from app.models.api_key import ApiKey
from app.models.audit_event import AuditEvent
from app.models.certificate import Certificate
from app.models.change import Change, ChangeCounter
from app.models.idempotency_record import IdempotencyRecord
from app.models.location import Location
from app.models.organization import Organization
from app.models.refresh_token import RefreshToken
from app.models.service_instance import ServiceInstance
from app.models.user import User
from app.models.webhook_delivery import WebhookDelivery
from app.models.webhook_endpoint import WebhookEndpoint
from app.models.webhook_progress import WebhookProgress

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Certificate",
    "Change",
    "ChangeCounter",
    "IdempotencyRecord",
    "Location",
    "Organization",
    "RefreshToken",
    "ServiceInstance",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookProgress",
]
