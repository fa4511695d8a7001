"""Location management (依頼人拠点): SPEC §2.2, §4."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.exc import IntegrityError

from app.audit.audited import delete_audited, update_audited
from app.audit.unit_of_work import Service, provide
from app.auth.dependencies import OrganizationScope
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageRequest, page_json
from app.core.types import is_location_code
from app.locations.repository import LocationRepository
from app.locations.schemas import Location, LocationCreate, LocationFilters, LocationUpdate
from app.models import Location as LocationRow

RESOURCE = "location"


class LocationService(Service):
    """Lists, reads and changes locations; a caller assigned to a location sees only that one."""

    @property
    def locations(self) -> LocationRepository:
        """The repository of this request's session."""
        return LocationRepository(self.session)

    async def search(self, scope: OrganizationScope, filters: LocationFilters, page: PageRequest) -> bytes:
        """依頼人拠点検索, as the JSON of `Page[Location]`."""
        columns, rows, total = await self.locations.search(
            scope.organization_id, scope.principal.location_id, filters, page
        )
        return page_json(Location, columns, rows, total, page)

    async def get(self, scope: OrganizationScope, code: str) -> LocationRow:
        """One location within the caller's scope; 404 otherwise."""
        if not is_location_code(code):
            raise NotFound()
        location = await self.locations.by_code(scope.organization_id, code, scope.principal.location_id)
        if location is None:
            raise NotFound()
        return location

    async def create(self, scope: OrganizationScope, body: LocationCreate) -> Location:
        """依頼人拠点の追加; a code already used in the organization answers 409."""
        organization_id = scope.organization_id
        now = self.clock.now()
        try:
            location = await self.locations.insert(
                {
                    **body.model_dump(),
                    "organization_id": organization_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        except IntegrityError:
            # The unique (organization, code) constraint decides; a check first would race anyway.
            raise Conflict("location_code_taken", context={"code": body.code}) from None
        shown = Location.model_validate(location)
        await self.audit.record_change(
            scope.principal.actor,
            "location.create",
            RESOURCE,
            location.code,
            organization_id,
            {name: [None, value] for name, value in body.model_dump().items()},
            shown.model_dump(mode="json"),
        )
        return location

    async def update(
        self, scope: OrganizationScope, code: str, body: LocationUpdate, expected: set[int] | None
    ) -> LocationRow:
        """依頼人拠点情報の変更 and 記録等事務代行者委託番号の設定."""
        location = await self.get(scope, code)
        return await update_audited(
            self.locations,
            location,
            body.model_dump(exclude_unset=True),
            expected_versions=expected,
            audit=self.audit,
            actor=scope.principal.actor,
            action="location.update",
            resource=(RESOURCE, location.code),
            organization_id=scope.organization_id,
            snapshot=lambda row: Location.model_validate(row).model_dump(mode="json"),
        )

    async def delete(self, scope: OrganizationScope, code: str, expected: set[int] | None) -> None:
        """依頼人拠点の削除; refused while users are assigned to the location."""
        location = await self.get(scope, code)
        assigned = await self.locations.user_count(location.id)
        if assigned:
            raise Conflict("location_in_use", context={"count": assigned})
        await delete_audited(
            self.locations,
            location,
            expected_versions=expected,
            audit=self.audit,
            actor=scope.principal.actor,
            action="location.delete",
            resource=(RESOURCE, location.code),
            organization_id=scope.organization_id,
            snapshot=Location.model_validate(location).model_dump(
                mode="json", include={"code", "name", "short_name", "delegate_number"}
            ),
        )


LocationServiceDep = Annotated[LocationService, Depends(provide(LocationService))]
