"""Who is calling: an operator, a user of an organization, or a linked system."""

from dataclasses import dataclass
from enum import StrEnum

from app.journal.audit_trail import Actor


class Role(StrEnum):
    """The roles of people; operators belong to the association, the rest to an organization."""

    OPERATOR = "operator"
    ADMIN = "admin"  # 管理者
    LOCATION_ADMIN = "location_admin"  # 拠点管理者
    STAFF_SUBMITTER = "staff_submitter"  # 担当者（送信可）
    STAFF_PREPARER = "staff_preparer"  # 担当者（送信不可）


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
