"""A running server process and the certificate keys it opens, as it last announced them."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.orm import Base, UTCDateTime


class ServiceInstance(Base):
    """Each server writes its row at start and every few seconds, and deletes it at shutdown, so
    that `ainas rotate-certificate-key` can refuse to seal under a key a running server lacks."""

    __tablename__ = "service_instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The ids of the certificate keys it opens, space-separated, the one it seals with first.
    certificate_key_ids: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
