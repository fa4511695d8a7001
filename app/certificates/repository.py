"""All SQL about requester certificates."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.certificates.schemas import Certificate as CertificateSchema
from app.certificates.schemas import CertificateStatus
from app.db.prepared import PreparedSelect
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.models import Certificate, Organization, ServiceInstance

# What a certificate's public form is made of (app/certificates/service.py `to_schema`): the
# Certificate schema's fields that are attributes of the row (its organization's name among them),
# in their order; never its sealed file or password. What its read and its lists select.
SHOWN = tuple(
    getattr(Certificate, name)
    for name in CertificateSchema.model_fields
    if name in Certificate.__mapper__.attrs
)
SHOWN_COLUMNS = tuple(column.key for column in SHOWN)
SORTABLE = {
    "created_at": Certificate.created_at,
    "not_after": Certificate.not_after,
    "subject_name": Certificate.subject_name,
}
CURRENT = Certificate.replaced_at.is_(None)


@dataclass(frozen=True, slots=True)
class Sealed:
    """A certificate's sealed file and password, and the key that sealed them."""

    id: str
    organization_id: int
    key_id: str
    file: bytes
    password: bytes


def _select_sealed() -> Select[tuple[str, int, str, bytes, bytes]]:
    """The columns of `Sealed`, in its order."""
    return select(
        Certificate.id,
        Certificate.organization_id,
        Certificate.key_id,
        Certificate.sealed_file,
        Certificate.sealed_password,
    )


def status_condition(status: CertificateStatus, now: Any) -> ColumnElement[bool]:
    """The rows that have this status now (SPEC §2.6: computed when read); `now` a value or a
    bound parameter."""
    if status is CertificateStatus.REPLACED:
        return Certificate.replaced_at.is_not(None)
    if status is CertificateStatus.EXPIRED:
        return and_(CURRENT, Certificate.not_after < now)
    return and_(CURRENT, Certificate.not_after >= now)


