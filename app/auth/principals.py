"""Who is calling: an operator, a user of an organization, or a linked system."""

from dataclasses import dataclass
from enum import StrEnum

from app.journal.audit_trail import Actor
from app.models.user import Role

__all__ = ["ORGANIZATION_ROLES", "STAFF_ROLES", "Principal", "PrincipalKind", "Role"]

# The roles within an organization (every role but the association's operators).
ORGANIZATION_ROLES: tuple[Role, ...] = tuple(role for role in Role if role is not Role.OPERATOR)
STAFF_ROLES = frozenset({Role.STAFF_SUBMITTER, Role.STAFF_PREPARER})


class PrincipalKind(StrEnum):
    """How the caller authenticated."""

    OPERATOR = "operator"
    USER = "user"
    LINKED_SYSTEM = "linked_system"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, re-checked against the database on every request."""

    kind: PrincipalKind
    subject: str  # "user:<id>" or "key:<id>": the token subject and idempotency scope
    organization_id: int | None
    role: Role | None  # None for a linked system
    location_id: int | None = None
    location_code: str | None = None
    user_id: int | None = None
    login_id: str | None = None
    api_key_id: int | None = None
    password_change_required: bool = False

    @property
    def is_operator(self) -> bool:
        """True for the association's operators."""
        return self.kind is PrincipalKind.OPERATOR

    @property
    def actor(self) -> Actor:
        """How this principal appears in audit events."""
        if self.kind is PrincipalKind.LINKED_SYSTEM:
            return Actor(self.kind.value, f"key:{self.api_key_id}")
        return Actor(self.kind.value, self.login_id)
