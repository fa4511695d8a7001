"""SPEC §4 in one place: what each kind of caller may do, and the rules about whom it may do it to."""

from dataclasses import dataclass
from enum import StrEnum

from app.auth.principals import STAFF_ROLES, Principal, PrincipalKind, Role


class Permission(StrEnum):
    """An action of the §4 table."""

    ORGANIZATION_CREATE = "organization:create"
    ORGANIZATION_READ = "organization:read"
    ORGANIZATION_UPDATE = "organization:update"
    LOCATION_READ = "location:read"
    LOCATION_WRITE = "location:write"
    USER_READ = "user:read"
    USER_WRITE = "user:write"
    USER_PASSWORD_RESET = "user:password-reset"
    API_KEY_MANAGE = "api-key:manage"
    API_PASSWORD_SET = "api-password:set"
    AUDIT_READ = "audit:read"
    CHANGE_READ = "change:read"
    # 各種ダウンロード (§5.6): CSV downloads and uploads
    LOCATION_EXPORT = "location:export"
    USER_EXPORT = "user:export"
    LOCATION_IMPORT = "location:import"
    USER_IMPORT = "user:import"
    CERTIFICATE_MANAGE = "certificate:manage"  # register, list, read, delete an organization's
    CERTIFICATE_LIST_ALL = "certificate:list-all"  # every organization's (operators)
    WEBHOOK_MANAGE = "webhook:manage"  # an organization's webhook endpoints (§5.7)


P = Permission
_EVERYONE_READS = {P.ORGANIZATION_READ, P.LOCATION_READ, P.LOCATION_EXPORT}
# The key "linked_system" stands for a linked system, which has no role.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(Permission),
    Role.ADMIN: frozenset(
        _EVERYONE_READS
        | {
            P.ORGANIZATION_UPDATE,
            P.LOCATION_WRITE,
            P.USER_READ,
            P.USER_WRITE,
            P.USER_PASSWORD_RESET,
            P.API_KEY_MANAGE,
            P.API_PASSWORD_SET,
            P.AUDIT_READ,
            P.CHANGE_READ,
            P.USER_EXPORT,
            P.LOCATION_IMPORT,
            P.USER_IMPORT,
            P.CERTIFICATE_MANAGE,
            P.WEBHOOK_MANAGE,
        }
    ),
    # Which rows of a users upload a location admin may change is decided row by row (may_manage_user).
    Role.LOCATION_ADMIN: frozenset(
        _EVERYONE_READS | {P.USER_READ, P.USER_WRITE, P.USER_PASSWORD_RESET, P.USER_EXPORT, P.USER_IMPORT}
    ),
    Role.STAFF_SUBMITTER: frozenset(_EVERYONE_READS | {P.USER_READ}),
    Role.STAFF_PREPARER: frozenset(_EVERYONE_READS | {P.USER_READ}),
    "linked_system": frozenset(_EVERYONE_READS | {P.API_PASSWORD_SET, P.CHANGE_READ}),
}

# Which resources' changes a caller of the change feed sees (§4, §5.5); None: all of them.
_LINKED_SYSTEM_CHANGES = frozenset({"organization", "location"})


def has_permission(principal: Principal, permission: Permission) -> bool:
    """Whether this kind of caller may ever perform the action."""
    key = "linked_system" if principal.kind is PrincipalKind.LINKED_SYSTEM else principal.role
    return key is not None and permission in ROLE_PERMISSIONS[key]


def visible_changes(principal: Principal) -> frozenset[str] | None:
    """Resource types of the change feed a caller sees: linked systems organization and location
    changes only; operators and admins (the others may not read the feed) everything."""
    return _LINKED_SYSTEM_CHANGES if principal.kind is PrincipalKind.LINKED_SYSTEM else None


def webhook_changes() -> frozenset[str] | None:
    """Resource types of the change feed an organization's webhook endpoints are sent: what the
    organization's admin may read on the feed (§5.7); None: all of them."""
    return None


def in_scope(principal: Principal, location_id: int | None) -> bool:
    """Whether a location (None: the organization as a whole) is within the principal's scope.

    A principal assigned to a location reaches that location only; one without a location
    reaches its whole organization.
    """
    return principal.location_id is None or principal.location_id == location_id


@dataclass(frozen=True, slots=True)
class UserVisibility:
    """Which users of an organization a caller sees: itself only, one location's, or all."""

    self_id: int | None = None
    location_id: int | None = None

    def sees(self, user_id: int, location_id: int | None) -> bool:
        """Whether a user of the organization (its id and location) is among those seen."""
        return (self.self_id is None or self.self_id == user_id) and (
            self.location_id is None or self.location_id == location_id
        )


def user_visibility(principal: Principal) -> UserVisibility:
    """Staff see only themselves; a location admin the users of its location; others everyone."""
    if principal.role in STAFF_ROLES:
        return UserVisibility(self_id=principal.user_id)
    return UserVisibility(location_id=principal.location_id)


def may_manage_user(principal: Principal, role: Role, location_id: int | None) -> bool:
    """Whether the principal may create, change or delete a user with this role and location.

    Operators manage everyone; admins everyone but admins (adding or removing an admin needs a
    paper application to the association); location admins staff users within their scope.
    """
    if principal.is_operator:
        return True
    if principal.role is Role.ADMIN:
        return role is not Role.ADMIN
    if principal.role is Role.LOCATION_ADMIN:
        return role in STAFF_ROLES and in_scope(principal, location_id)
    return False


def may_rename_user(principal: Principal, role: Role, location_id: int | None) -> bool:
    """Renaming is allowed where managing is, and admins may also rename admins (§4)."""
    return may_manage_user(principal, role, location_id) or (
        principal.role is Role.ADMIN and role is Role.ADMIN
    )


def may_reset_password(principal: Principal, user_id: int, role: Role, location_id: int | None) -> bool:
    """Operators reset anyone; admins anyone of their organization but themselves (§4)."""
    if principal.user_id == user_id:
        return False
    if principal.is_operator or principal.role is Role.ADMIN:
        return True
    return may_manage_user(principal, role, location_id)
