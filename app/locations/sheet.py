"""The CSV form of locations (SPEC §5.6): the Location schema's fields, headed by their titles."""

from app.csv.files import CsvEncoding
from app.csv.schemas import encoding_field
from app.csv.sheet import Sheet
from app.locations.schemas import Location, LocationCreate, LocationFilters, LocationUpdate

LOCATIONS = Sheet.derive("locations", Location, key="code", create=LocationCreate, update=LocationUpdate)


class LocationDownloadQuery(LocationFilters):
    """The query string of a locations download: the list's filters and the encoding."""

    encoding: CsvEncoding = encoding_field()
