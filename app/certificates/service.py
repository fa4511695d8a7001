"""依頼人証明書 (SPEC §2.6): register, list, read, verify and delete requester certificates.

The file is opened in a child process (app/certificates/inspection.py); the rules of a
registration are applied here, in the order SPEC §2.6 lists them, before anything is stored.
The file and its password are stored sealed (app/security/sealing.py) and leave the service
nowhere: not in an answer, an audit event, a log line or an idempotency record.
"""

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends

from app.auth.dependencies import OrganizationScope
from app.auth.organization_ids import format_organization_id
from app.certificates.derivation import affordable
from app.certificates.inspection import (
    KEY_MISMATCH,
    KEY_MISSING,
    PASSWORD_INCORRECT,
    TOO_COSTLY,
    UNREADABLE,
    ChildrenBusy,
    Facts,
    Opened,
    inspect_in_child,
)
from app.certificates.keys import associated_data
from app.certificates.repository import SHOWN_COLUMNS, CertificateRepository
from app.certificates.schemas import (
    MAX_FILE_BYTES,
    Certificate,
    CertificateFilters,
    CertificateStatus,
    CertificateUpload,
    CertificateVerification,
)
from app.config.clock import JAPAN
from app.http.errors import Conflict, FieldError, NotFound, ServiceUnavailable, Unprocessable
from app.http.etag import check_version
from app.http.pagination import Page, PageRequest
from app.journal.audit_trail import Actor
from app.journal.audited import BOOKKEEPING, changed_fields, public_form
from app.journal.context import RequestContext, provide
from app.models import Certificate as CertificateRow
from app.security.sealing import KeyRing, SealedSecretUnreadable, sealing_keys
from app.text.rules import search_form

logger = logging.getLogger("ainas.certificates")

RESOURCE = "certificate"
ONE_DAY = timedelta(days=1)
# Elliptic curves AINAS signs with: P-256 or stronger (SPEC §2.6), by cryptography's curve names.
STRONG_CURVES = {"secp256r1": "P256", "secp384r1": "P384", "secp521r1": "P521"}
# RFC 5280 allows serial numbers of 20 bytes; up to 64 are kept (serial_number is String(128)).
MAX_SERIAL_NUMBER_BYTES = 64
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
# What a refusal of the file names as the field to fix.
_PASSWORD_FIELD = "password"
_FILE_FIELD = "file"
_OPENING_REFUSALS = {
    UNREADABLE: "certificate_unreadable",
    TOO_COSTLY: "certificate_unreadable",
    PASSWORD_INCORRECT: "certificate_password_incorrect",
    KEY_MISSING: "certificate_key_missing",
    KEY_MISMATCH: "certificate_key_mismatch",
}


def status_of(stored: Mapping[str, Any], now: datetime) -> CertificateStatus:
    """active, replaced or expired, as of now (a certificate is valid through its not_after)."""
    if stored["replaced_at"] is not None:
        return CertificateStatus.REPLACED
    if now > stored["not_after"]:
        return CertificateStatus.EXPIRED
    return CertificateStatus.ACTIVE


def days_until(moment: datetime, now: datetime) -> int:
    """Whole days from now until `moment`, rounded down: negative as soon as it has passed."""
    return (moment - now) // ONE_DAY


# Words of a company's legal form, which a certificate's O and the organization's registered name
# may write differently (株式会社ＡＢＣ in one, ＡＢＣ or (株)ＡＢＣ in the other).
_LEGAL_FORMS = tuple(
    search_form(word)
    for word in (
        "株式会社",
        "有限会社",
        "合同会社",
        "合名会社",
        "合資会社",
        "一般社団法人",
        "一般財団法人",
        "公益社団法人",
        "公益財団法人",
        "協同組合",
        "(株)",
        "(有)",
        "(同)",
        "㈱",
        "㈲",
    )
)


def _name_key(name: str) -> str:
    """A company name as compared for a match: NFKC, case-folded, without spaces or legal-form words."""
    key = "".join(search_form(name).split())
    for word in _LEGAL_FORMS:
        key = key.replace(word, "")
    return key


def names_same_company(subject_name: str, organization_name: str) -> bool:
    """Whether a certificate's subject names the organization (one name contains the other)."""
    subject, organization = _name_key(subject_name), _name_key(organization_name)
    return bool(subject and organization) and (subject in organization or organization in subject)


