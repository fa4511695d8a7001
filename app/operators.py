"""Command-line actions of operators: create an operator, the first operator, onboarding from a file."""

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config.settings import get_settings
from app.journal.audit_trail import Actor
from app.journal.context import command_context
from app.runtime import build_runtime
from app.users.service import UserService

FIRST_OPERATOR_LOGIN_ID = "operator"
CLI_ACTOR = Actor("system", "cli")


@dataclass(frozen=True, slots=True)
class CreatedOperator:
    """An operator just created; the password only when the service generated it."""

    login_id: str
    generated_password: str | None


async def create_operator(login_id: str, name: str, password: str | None) -> CreatedOperator:
    """Create an operator; ValueError names what is wrong with the input."""
    runtime = build_runtime(get_settings())
    try:
        async with command_context(runtime) as context:
            users = UserService(context)
            user, generated = await users.create_operator(CLI_ACTOR, login_id, name, password)
            return CreatedOperator(user.login_id, generated)
    finally:
        await runtime.engine.dispose()


async def ensure_first_operator() -> CreatedOperator | None:
    """Create the first operator with a generated password, unless an operator exists."""
    runtime = build_runtime(get_settings())
    try:
        async with command_context(runtime) as context:
            users = UserService(context)
            if await users.operator_exists():
                return None
            user, generated = await users.create_operator(CLI_ACTOR, FIRST_OPERATOR_LOGIN_ID, "運用者", None)
            return CreatedOperator(user.login_id, generated)
    finally:
        await runtime.engine.dispose()


async def onboard_from_file(path: Path) -> dict[str, Any]:
    """Onboard an organization described by a JSON file; answers the registration notice."""
    from app.organizations.schemas import OrganizationOnboard
    from app.organizations.service import OrganizationService

    raw = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    request = OrganizationOnboard.model_validate(json.loads(raw))
    runtime = build_runtime(get_settings())
    try:
        async with command_context(runtime) as context:
            result = await OrganizationService(context).onboard(CLI_ACTOR, request)
            return result.model_dump(mode="json")
    finally:
        await runtime.engine.dispose()
