"""Validated fields of agents and designations (SPEC §2.7); the character rules are app.text's."""

import string
from typing import Annotated, Final

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from app.agents.procedures import REGISTRATION_NUMBER_MAX_LENGTH
from app.text import rules
from app.text.messages import MESSAGES
from app.text.types import TextRule

PHONE_MIN_LENGTH: Final = 10
PHONE_MAX_LENGTH: Final = 13
NOTE_MAX_LENGTH: Final = 100
PREFECTURES: Final = tuple(f"{number:02d}" for number in range(1, 48))

# 登録番号: half-width digits (the length rule is in app/agents/procedures.py).
RegistrationNumber = Annotated[
    str,
    TextRule(
        code="not_half_width_digits",
        find_invalid=rules.invalid_half_width_digits,
        min_length=1,
        max_length=REGISTRATION_NUMBER_MAX_LENGTH,
        description=f"1 to {REGISTRATION_NUMBER_MAX_LENGTH} half-width digits",
        pattern="^[0-9]+$",
    ),
]


def _known_prefecture(value: str) -> str:
    """Two digits that name no prefecture (00, 48) are refused as a whole."""
    if value not in PREFECTURES:
        raise PydanticCustomError("invalid_prefecture", MESSAGES["invalid_prefecture"][1])
    return value


# 都道府県: the JIS X 0401 code, 01 to 47 (wider digits are named with their half-width form).
Prefecture = Annotated[
    str,
    TextRule(
        code="not_half_width_digits",
        find_invalid=rules.invalid_half_width_digits,
        min_length=2,
        max_length=2,
        description="The JIS X 0401 code of a prefecture, `01` to `47`",
        pattern="^(0[1-9]|[1-3][0-9]|4[0-7])$",
    ),
    AfterValidator(_known_prefecture),
]

# 電話番号: half-width digits and hyphens, 10 to 13 characters.
PhoneNumber = Annotated[
    str,
    TextRule(
        code="invalid_phone_number",
        find_invalid=lambda value: rules.invalid_ascii_characters(value, string.digits + "-"),
        min_length=PHONE_MIN_LENGTH,
        max_length=PHONE_MAX_LENGTH,
        description=f"{PHONE_MIN_LENGTH} to {PHONE_MAX_LENGTH} half-width digits and hyphens",
        pattern="^[0-9-]+$",
    ),
]

# 備考: free text without control characters, up to 100.
Note = Annotated[
    str,
    TextRule(
        code="invalid_characters",
        find_invalid=rules.invalid_control_characters,
        min_length=1,
        max_length=NOTE_MAX_LENGTH,
        description=f"Up to {NOTE_MAX_LENGTH} characters, no control characters",
    ),
]