def to_schema(row: CertificateRow | Mapping[str, Any], now: datetime) -> Certificate:
    """The public form of a certificate (a loaded row, or its `SHOWN_COLUMNS` by name, as its
    read and its lists select them): metadata and its status now."""
    stored = row if isinstance(row, Mapping) else {name: getattr(row, name) for name in SHOWN_COLUMNS}
    return Certificate.model_validate(
        {
            **stored,
            "organization_id": format_organization_id(stored["organization_id"]),
            "subject_matches_organization": names_same_company(
                stored["subject_name"], stored["organization_name"]
            ),
            "status": status_of(stored, now),
            "days_until_expiry": days_until(stored["not_after"], now),
        }
    )


# Fields of the public form that change by themselves: not what an event records.
NOT_RECORDED = BOOKKEEPING | {"days_until_expiry", "organization_name", "subject_matches_organization"}


def recorded(certificate: Certificate) -> dict[str, Any]:
    """What the audit trail keeps of a certificate: its public form (its secrets are never in it)."""
    return {name: value for name, value in public_form(certificate).items() if name not in NOT_RECORDED}


def _japan_time(moment: datetime) -> str:
    return moment.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M JST")


def refusal(code: str, field: str = _FILE_FIELD, **context: Any) -> Unprocessable:
    """A refused registration: SPEC §2.6's code, and the field to fix."""
    return Unprocessable(code, context=context, errors=[FieldError(field, code, context)])


# Each refusal of §2.6 as the OpenAPI document shows it (one example each, with example context).
REGISTRATION_REFUSALS = (
    refusal("certificate_too_large", limit=MAX_FILE_BYTES),
    refusal("certificate_unreadable"),
    refusal("certificate_password_incorrect", _PASSWORD_FIELD),
    refusal("certificate_key_missing"),
    refusal("certificate_key_mismatch"),
    refusal("certificate_expired", not_after="2026-03-31 23:59 JST"),
    refusal("certificate_not_yet_valid", not_before="2026-04-01 00:00 JST"),
    refusal("certificate_key_too_weak", key_type="RSA-1024"),
    refusal("certificate_key_unsupported", key_type="Ed25519"),
    refusal("certificate_not_for_signing"),
    refusal("certificate_serial_number_too_long", limit=MAX_SERIAL_NUMBER_BYTES),
)


def key_type_of(facts: Facts) -> tuple[str, str | None]:
    """`RSA-2048`, `EC-P256`...; and the code of the refusal when the key may not sign filings."""
    if facts.key_algorithm == "RSA":
        key_type = f"RSA-{facts.key_bits}"
        return key_type, None if facts.key_bits >= MIN_RSA_BITS else "certificate_key_too_weak"
    if facts.key_algorithm == "EC":
        curve = facts.curve or "unknown"
        if curve in STRONG_CURVES:
            return f"EC-{STRONG_CURVES[curve]}", None
        if facts.key_bits < MIN_EC_BITS:
            return f"EC-{curve}", "certificate_key_too_weak"
        return f"EC-{curve}", "certificate_key_unsupported"
    return facts.key_algorithm, "certificate_key_unsupported"


def check_rules(opened: Opened, now: datetime) -> Facts:
    """The facts of a file that may be registered; the refusal of SPEC §2.6 otherwise."""
    if opened.outcome in _OPENING_REFUSALS:
        field = _PASSWORD_FIELD if opened.outcome == PASSWORD_INCORRECT else _FILE_FIELD
        raise refusal(_OPENING_REFUSALS[opened.outcome], field)
    facts = opened.facts
    assert facts is not None
    if len(facts.serial_number.lstrip("-")) > 2 * MAX_SERIAL_NUMBER_BYTES:
        raise refusal("certificate_serial_number_too_long", limit=MAX_SERIAL_NUMBER_BYTES)
    if now > facts.not_after:
        raise refusal("certificate_expired", not_after=_japan_time(facts.not_after))
    if now < facts.not_before:
        raise refusal("certificate_not_yet_valid", not_before=_japan_time(facts.not_before))
    key_type, weak = key_type_of(facts)
    if weak is not None:
        raise refusal(weak, key_type=key_type)
    if facts.digital_signature is False:
        raise refusal("certificate_not_for_signing")
    return facts


