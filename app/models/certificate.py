"""依頼人証明書: a requester's signing certificate, its PKCS#12 file and password sealed (SPEC §2.6)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app.db.orm import Base, Timestamped, UTCDateTime
from app.models.organization import Organization


class Certificate(Timestamped, Base):
    """A registered certificate: what its X.509 says, and its file and password encrypted.

    At most one certificate of an organization is current (`replaced_at` is null); a new
    registration replaces it. The sealed columns are deferred: only the code that opens them
    loads them.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_organization_id_created_at", "organization_id", "created_at"),
        # The database's own guard of "one current certificate per organization".
        Index(
            "uq_certificates_organization_id_current",
            "organization_id",
            unique=True,
            sqlite_where=text("replaced_at IS NULL"),
            postgresql_where=text("replaced_at IS NULL"),
        ),
        # The operators' list of certificates in use that expire soon.
        Index(
            "ix_certificates_not_after_current",
            "not_after",
            sqlite_where=text("replaced_at IS NULL"),
            postgresql_where=text("replaced_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    subject_name: Mapped[str] = mapped_column(Text)
    representative_name: Mapped[str | None] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    serial_number: Mapped[str] = mapped_column(String(128))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    key_type: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Which configured key sealed the file and password (several are accepted during a rotation).
    key_id: Mapped[str] = mapped_column(String(16))
    sealed_file: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sealed_password: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    # The organization's name as it is now, read with the row (operators' lists name the
    # organization; the answer flags a subject that is another company's).
    organization_name: Mapped[str] = column_property(
        select(Organization.name).where(Organization.id == organization_id).scalar_subquery(),
        expire_on_flush=False,  # a certificate's own changes never change it
    )