class CertificateRepository(Repository[Certificate]):
    """Certificates; their sealed columns only through `sealed` and `reseal`."""

    model = Certificate

    async def add(self, obj: Certificate) -> Certificate:
        """Insert and flush, then read the organization's name the new row answers with."""
        await super().add(obj)
        await self.session.refresh(obj, attribute_names=["organization_name"])
        return obj

    async def lock_organization(self, organization_id: int) -> None:
        """Serialize registrations of one organization: each sees the one before it as current."""
        await self.session.execute(
            select(Organization.id).where(Organization.id == organization_id).with_for_update()
        )

    async def current(self, organization_id: int) -> Certificate | None:
        """The organization's certificate in use (not replaced), if any."""
        return await self.one_or_none(
            select(Certificate).where(Certificate.organization_id == organization_id, CURRENT)
        )

    async def of_organization(self, organization_id: int, certificate_id: str) -> Certificate | None:
        """One certificate of the organization."""
        return await self.one_or_none(
            select(Certificate).where(
                Certificate.organization_id == organization_id, Certificate.id == certificate_id
            )
        )

    async def shown(self, organization_id: int, certificate_id: str) -> dict[str, Any] | None:
        """One certificate of the organization: its `SHOWN_COLUMNS` by name (a bound select built
        once, app/db/prepared.py), or None."""
        row = await _SHOWN_SELECT.first(
            self.session, {"organization_id": organization_id, "certificate_id": certificate_id}
        )
        return None if row is None else dict(zip(SHOWN_COLUMNS, row, strict=True))

    async def search(
        self,
        *,
        organization_id: int | None,
        statuses: Sequence[CertificateStatus],
        expires_within_days: int | None,
        now: datetime,
        page: PageRequest,
        default_sort: str,
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Certificates of one organization (or all), by status and nearness of expiry, as the
        single read selects them (`SHOWN_COLUMNS`): (column names, rows, total)."""
        listed = _search_select(
            organization_id is not None,
            tuple(sorted(set(statuses))),
            expires_within_days is not None,
            sort=page.sort_key(SORTABLE, default_sort),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {
            "organization_id": organization_id,
            "now": now,
            # days_until_expiry = floor((not_after - now) / 1 day) <= N  <=>  not_after < now + N+1 days
            "expires_before": now + timedelta(days=(expires_within_days or 0) + 1),
        }
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total

    async def sealed(self, certificate_id: str) -> Sealed | None:
        """The sealed file and password of a certificate."""
        row = (
            await self.session.execute(_select_sealed().where(Certificate.id == certificate_id))
        ).one_or_none()
        return Sealed(*row) if row is not None else None

    async def sealed_under_other_keys(self, key_id: str, after_id: str, limit: int) -> list[Sealed]:
        """The next certificates (by id) sealed under another key than `key_id`."""
        rows = await self.session.execute(
            _select_sealed()
            .where(Certificate.key_id != key_id, Certificate.id > after_id)
            .order_by(Certificate.id)
            .limit(limit)
        )
        return [Sealed(*row) for row in rows]

    async def reseal(self, before: Sealed, key_id: str, file: bytes, password: bytes) -> bool:
        """Replace the sealed values if the row is still sealed under `before`'s key (compare and
        set: a row deleted or rotated meanwhile is left alone); the version stays, since
        re-encryption changes nothing a client sees."""
        result = await self.session.execute(
            update(Certificate)
            .where(Certificate.id == before.id, Certificate.key_id == before.key_id)
            .values(key_id=key_id, sealed_file=file, sealed_password=password)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count_under_other_keys(self, key_id: str) -> int:
        """How many certificates are sealed under another key than `key_id`."""
        count = select(func.count()).select_from(Certificate).where(Certificate.key_id != key_id)
        return int(await self.session.scalar(count) or 0)


@lru_cache(maxsize=256)
def _search_select(
    of_organization: bool,
    statuses: tuple[CertificateStatus, ...],
    expiring: bool,
    *,
    sort: str,
    deep: bool,
) -> ListSelect:
    """The certificate search of one shape: whether one organization's, which statuses, whether
    by nearness of expiry; the values (`organization_id`, `now`, `expires_before`) bound."""
    now = bindparam("now", type_=Certificate.not_after.type)
    conditions: list[ColumnElement[bool]] = []
    if of_organization:
        conditions.append(Certificate.organization_id == bindparam("organization_id"))
    if statuses:
        conditions.append(or_(*(status_condition(status, now) for status in statuses)))
    if expiring:
        conditions += [
            CURRENT,
            Certificate.not_after < bindparam("expires_before", type_=Certificate.not_after.type),
        ]
    statement = select(*SHOWN).where(*conditions)
    return CertificateRepository.listed(
        statement, order_by=ordering(SORTABLE, sort, Certificate.id), deep=deep
    )


_SHOWN_SELECT = PreparedSelect(
    select(*SHOWN).where(
        Certificate.organization_id == bindparam("organization_id"),
        Certificate.id == bindparam("certificate_id"),
    )
)


class InstanceRepository:
    """The running servers' announcements of the certificate keys they open."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def announce(self, instance_id: str, key_ids: list[str], now: datetime) -> None:
        """Write (or refresh) this server's row."""
        await self.session.merge(
            ServiceInstance(id=instance_id, certificate_key_ids=" ".join(key_ids), seen_at=now)
        )

    async def withdraw(self, instance_id: str) -> None:
        """This server stops: its row goes."""
        await self.session.execute(delete(ServiceInstance).where(ServiceInstance.id == instance_id))

    async def lacking(self, key_id: str, seen_since: datetime) -> list[ServiceInstance]:
        """Servers heard from since `seen_since` that do not open `key_id`."""
        rows = await self.session.scalars(
            select(ServiceInstance).where(ServiceInstance.seen_at >= seen_since)
        )
        return [row for row in rows if key_id not in row.certificate_key_ids.split()]
