"""依頼人ユーザー and operators: every person who logs in with a login ID and password."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, synonym

from app.db.filters import search_form_column
from app.db.orm import Base, Timestamped, UTCDateTime, trigram_indexes


# The one table of roles: the `role` column takes these values; the permissions
# (app.auth.permissions), the labels (app.auth.messages) and the roles of users of an organization
# (app.users.schemas.OrganizationRole) are derived from or keyed by them.
class Role(StrEnum):
    """The roles of people; operators belong to the association, the rest to an organization."""

    OPERATOR = "operator"
    ADMIN = "admin"  # 管理者
    LOCATION_ADMIN = "location_admin"  # 拠点管理者
    STAFF_SUBMITTER = "staff_submitter"  # 担当者（送信可）
    STAFF_PREPARER = "staff_preparer"  # 担当者（送信不可）


class User(Timestamped, Base):
    """A user of an organization, or an operator (role `operator`, no organization).

    One table for both keeps login IDs unique across the whole service in one index.
    """

    __tablename__ = "users"
    __table_args__ = (
        # Login IDs are unique ignoring case (SPEC §2.3); an expression index works on both databases.
        Index("uq_users_login_id_lower", text("lower(login_id)"), unique=True),
        CheckConstraint(f"role IN ({', '.join(repr(role.value) for role in Role)})", name="role"),
        CheckConstraint("(role = 'operator') = (organization_id IS NULL)", name="operator_no_org"),
        Index("ix_users_organization_id_location_id", "organization_id", "location_id"),
        # Deleting a location checks its users by location alone (the foreign key; migration 0013).
        Index("ix_users_location_id", "location_id"),
        # The user list's order within an organization, with the filtered columns (migration 0002).
        Index(
            "ix_users_organization_id_login_id_id",
            "organization_id",
            "login_id",
            "id",
            postgresql_include=["name_search", "role", "location_id"],
        ),
        *trigram_indexes("users", "login_id"),
        # Most recent logins first (migration 0003); plain columns on SQLite.
        Index(
            "ix_users_organization_id_last_login_at_id",
            "organization_id",
            text("last_login_at DESC NULLS LAST"),
            "id",
        ).ddl_if(dialect="postgresql"),
        Index("ix_users_organization_id_last_login_at_id", "organization_id", "last_login_at", "id").ddl_if(
            dialect="sqlite"
        ),
        # Name search by grams, PostgreSQL only (migrations 0003 and 0006, app/db/filters.py, Match.CONTAINS_GRAMS).
        Index(
            "ix_users_organization_id_name_grams",
            "organization_id",
            text("ainas_grams(name_search)"),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
        # Ids are never reused (tokens and idempotency records name principals by id).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    login_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    # A password someone else set (initial, reset) must be changed before anything else.
    password_temporary: Mapped[bool] = mapped_column(Boolean)
    # The same column under the name the API shows it by (app/users/schemas.py).
    password_change_required: Mapped[bool] = synonym("password_temporary")
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Changes with the password (change, reset): every token and refresh token issued under the
    # old one stops working. Role, location and locks are read afresh on every request instead.
    security_stamp: Mapped[str] = mapped_column(String(32))
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the name filter compares (NFKC, case-folded); last, as migration 0006 adds it.
    name_search: Mapped[str] = search_form_column("name")
