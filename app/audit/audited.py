"""Audited changes of versioned rows: one way to update or delete with If-Match and an audit event."""

from collections.abc import Callable
from typing import Any, TypeVar

from app.audit.service import Actor, AuditTrail, diff
from app.core.etag import check_version
from app.core.orm import Base
from app.core.repository import Repository

ModelT = TypeVar("ModelT", bound=Base)


async def update_audited(
    repository: Repository[ModelT],
    obj: ModelT,
    values: dict[str, Any],
    *,
    expected_versions: set[int] | None,
    audit: AuditTrail,
    actor: Actor,
    action: str,
    resource: tuple[str, str],
    organization_id: int | None,
    shown_changes: dict[str, list[Any]] | None = None,
    snapshot: Callable[[ModelT], dict[str, Any]],
) -> ModelT:
    """Check If-Match, apply the values that differ, and record them; an unchanged row stays as it is.

    `shown_changes` replaces the computed `{field: [before, after]}` where the stored form differs
    from the public one (a location id stored, its code shown); `snapshot` gives the row's public
    form after the change (the change feed's data).
    """
    check_version(expected_versions, obj.version)  # type: ignore[attr-defined]
    before = {name: getattr(obj, name) for name in values}
    changed = {name: value for name, value in values.items() if before[name] != value}
    if not changed:
        return obj
    await repository.update(obj, {**changed, "updated_at": audit.clock.now()})
    changes = shown_changes if shown_changes is not None else diff(before, changed)
    await audit.record_change(
        actor, action, resource[0], resource[1], organization_id, changes, snapshot(obj)
    )
    return obj


async def delete_audited(
    repository: Repository[ModelT],
    obj: ModelT,
    *,
    expected_versions: set[int] | None,
    audit: AuditTrail,
    actor: Actor,
    action: str,
    resource: tuple[str, str],
    organization_id: int | None,
    snapshot: dict[str, Any],
) -> None:
    """Check If-Match, delete, and record what was deleted."""
    check_version(expected_versions, obj.version)  # type: ignore[attr-defined]
    await repository.delete(obj)
    await audit.record_change(
        actor,
        action,
        resource[0],
        resource[1],
        organization_id,
        {name: [value, None] for name, value in snapshot.items()},
        None,
    )
