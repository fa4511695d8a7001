"""The validated types of locations (依頼人拠点): the location code and the commission number."""

import string
from typing import Annotated, Final

from app.text.types import ascii_code, half_width_digits

LOCATION_CODE_MAX_LENGTH: Final = 10
LOCATION_CODE_CHARACTERS: Final = string.digits + string.ascii_letters
# The published format of the commission number could not be confirmed (SPEC §3.3), so any
# 1 to 20 digits are accepted; this is the one place of that rule.
DELEGATE_NUMBER_MAX_LENGTH: Final = 20

_LOCATION_CODE = ascii_code(
    LOCATION_CODE_CHARACTERS,
    code="invalid_location_code",
    max_length=LOCATION_CODE_MAX_LENGTH,
    description=f"1 to {LOCATION_CODE_MAX_LENGTH} half-width letters and digits (`0-9 A-Z a-z`)",
    pattern="^[0-9A-Za-z]+$",
)

# 依頼人拠点コード: 1 to 10 half-width letters and digits.
LocationCode = Annotated[str, _LOCATION_CODE]

# 記録等事務代行者委託番号: half-width digits only.
DelegateNumber = Annotated[
    str,
    half_width_digits(
        max_length=DELEGATE_NUMBER_MAX_LENGTH,
        description=f"1 to {DELEGATE_NUMBER_MAX_LENGTH} half-width digits",
    ),
]


def is_location_code(value: str) -> bool:
    """Whether a value could be a location code at all (a path that cannot is simply not found)."""
    return _LOCATION_CODE.fits(value)
