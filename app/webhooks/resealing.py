"""Webhook endpoints' signing secrets in `ainas rotate-certificate-key` (app/certificates/rotation.py):
sealed under the same keys as certificates, resealed by the same command (`app/operators.py` names
both kinds)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.security.sealing import KeyRing
from app.webhooks.repository import SealedEndpoint, WebhookRepository
from app.webhooks.service import RESOURCE, associated_data


class WebhookSecrets:
    """Endpoints: the secret, and for a day after `rotate-secret` the previous one, each bound to its
    organization, endpoint and purpose."""

    kind = RESOURCE
    label = "webhook endpoint secret(s)"
    one = "Webhook endpoint"
    remedy = "not delivered to until its secret is rotated: POST .../rotate-secret"

    async def under_other_keys(
        self, session: AsyncSession, key_id: str, after_id: str, limit: int
    ) -> list[SealedEndpoint]:
        """The next endpoints (by id) whose secrets are sealed under another key."""
        return await WebhookRepository(session).sealed_under_other_keys(key_id, after_id, limit)

    async def reseal(self, session: AsyncSession, keys: KeyRing, row: SealedEndpoint) -> bool:
        """The secrets opened under their key and sealed under the current one."""
        sealed = row.sealed
        secret_aad = associated_data("secret", row.organization_id, row.id)
        secret = keys.seal(keys.open(sealed.key_id, sealed.secret, secret_aad), secret_aad)
        previous = None
        if sealed.previous is not None:
            previous_aad = associated_data("previous", row.organization_id, row.id)
            previous = keys.seal(keys.open(sealed.key_id, sealed.previous, previous_aad), previous_aad)
        return await WebhookRepository(session).reseal(row, keys.current_id, secret, previous)

    async def count_under_other_keys(self, session: AsyncSession, key_id: str) -> int:
        """How many endpoints' secrets are sealed under another key."""
        return await WebhookRepository(session).count_under_other_keys(key_id)


WEBHOOK_SECRETS = WebhookSecrets()
