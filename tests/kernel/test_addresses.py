"""The address types of app/text/types.py (SPEC §2.8): postal codes and full-width addresses."""

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from app.text.types import FullWidthAddress, PostalCode

POSTAL_CODE = TypeAdapter(PostalCode)
ADDRESS = TypeAdapter(FullWidthAddress)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("1234567", "1234567"), ("123-4567", "1234567"), ("\u3000123-4567 ", "1234567"), ("0000000", "0000000")],
)
def test_postal_codes_accepted(typed: str, stored: str) -> None:
    assert POSTAL_CODE.validate_python(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code", "context"),
    [
        ("１２３４５６７", "invalid_postal_code", [(i, str(i + 1)) for i in range(7)]),
        ("123－4567", "invalid_postal_code", [(3, "-")]),
        ("123ー4567", "invalid_postal_code", [(3, "-")]),
        ("1234-567", "invalid_postal_code", [(4, None)]),
        ("123-45a7", "invalid_postal_code", [(6, None)]),
        ("123456", "postal_code_length", {"length": 6}),
        ("12345678", "postal_code_length", {"length": 8}),
        ("123-456", "postal_code_length", {"length": 6}),
        ("", "postal_code_length", {"length": 0}),
    ],
)
def test_postal_codes_refused_with_their_fix(typed: str, code: str, context: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        POSTAL_CODE.validate_python(typed)
    error = raised.value.errors()[0]
    assert error["type"] == code
    if code == "invalid_postal_code":
        found = [(c["position"], c["suggestion"]) for c in error["ctx"]["invalid_characters"]]
        assert found == context
    else:
        assert error["ctx"] == context


def test_a_postal_code_is_a_string() -> None:
    with pytest.raises(ValidationError) as raised:
        POSTAL_CODE.validate_python(1234567)
    assert raised.value.errors()[0]["type"] == "string_type"


@pytest.mark.parametrize(
    ("typed", "result"),
    [
        ("東京都港区虎ノ門一丁目１番１号", "東京都港区虎ノ門一丁目１番１号"),
        ("東京都港区カ\u3099ーデン", "東京都港区ガーデン"),
        ("東" * 100, "東" * 100),
    ],
)
def test_full_width_addresses_accepted(typed: str, result: str) -> None:
    assert ADDRESS.validate_python(typed) == result


@pytest.mark.parametrize(
    ("typed", "code"),
    [("東" * 101, "too_long"), ("", "too_short"), ("港区1-2", "not_full_width"), ("ﾐﾅﾄ", "not_full_width")],
)
def test_full_width_addresses_refused(typed: str, code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ADDRESS.validate_python(typed)
    assert raised.value.errors()[0]["type"] == code
