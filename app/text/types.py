"""Reusable validated string types (SPEC §2, §3); the character rules live in app.text.rules."""

import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from app.text import rules as text
from app.text.messages import MESSAGES, register_messages

NAME_MAX_LENGTH: Final = 50
SHORT_NAME_MAX_LENGTH: Final = 10
LABEL_MAX_LENGTH: Final = 50


def _error(code: str, context: dict[str, Any]) -> PydanticCustomError:
    # pydantic's own message is the English text; answers are localized by the error handler.
    # The code's package registered it when it was imported (the types that use it import it).
    return PydanticCustomError(code, MESSAGES[code][1], context)


def _normalize_str(value: object) -> object:
    # Anything else reaches the strict str schema unchanged and fails there as string_type.
    return text.normalize(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class TextRule:
    """Pydantic metadata: normalize, reject offending characters, then check the length.

    Built by `full_width`, `ascii_code`, `half_width_digits` and `free_text`; a package puts one on
    its own type: `Code = Annotated[str, ascii_code(...)]`.
    """

    code: str
    find_invalid: Callable[[str], list[text.InvalidCharacter]]
    min_length: int
    max_length: int
    description: str
    pattern: str | None = None
    # The only characters allowed, when the rule is a set of ASCII characters (see `fits`).
    characters: frozenset[str] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            _normalize_str,
            core_schema.no_info_after_validator_function(self.validate, core_schema.str_schema(strict=True)),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema: JsonSchemaValue = {
            "type": "string",
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "description": self.description,
        }
        if self.pattern is not None:
            json_schema["pattern"] = self.pattern
        return json_schema

    def validate(self, value: str) -> str:
        """Return the normalized value, or raise the first rule it breaks."""
        length = len(value)
        if length <= text.MAX_INSPECTED_LENGTH:
            invalid = self.find_invalid(value)
            if invalid:
                details = [character.as_dict() for character in invalid]
                raise _error(self.code, {"invalid_characters": details})
        if length < self.min_length:
            raise _error("too_short", {"min_length": self.min_length, "length": length})
        if length > self.max_length:
            raise _error("too_long", {"max_length": self.max_length, "length": length})
        return value

    def fits(self, value: str) -> bool:
        """Whether a value passes the rule as it is, unnormalized (a path segment that does not
        could name nothing: it is simply not found)."""
        if not self.min_length <= len(value) <= self.max_length:
            return False
        if self.characters is not None:
            return all(ch in self.characters for ch in value)
        return not self.find_invalid(value)


def full_width(*, max_length: int, description: str, min_length: int = 1) -> TextRule:
    """Full-width characters (JIS X 0208) only."""
    return TextRule("not_full_width", text.invalid_full_width_characters, min_length, max_length, description)


def ascii_code(
    characters: str, *, code: str, max_length: int, description: str, pattern: str, min_length: int = 1
) -> TextRule:
    """Half-width characters of a set (a code, an ID), refused as `code` with the ones to use."""
    return TextRule(
        code,
        lambda value: text.invalid_ascii_characters(value, characters),
        min_length,
        max_length,
        description,
        pattern,
        frozenset(characters),
    )


def half_width_digits(*, max_length: int, description: str, min_length: int = 1) -> TextRule:
    """Half-width digits only (leading zeros kept: the value is text)."""
    return TextRule(
        "not_half_width_digits",
        text.invalid_half_width_digits,
        min_length,
        max_length,
        description,
        "^[0-9]+$",
        frozenset(string.digits),
    )


def free_text(*, max_length: int, description: str, min_length: int = 1) -> TextRule:
    """Any characters but control and invisible formatting ones."""
    return TextRule(
        "invalid_characters", text.invalid_control_characters, min_length, max_length, description
    )


# A name: 1 to 50 full-width characters.
FullWidthName = Annotated[
    str,
    full_width(
        max_length=NAME_MAX_LENGTH,
        description=f"1 to {NAME_MAX_LENGTH} full-width characters (JIS X 0208)",
    ),
]

# 略称 (an abbreviation): 1 to 10 full-width characters.
FullWidthShortName = Annotated[
    str,
    full_width(
        max_length=SHORT_NAME_MAX_LENGTH,
        description=f"An abbreviation: 1 to {SHORT_NAME_MAX_LENGTH} full-width characters (JIS X 0208)",
    ),
]

# A free-text label: 1 to 50 characters without control characters.
Label = Annotated[
    str,
    free_text(
        max_length=LABEL_MAX_LENGTH,
        description=f"A label: free text, 1 to {LABEL_MAX_LENGTH} characters, no control characters",
    ),
]


def _blank_is_null(value: object) -> object:
    """HTML forms send blanks: a value of nothing but white space is no value (SPEC §5.3)."""
    return None if isinstance(value, str) and not text.normalize(value) else value


# Put on an optional nullable field, `Annotated[Code | None, BlankIsNull]`: "" means null.
BlankIsNull = BeforeValidator(_blank_is_null)

SEARCH_TEXT_MAX_LENGTH: Final = 100
# What a filter of SearchText does, as its parameter describes it.
PARTIAL_MATCH: Final = "Partial match, ignoring width and case"

# A search filter: free text without control characters (NUL would reach the database), 0 to 100.
SearchText = Annotated[
    str,
    free_text(
        min_length=0,
        max_length=SEARCH_TEXT_MAX_LENGTH,
        description=f"Partial match ignoring width and case, up to {SEARCH_TEXT_MAX_LENGTH} characters",
    ),
]


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC, as every timestamp is stored; one that UTC cannot express (year 1 at
    +14:00, year 9999 at -14:00) is refused rather than failing in the database driver."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _error("datetime_out_of_range", {}) from None


# A point in time given by a client (a filter's bound): with a time zone, representable in UTC.
InstantFilter = Annotated[AwareDatetime, AfterValidator(_in_utc)]


# -- addresses (SPEC §2.8: the parties and 使用の本拠の位置 of application templates) ---------------

ADDRESS_MAX_LENGTH: Final = 100
POSTAL_CODE_LENGTH: Final = 7

register_messages(
    {
        "invalid_postal_code": (
            "郵便番号は半角数字7桁で入力してください（123-4567 の形も使えます）。使用できない文字は invalid_characters に示します。",
            "A postal code is 7 half-width digits (123-4567 is accepted too); see invalid_characters.",
        ),
        "postal_code_length": (
            "郵便番号は7桁の数字です（入力は{length}桁）。",
            "A postal code has 7 digits ({length} given).",
        ),
    }
)

# 住所: 1 to 100 full-width characters.
FullWidthAddress = Annotated[
    str,
    TextRule(
        code="not_full_width",
        find_invalid=text.invalid_full_width_characters,
        min_length=1,
        max_length=ADDRESS_MAX_LENGTH,
        description=f"An address: 1 to {ADDRESS_MAX_LENGTH} full-width characters (JIS X 0208)",
    ),
]


@dataclass(frozen=True, slots=True)
class _PostalCodeRule(TextRule):
    """The text rule of 郵便番号: `123-4567` or `1234567`, answered as `1234567`."""

    def validate(self, value: str) -> str:
        """Return the seven digits, or raise the first rule the value breaks."""
        if len(value) <= text.MAX_INSPECTED_LENGTH:
            invalid = self.find_invalid(value)
            if invalid:
                raise _error(
                    self.code, {"invalid_characters": [character.as_dict() for character in invalid]}
                )
        digits = value.replace("-", "", 1) if value[3:4] == "-" else value
        if len(digits) != POSTAL_CODE_LENGTH:
            raise _error("postal_code_length", {"length": len(digits)})
        return digits


# 郵便番号: 7 half-width digits; `123-4567` is accepted and stored as `1234567`.
PostalCode = Annotated[
    str,
    _PostalCodeRule(
        code="invalid_postal_code",
        find_invalid=text.invalid_postal_code_characters,
        min_length=POSTAL_CODE_LENGTH,
        max_length=POSTAL_CODE_LENGTH + 1,
        description="A postal code: 7 half-width digits (`123-4567` is accepted and stored as `1234567`)",
        pattern="^[0-9]{3}-?[0-9]{4}$",
    ),
]
