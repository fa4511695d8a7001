"""Shapes of requester certificates (依頼人証明書, SPEC §2.6). No shape carries the file or its password
back: they go in once, in the upload, and are kept sealed."""

from datetime import datetime
from enum import StrEnum

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.http.fields import CreatedAt, UpdatedAt, Version
from app.http.pagination import PageQuery

MAX_FILE_BYTES = 64 * 1024
MAX_PASSWORD_LENGTH = 1024


class CertificateStatus(StrEnum):
    """Where a certificate stands, computed when read."""

    ACTIVE = "active"  # the one AINAS signs with
    REPLACED = "replaced"  # a newer one was registered
    EXPIRED = "expired"  # past not_after and not replaced: filings stop until a new one is registered


_EXAMPLE: dict[str, JsonValue] = {
    "id": "6F1C0A7E9B2D4C8FA1E3B5D7092C4E6F",
    "organization_id": "000000001",
    "organization_name": "株式会社ＡＩＮＡＳ自動車販売",
    "subject_name": "株式会社ＡＩＮＡＳ自動車販売",
    "representative_name": "山田 太郎",
    "subject_matches_organization": True,
    "issuer": "CN=商業登記認証局,O=法務省,C=JP",
    "serial_number": "1A2B3C4D",
    "not_before": "2026-04-01T00:00:00Z",
    "not_after": "2027-03-31T14:59:59Z",
    "fingerprint_sha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
    "key_type": "RSA-2048",
    "status": "active",
    "days_until_expiry": 364,
    "created_at": "2026-04-01T09:00:00Z",
    "created_by": "ainas.admin",
    "replaced_at": None,
    "updated_at": "2026-04-01T09:00:00Z",
    "version": 1,
}


class Certificate(BaseModel):
    """A requester certificate: what the registered certificate says; never its file or password."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: str = Field(title="証明書番号", description="32 upper-case hexadecimal characters")
    organization_id: str = Field(title="依頼人組織ID")
    organization_name: str = Field(title="依頼人組織名", description="The organization's name as it is now")
    subject_name: str = Field(
        title="氏名又は名称（漢字）",
        description="The subject's organizationName (O), or its commonName (CN) when it has no O",
    )
    representative_name: str | None = Field(
        title="代表者氏名（漢字）", description="The subject's commonName when it also has an O; else null"
    )
    subject_matches_organization: bool = Field(
        title="依頼人組織名との一致",
        description=(
            "Whether subject_name names this organization (compared ignoring width, case, spaces and the "
            "company-type words such as `株式会社`). false flags a certificate of another company: it is "
            "registered all the same, so check it before AINAS signs filings with it"
        ),
    )
    issuer: str = Field(title="発行者", description="The issuer's distinguished name (RFC 4514)")
    serial_number: str = Field(title="シリアル番号", description="Upper-case hexadecimal")
    not_before: datetime = Field(title="証明期間（開始）", description="The start of the validity")
    not_after: datetime = Field(title="証明期間（終了）", description="The end of the validity")
    fingerprint_sha256: str = Field(
        title="フィンガープリント（SHA-256）",
        description="SHA-256 of the certificate's DER, 64 upper-case hex characters",
    )
    key_type: str = Field(
        title="鍵の種類", description="The key's algorithm and size", examples=["RSA-2048", "EC-P256"]
    )
    status: CertificateStatus = Field(
        title="状態",
        description="`active`: AINAS signs with it; `replaced`: a newer one was registered; "
        "`expired`: past not_after and not replaced (computed when read)",
    )
    days_until_expiry: int = Field(
        title="有効期限までの日数", description="Whole days until not_after; negative once expired"
    )
    created_at: CreatedAt
    created_by: str = Field(title="登録者", description="Login ID of who registered it")
    replaced_at: datetime | None = Field(title="置換日時", description="When a newer certificate replaced it")
    updated_at: UpdatedAt
    version: Version


class CertificateUpload(BaseModel):
    """A certificate to register: the PKCS#12 file (.p12/.pfx) and its password, as multipart/form-data."""

    model_config = ConfigDict(extra="forbid")

    file: UploadFile = Field(
        title="証明書ファイル", description=f"The PKCS#12 file (.p12/.pfx), at most {MAX_FILE_BYTES} bytes"
    )
    password: str = Field(
        min_length=1,
        max_length=MAX_PASSWORD_LENGTH,
        title="証明書ファイルのパスワード",
        description="The file's password; kept encrypted, never shown again",
        json_schema_extra={"format": "password"},
    )


class CertificateVerification(BaseModel):
    """The stored file opened with its stored password, and is still this certificate."""

    certificate_id: str = Field(title="証明書番号")
    fingerprint_sha256: str = Field(
        title="フィンガープリント（SHA-256）", description="Of the file opened now"
    )
    checked_at: datetime = Field(title="確認日時", description="When it was opened")


class CertificateFilters(BaseModel):
    """Operators' search of every organization's certificates."""

    expires_within_days: int | None = Field(
        default=None,
        ge=0,
        le=3650,
        title="有効期限までの日数",
        description=(
            "Certificates in use (active, or expired without a replacement) whose days_until_expiry is at "
            "most this: the ones to remind requesters of"
        ),
    )
    status: list[CertificateStatus] = Field(
        default_factory=list, title="状態", description="May repeat (either)"
    )


class CertificateQuery(PageQuery, CertificateFilters):
    """The query string of every organization's certificates: the filters and the page (one query
    model, so that each is its own optional parameter in the OpenAPI document)."""
