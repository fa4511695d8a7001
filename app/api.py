"""The one place that mounts every router under /api/v1."""

from fastapi import APIRouter

from app.api_keys.router import router as api_keys_router
from app.audit_events.router import router as audit_router
from app.auth.router import router as auth_router
from app.certificates.router import router as certificates_router
from app.changes.router import router as changes_router
from app.locations.router import router as locations_router
from app.locations.transfer import router as location_sheet_router
from app.organizations.router import router as organizations_router
from app.users.router import router as users_router
from app.users.transfer import router as user_sheet_router
from app.webhooks.router import router as webhooks_router

api_router = APIRouter(prefix="/api/v1")
for router in (
    auth_router,
    organizations_router,
    locations_router,
    users_router,
    api_keys_router,
    audit_router,
    changes_router,
    location_sheet_router,
    user_sheet_router,
    certificates_router,
    webhooks_router,
):
    api_router.include_router(router)
