"""User management (SPEC §2.3, §4) and operator accounts."""

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, AuditTrail
from app.auth.principals import Role
from app.core.passwords import generate_password, password_errors
from app.core.runtime import Runtime
from app.core.security import new_stamp
from app.core.types import LoginId, UserName
from app.models import User
from app.users.repository import UserRepository

_login_id = TypeAdapter(LoginId)
_user_name = TypeAdapter(UserName)


async def operator_exists(session: AsyncSession) -> bool:
    """Whether any operator account exists."""
    return (await session.scalar(select(User.id).where(User.role == Role.OPERATOR).limit(1))) is not None


async def create_operator_account(
    session: AsyncSession,
    audit: AuditTrail,
    runtime: Runtime,
    actor: Actor,
    login_id: str,
    name: str,
    password: str | None,
) -> tuple[User, str | None]:
    """Create an operator; (user, generated password or None). ValueError on bad input."""
    try:
        login_id = _login_id.validate_python(login_id)
        name = _user_name.validate_python(name)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"]) from None
    users = UserRepository(session)
    if await users.login_id_taken(login_id):
        raise ValueError(f"the login ID {login_id!r} is already taken")
    generated = None
    if password is None:
        password = generated = generate_password()
    problems = password_errors(password, login_id)
    if problems:
        raise ValueError(", ".join(problem.code for problem in problems))
    now = runtime.clock.now()
    user = await users.add(
        User(
            organization_id=None,
            location_id=None,
            login_id=login_id,
            name=name,
            role=Role.OPERATOR.value,
            password_hash=await runtime.hasher.hash(password),
            # A generated password was seen by whoever ran the command: it must be changed.
            password_temporary=generated is not None,
            password_changed_at=now,
            password_expires_at=None,
            security_stamp=new_stamp(),
            failed_login_count=0,
            created_at=now,
            updated_at=now,
        )
    )
    await audit.record(actor, "operator.create", "user", user.login_id, None, {"login_id": [None, login_id]})
    return user, generated
