"""All SQL about refresh tokens."""

from datetime import datetime

from sqlalchemy import select, update

from app.core.repository import Repository
from app.models import RefreshToken


class RefreshTokenRepository(Repository[RefreshToken]):
    """Refresh tokens, found by the digest of the token."""

    model = RefreshToken

    async def by_digest(self, token_digest: str) -> RefreshToken | None:
        """The stored token with this digest, locked against a concurrent rotation."""
        return await self.one_or_none(
            select(RefreshToken).where(RefreshToken.token_digest == token_digest).with_for_update()
        )

    async def mark_used(self, token_id: int, now: datetime) -> bool:
        """Mark a token used, only if nobody else did first; True when this call won."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_family(self, family: str, now: datetime) -> None:
        """Revoke every token of one login (logout, or reuse of a rotated token)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
