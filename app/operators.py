"""Command-line actions of operators: create an operator, the first operator, onboarding from a file,
the rotation of the key that seals stored secrets."""

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.certificates.rotation import CERTIFICATES, RotationReport, rotate_sealed_rows
from app.config.settings import Settings, get_settings
from app.journal.audit_trail import Actor
from app.journal.context import command_context
from app.runtime import build_runtime
from app.users.service import UserService
from app.webhooks.resealing import WEBHOOK_SECRETS

FIRST_OPERATOR_LOGIN_ID = "operator"
# Every kind of row sealed under AINAS_CERTIFICATE_KEY: `ainas rotate-certificate-key` reseals them all.
SEALED_ROWS = (CERTIFICATES, WEBHOOK_SECRETS)
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
            created, generated = await users.create_operator(CLI_ACTOR, login_id, name, password)
            return CreatedOperator(created, generated)
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
            created, generated = await users.create_operator(
                CLI_ACTOR, FIRST_OPERATOR_LOGIN_ID, "運用者", None
            )
            return CreatedOperator(created, generated)
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


async def rotate_certificate_key(settings: Settings) -> RotationReport:
    """Reseal certificates and webhook endpoints' secrets under the current key
    (app/certificates/rotation.py says how to rotate)."""
    return await rotate_sealed_rows(settings, SEALED_ROWS)