class CertificateService:
    """Certificates of organizations; their files and passwords sealed."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def certificates(self) -> CertificateRepository:
        """The repository of this request's session."""
        return CertificateRepository(self.context.session)

    @property
    def keys(self) -> KeyRing:
        """The configured certificate keys."""
        return sealing_keys(self.context.settings)

    async def open_file(self, data: bytes, password: str, organization_id: int) -> Opened:
        """Open a PKCS#12 file in a child process, bounded in time and in number, also per
        organization (503 when no turn or slot frees); a file that names more key-derivation work
        than real exports do is refused before any child starts."""
        if not affordable(data):
            logger.warning("a certificate file names more key-derivation work than allowed and was refused")
            return Opened(UNREADABLE)
        settings = self.context.settings
        timeout = settings.certificate_parse_timeout_seconds
        try:
            opened = await inspect_in_child(
                data,
                password,
                timeout,
                settings.certificate_parse_concurrency,
                owner=organization_id,
                per_owner=settings.certificate_parse_per_organization,
            )
        except ChildrenBusy:
            retry_after = max(1, int(timeout))
            raise ServiceUnavailable(
                "certificate_check_busy",
                context={"retry_after": retry_after},
                headers={"Retry-After": str(retry_after)},
            ) from None
        if opened.outcome == TOO_COSTLY:
            logger.warning("a certificate file took longer than %s s to open and was refused", timeout)
        return opened

    async def register(self, scope: OrganizationScope, upload: CertificateUpload) -> Certificate:
        """依頼人証明書登録: check the file, replace the current certificate, store this one sealed."""
        data = await upload.file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise refusal("certificate_too_large", limit=MAX_FILE_BYTES)
        opened = await self.open_file(data, upload.password, scope.organization_id)
        facts = check_rules(opened, self.context.clock.now())
        key_type, _ = key_type_of(facts)
        organization_id = scope.organization_id
        actor = scope.principal.actor
        await self.certificates.lock_organization(organization_id)
        now = self.context.clock.now()
        current = await self.certificates.current(organization_id)
        if current is not None:
            if current.fingerprint_sha256 == facts.fingerprint_sha256:
                raise Conflict("certificate_already_registered")
            await self._replace(current, actor, now)
        certificate_id = secrets.token_hex(16).upper()
        keys = self.keys
        row = await self.certificates.add(
            CertificateRow(
                id=certificate_id,
                organization_id=organization_id,
                subject_name=_subject_name(facts),
                representative_name=_representative_name(facts),
                issuer=facts.issuer,
                serial_number=facts.serial_number,
                not_before=facts.not_before,
                not_after=facts.not_after,
                fingerprint_sha256=facts.fingerprint_sha256,
                key_type=key_type,
                created_by=actor.id or actor.kind,
                created_at=now,
                updated_at=now,
                key_id=keys.current_id,
                sealed_file=keys.seal(data, associated_data("file", organization_id, certificate_id)),
                sealed_password=keys.seal(
                    upload.password.encode(), associated_data("password", organization_id, certificate_id)
                ),
            )
        )
        certificate = to_schema(row, now)
        changes: dict[str, Any] = {name: [None, value] for name, value in recorded(certificate).items()}
        if current is not None:
            changes["replaces"] = [None, current.id]
        # Recorded with AuditTrail.record, not record_change: certificates are not change-feed resources.
        await self.context.audit.record(
            actor, "certificate.register", RESOURCE, row.id, organization_id, changes
        )
        return certificate

    async def _replace(self, current: CertificateRow, actor: Actor, now: datetime) -> None:
        """The current certificate steps down for a new one (flushed first: one current at a time)."""
        before = recorded(to_schema(current, now))
        await self.certificates.update(current, {"replaced_at": now, "updated_at": now})
        changes = changed_fields(before, recorded(to_schema(current, now)))
        await self.context.audit.record(
            actor, "certificate.replace", RESOURCE, current.id, current.organization_id, changes
        )

    async def search(self, scope: OrganizationScope, page: PageRequest) -> Page[Certificate]:
        """The organization's certificates, newest first."""
        return await self._page(scope.organization_id, [], None, page, "-created_at")

    async def search_all(self, filters: CertificateFilters, page: PageRequest) -> Page[Certificate]:
        """Every organization's certificates (operators), soonest expiry first."""
        return await self._page(None, filters.status, filters.expires_within_days, page, "not_after")

    async def _page(
        self,
        organization_id: int | None,
        statuses: list[CertificateStatus],
        expires_within_days: int | None,
        page: PageRequest,
        default_sort: str,
    ) -> Page[Certificate]:
        now = self.context.clock.now()
        columns, rows, total = await self.certificates.search(
            organization_id=organization_id,
            statuses=statuses,
            expires_within_days=expires_within_days,
            now=now,
            page=page,
            default_sort=default_sort,
        )
        items = [to_schema(dict(zip(columns, row, strict=True)), now) for row in rows]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @staticmethod
    def _certificate_id(certificate_id: str) -> str:
        """The id as stored; 404 when no certificate could have it."""
        if len(certificate_id) == 32 and certificate_id.isascii() and certificate_id.isalnum():
            return certificate_id.upper()
        raise NotFound()

    async def _row(self, scope: OrganizationScope, certificate_id: str) -> CertificateRow:
        """The row of one certificate of the organization; 404 otherwise (another organization's too)."""
        row = await self.certificates.of_organization(
            scope.organization_id, self._certificate_id(certificate_id)
        )
        if row is None:
            raise NotFound()
        return row

    async def get(self, scope: OrganizationScope, certificate_id: str) -> Certificate:
        """依頼人証明書の参照: from its columns as the lists read theirs (no ORM object); 404
        otherwise (another organization's too)."""
        stored = await self.certificates.shown(scope.organization_id, self._certificate_id(certificate_id))
        if stored is None:
            raise NotFound()
        return to_schema(stored, self.context.clock.now())

    async def current(self, organization_id: int) -> Certificate | None:
        """The organization's certificate in use (active, or expired and not yet replaced)."""
        row = await self.certificates.current(organization_id)
        return to_schema(row, self.context.clock.now()) if row is not None else None

    async def delete(self, scope: OrganizationScope, certificate_id: str, expected: set[int] | None) -> None:
        """Delete a certificate: its sealed file and password go with the row; the audit keeps its metadata."""
        row = await self._row(scope, certificate_id)
        check_version(expected, row.version)
        certificate = to_schema(row, self.context.clock.now())
        await self.certificates.delete(row)
        changes = {name: [value, None] for name, value in recorded(certificate).items()}
        await self.context.audit.record(
            scope.principal.actor, "certificate.delete", RESOURCE, row.id, scope.organization_id, changes
        )

    async def unsealed(self, row: CertificateRow) -> tuple[bytes, str]:
        """The certificate's file and password (what AINAS signs with); 409 when they do not open."""
        sealed = await self.certificates.sealed(row.id)
        if sealed is None:
            raise NotFound()
        keys = self.keys
        try:
            data = keys.open(sealed.key_id, sealed.file, associated_data("file", row.organization_id, row.id))
            password = keys.open(
                sealed.key_id, sealed.password, associated_data("password", row.organization_id, row.id)
            ).decode()
        except (SealedSecretUnreadable, UnicodeDecodeError):
            logger.warning("certificate %s does not open under the configured keys", row.id)
            raise Conflict("certificate_secret_unreadable") from None
        return data, password

    async def verify(self, scope: OrganizationScope, certificate_id: str) -> CertificateVerification:
        """Open the stored file with the stored password: it must still be this certificate."""
        row = await self._row(scope, certificate_id)
        data, password = await self.unsealed(row)
        opened = await self.open_file(data, password, row.organization_id)
        if opened.facts is None or opened.facts.fingerprint_sha256 != row.fingerprint_sha256:
            raise Conflict("certificate_secret_unreadable")
        return CertificateVerification(
            certificate_id=row.id,
            fingerprint_sha256=row.fingerprint_sha256,
            checked_at=self.context.clock.now(),
        )


def _subject_name(facts: Facts) -> str:
    """氏名又は名称: O, else CN, else (neither: no real certificate of the kind) the whole subject."""
    return facts.subject_organization or facts.subject_common_name or facts.subject


def _representative_name(facts: Facts) -> str | None:
    """代表者氏名: the CN of a subject that also has an O."""
    return facts.subject_common_name if facts.subject_organization else None


CertificateServiceDep = Annotated[CertificateService, Depends(provide(CertificateService))]
