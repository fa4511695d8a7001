"""Table tests of the text rules (SPEC §3.1 to §3.3) and the types built on them."""

from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.auth.types import LoginId
from app.locations.types import DelegateNumber, LocationCode
from app.text.rules import (
    InvalidCharacter,
    full_width_suggestion,
    invalid_full_width_characters,
    is_full_width,
    normalize,
)
from app.text.types import FullWidthName, FullWidthShortName
from app.users.types import UserName
from tests.interface.test_document_language import is_english

Invalid = tuple[int, str, str, str | None]

SHORT_NAME: TypeAdapter[str] = TypeAdapter(FullWidthShortName)
NAME: TypeAdapter[str] = TypeAdapter(FullWidthName)


def _error(adapter: TypeAdapter[Any], value: object) -> tuple[str, dict[str, Any]]:
    """Validate a value that must fail with exactly one error; return its code and context."""
    with pytest.raises(ValidationError) as raised:
        adapter.validate_python(value)
    [error] = raised.value.errors()
    return error["type"], error.get("ctx", {})


def _characters(*expected: Invalid) -> dict[str, Any]:
    """The context of a character error listing expected."""
    keys = ("position", "character", "code_point", "suggestion")
    return {"invalid_characters": [dict(zip(keys, entry, strict=True)) for entry in expected]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("トヨタ自動車", "トヨタ自動車", id="kana and kanji"),
        pytest.param("ＡＢＣ１２３", "ＡＢＣ１２３", id="full-width letters and digits"),
        pytest.param("ガ", "ガ", id="precomposed voiced kana"),
        pytest.param("カ\u3099", "ガ", id="decomposed voiced kana composes"),
        pytest.param("ハ\u309a", "パ", id="decomposed semi-voiced kana composes"),
        pytest.param("東京〜大阪", "東京〜大阪", id="wave dash U+301C"),
        pytest.param("東京～大阪", "東京～大阪", id="fullwidth tilde U+FF5E"),
        pytest.param("Ａ−Ｂ", "Ａ−Ｂ", id="minus sign U+2212"),
        pytest.param("Ａ－Ｂ", "Ａ－Ｂ", id="fullwidth hyphen-minus U+FF0D"),
        pytest.param("東京\u3000本店", "東京\u3000本店", id="ideographic space inside"),
        pytest.param("\u3000東京本店\u3000", "東京本店", id="ideographic space at the ends"),
        pytest.param("  東京 ", "東京", id="ascii spaces at the ends"),
        pytest.param("\t東京\r\n", "東京", id="tab and newline at the ends"),
        pytest.param("\xa0東京\u2003", "東京", id="other spaces at the ends"),
        pytest.param("ー・！？（）「」", "ー・！？（）「」", id="full-width symbols"),
        pytest.param("―‖∥￥￣", "―‖∥￥￣", id="JIS X 0208 dash, bars, yen, overline"),
        pytest.param("ΑΒΓАБВ", "ΑΒΓАБВ", id="greek and cyrillic of JIS X 0208"),
        pytest.param("高崎邉", "高崎邉", id="JIS level 1 and 2 kanji"),
        pytest.param("あ" * 10, "あ" * 10, id="exactly 10 characters"),
        pytest.param("\u3000" + "あ" * 10 + "\u3000", "あ" * 10, id="10 after trimming"),
    ],
)
def test_full_width_short_name_accepts(value: str, expected: str) -> None:
    assert SHORT_NAME.validate_python(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "context"),
    [
        pytest.param(
            "ABC",
            "not_full_width",
            _characters(
                (0, "A", "U+0041", "Ａ"),
                (1, "B", "U+0042", "Ｂ"),
                (2, "C", "U+0043", "Ｃ"),
            ),
            id="ascii letters",
        ),
        pytest.param("東京1", "not_full_width", _characters((2, "1", "U+0031", "１")), id="digit"),
        pytest.param(
            "東京 本店",
            "not_full_width",
            _characters((2, " ", "U+0020", "\u3000")),
            id="space",
        ),
        pytest.param(
            "東京\xa0本店",
            "not_full_width",
            _characters((2, "\xa0", "U+00A0", "\u3000")),
            id="no-break space inside",
        ),
        pytest.param(
            "A-1",
            "not_full_width",
            _characters(
                (0, "A", "U+0041", "Ａ"),
                (1, "-", "U+002D", "－"),
                (2, "1", "U+0031", "１"),
            ),
            id="hyphen-minus",
        ),
        pytest.param(
            "~!@",
            "not_full_width",
            _characters(
                (0, "~", "U+007E", "～"),
                (1, "!", "U+0021", "！"),
                (2, "@", "U+0040", "＠"),
            ),
            id="symbols",
        ),
        pytest.param(
            "\"'",
            "not_full_width",
            _characters((0, '"', "U+0022", "”"), (1, "'", "U+0027", "’")),
            id="quotes suggest JIS X 0208 quotes",
        ),
        pytest.param(
            "＂",
            "not_full_width",
            _characters((0, "＂", "U+FF02", "”")),
            id="fullwidth quotation mark is an IBM extension",
        ),
        pytest.param(
            "ｱｲｳ",
            "not_full_width",
            _characters(
                (0, "ｱ", "U+FF71", "ア"),
                (1, "ｲ", "U+FF72", "イ"),
                (2, "ｳ", "U+FF73", "ウ"),
            ),
            id="half-width katakana",
        ),
        pytest.param(
            "ｶﾞ",
            "not_full_width",
            _characters((0, "ｶ", "U+FF76", "ガ"), (1, "ﾞ", "U+FF9E", "")),
            id="half-width voiced katakana composes",
        ),
        pytest.param(
            "ﾊﾟｰ",
            "not_full_width",
            _characters(
                (0, "ﾊ", "U+FF8A", "パ"),
                (1, "ﾟ", "U+FF9F", ""),
                (2, "ｰ", "U+FF70", "ー"),
            ),
            id="half-width semi-voiced mark composes, long vowel",
        ),
        pytest.param(
            "ﾜﾞﾞ",
            "not_full_width",
            _characters(
                (0, "ﾜ", "U+FF9C", "ワ"),
                (1, "ﾞ", "U+FF9E", "゛"),
                (2, "ﾞ", "U+FF9E", "゛"),
            ),
            id="marks that compose into nothing in JIS X 0208",
        ),
        pytest.param("①", "not_full_width", _characters((0, "①", "U+2460", "１")), id="NEC ①"),
        pytest.param("Ⅰ", "not_full_width", _characters((0, "Ⅰ", "U+2160", "Ｉ")), id="NEC Ⅰ"),
        pytest.param(
            "㈱トヨタ",
            "not_full_width",
            _characters((0, "㈱", "U+3231", None)),
            id="NEC ㈱",
        ),
        pytest.param("№１", "not_full_width", _characters((0, "№", "U+2116", None)), id="NEC №"),
        pytest.param(
            "髙橋",
            "not_full_width",
            _characters((0, "髙", "U+9AD9", "高")),
            id="IBM 髙",
        ),
        pytest.param(
            "山﨑",
            "not_full_width",
            _characters((1, "﨑", "U+FA11", "崎")),
            id="IBM 﨑",
        ),
        pytest.param(
            "𠮷野家",
            "not_full_width",
            _characters((0, "𠮷", "U+20BB7", None)),
            id="outside SJIS",
        ),
        pytest.param(
            "店😀",
            "not_full_width",
            _characters((1, "😀", "U+1F600", None)),
            id="emoji",
        ),
        pytest.param(
            "カ\u0301",
            "not_full_width",
            _characters((1, "\u0301", "U+0301", None)),
            id="acute",
        ),
        pytest.param(
            "ア\u3099",
            "not_full_width",
            _characters((1, "\u3099", "U+3099", "゛")),
            id="voiced mark that does not compose",
        ),
        pytest.param(
            "東\x00京",
            "not_full_width",
            _characters((1, "\x00", "U+0000", None)),
            id="NUL",
        ),
        pytest.param(
            "東\x07京",
            "not_full_width",
            _characters((1, "\x07", "U+0007", None)),
            id="BEL",
        ),
        pytest.param("東\t京", "not_full_width", _characters((1, "\t", "U+0009", None)), id="tab"),
        pytest.param(
            "東\u200b京",
            "not_full_width",
            _characters((1, "\u200b", "U+200B", None)),
            id="ZWSP",
        ),
        pytest.param("—", "not_full_width", _characters((0, "—", "U+2014", "―")), id="em dash"),
        pytest.param("¥", "not_full_width", _characters((0, "¥", "U+00A5", "￥")), id="yen sign"),
        pytest.param(
            "Å",
            "not_full_width",
            _characters((0, "Å", "U+00C5", None)),
            id="angstrom sign U+212B becomes U+00C5 under NFC",
        ),
        pytest.param(
            "東\ud800",
            "not_full_width",
            _characters((1, "\ufffd", "U+D800", None)),
            id="lone surrogate is reported as U+FFFD",
        ),
        pytest.param(
            "\u3000 AB",
            "not_full_width",
            _characters((0, "A", "U+0041", "Ａ"), (1, "B", "U+0042", "Ｂ")),
            id="positions count after trimming",
        ),
        pytest.param(
            "ABCDEFGHIJK",
            "not_full_width",
            _characters(
                *((i, c, f"U+{ord(c):04X}", chr(ord(c) + 0xFEE0)) for i, c in enumerate("ABCDEFGHIJK"))
            ),
            id="character rule before length",
        ),
        pytest.param("あ" * 11, "too_long", {"max_length": 10, "length": 11}, id="11 characters"),
        pytest.param("", "too_short", {"min_length": 1, "length": 0}, id="empty"),
        pytest.param(
            " \u3000\t\n",
            "too_short",
            {"min_length": 1, "length": 0},
            id="white space only",
        ),
        pytest.param("A" * 1001, "too_long", {"max_length": 10, "length": 1001}, id="huge"),
        pytest.param(10, "string_type", {}, id="number is not coerced"),
        pytest.param(b"abc", "string_type", {}, id="bytes are not coerced"),
        pytest.param(None, "string_type", {}, id="null"),
    ],
)
def test_full_width_short_name_rejects(value: object, code: str, context: dict[str, Any]) -> None:
    assert _error(SHORT_NAME, value) == (code, context)


@pytest.mark.parametrize(
    ("value", "code", "context"),
    [
        pytest.param("あ" * 50, None, None, id="exactly 50 characters"),
        pytest.param("あ" * 51, "too_long", {"max_length": 50, "length": 51}, id="51 characters"),
        pytest.param("", "too_short", {"min_length": 1, "length": 0}, id="empty"),
        pytest.param(
            "あ" * 50 + "A",
            "not_full_width",
            _characters((50, "A", "U+0041", "Ａ")),
            id="51 with a half-width character",
        ),
    ],
)
def test_full_width_name(value: str, code: str | None, context: dict[str, Any] | None) -> None:
    if code is None:
        assert NAME.validate_python(value) == value
    else:
        assert _error(NAME, value) == (code, context)


def test_full_width_name_in_a_model_from_json() -> None:
    class Organization(BaseModel):
        name: FullWidthName

    assert Organization.model_validate_json('{"name": "\\u3000カ\\u3099 "}').name == "ガ"
    with pytest.raises(ValidationError) as raised:
        Organization.model_validate_json('{"name": 1}')
    assert raised.value.errors()[0]["type"] == "string_type"


@pytest.mark.parametrize(
    ("adapter", "value", "expected"),
    [
        pytest.param(LocationCode, "A1b2", "A1b2", id="code"),
        pytest.param(LocationCode, " 0123456789 ", "0123456789", id="code of 10, trimmed"),
        pytest.param(DelegateNumber, "0012345", "0012345", id="commission keeps leading zeros"),
        pytest.param(DelegateNumber, "9" * 20, "9" * 20, id="commission of 20"),
        pytest.param(DelegateNumber | None, None, None, id="commission optional"),
        pytest.param(LoginId, "abc", "abc", id="login of 3"),
        pytest.param(LoginId, "Taro.Yamada_01-x", "Taro.Yamada_01-x", id="login symbols"),
        pytest.param(LoginId, "a" * 32, "a" * 32, id="login of 32"),
        pytest.param(UserName, " 山田\u3000太郎 ", "山田\u3000太郎", id="user name trimmed"),
        pytest.param(UserName, "Taro ①😀𠮷", "Taro ①😀𠮷", id="user name any characters"),
        pytest.param(UserName, "e\u0301", "é", id="user name NFC"),
        pytest.param(UserName, "あ" * 50, "あ" * 50, id="user name of 50"),
    ],
)
def test_other_types_accept(adapter: Any, value: object, expected: object) -> None:
    assert TypeAdapter(adapter).validate_python(value) == expected


@pytest.mark.parametrize(
    ("adapter", "value", "code", "context"),
    [
        pytest.param(
            LocationCode,
            "Ａ１ｂ",
            "invalid_location_code",
            _characters(
                (0, "Ａ", "U+FF21", "A"),
                (1, "１", "U+FF11", "1"),
                (2, "ｂ", "U+FF42", "b"),
            ),
            id="code full-width",
        ),
        pytest.param(
            LocationCode,
            "A-1 あ",
            "invalid_location_code",
            _characters(
                (1, "-", "U+002D", None),
                (3, " ", "U+0020", None),
                (4, "あ", "U+3042", None),
            ),
            id="code other characters",
        ),
        pytest.param(
            LocationCode,
            "",
            "too_short",
            {"min_length": 1, "length": 0},
            id="code empty",
        ),
        pytest.param(
            LocationCode,
            "A" * 11,
            "too_long",
            {"max_length": 10, "length": 11},
            id="code of 11",
        ),
        pytest.param(LocationCode, 12, "string_type", {}, id="code number"),
        pytest.param(
            DelegateNumber,
            "１２3",
            "not_half_width_digits",
            _characters((0, "１", "U+FF11", "1"), (1, "２", "U+FF12", "2")),
            id="commission full-width digits",
        ),
        pytest.param(
            DelegateNumber,
            "12-3①٣a",
            "not_half_width_digits",
            _characters(
                (2, "-", "U+002D", None),
                (4, "①", "U+2460", "1"),
                (5, "٣", "U+0663", "3"),
                (6, "a", "U+0061", None),
            ),
            id="commission other characters",
        ),
        pytest.param(
            DelegateNumber,
            " ",
            "too_short",
            {"min_length": 1, "length": 0},
            id="commission blank",
        ),
        pytest.param(
            DelegateNumber,
            "1" * 21,
            "too_long",
            {"max_length": 20, "length": 21},
            id="commission of 21",
        ),
        pytest.param(DelegateNumber | None, 123, "string_type", {}, id="commission number"),
        pytest.param(
            LoginId,
            "ｔａｒｏ",
            "invalid_login_id",
            _characters(
                (0, "ｔ", "U+FF54", "t"),
                (1, "ａ", "U+FF41", "a"),
                (2, "ｒ", "U+FF52", "r"),
                (3, "ｏ", "U+FF4F", "o"),
            ),
            id="login full-width",
        ),
        pytest.param(
            LoginId,
            "taro yamada@x。jp",
            "invalid_login_id",
            _characters(
                (4, " ", "U+0020", None),
                (11, "@", "U+0040", None),
                (13, "。", "U+3002", "."),
            ),
            id="login other characters",
        ),
        pytest.param(
            LoginId,
            "a−b",
            "invalid_login_id",
            _characters((1, "−", "U+2212", "-")),
            id="login minus sign",
        ),
        pytest.param(LoginId, "ab", "too_short", {"min_length": 3, "length": 2}, id="login of 2"),
        pytest.param(
            LoginId,
            "a" * 33,
            "too_long",
            {"max_length": 32, "length": 33},
            id="login of 33",
        ),
        pytest.param(
            UserName,
            "山田\u200b太郎\u202e",
            "invalid_characters",
            _characters((2, "\u200b", "U+200B", None), (5, "\u202e", "U+202E", None)),
            id="user name zero-width and bidi",
        ),
        pytest.param(
            UserName,
            "a\u200db\nc\x00\ud800",
            "invalid_characters",
            _characters(
                (1, "\u200d", "U+200D", None),
                (3, "\n", "U+000A", None),
                (5, "\x00", "U+0000", None),
                (6, "\ufffd", "U+D800", None),
            ),
            id="user name joiner, newline, NUL, surrogate",
        ),
        pytest.param(UserName, "\u3000", "too_short", {"min_length": 1, "length": 0}, id="blank"),
        pytest.param(
            UserName,
            "あ" * 51,
            "too_long",
            {"max_length": 50, "length": 51},
            id="user name of 51",
        ),
    ],
)
def test_other_types_reject(adapter: Any, value: object, code: str, context: dict[str, Any]) -> None:
    assert _error(TypeAdapter(adapter), value) == (code, context)


@pytest.mark.parametrize(
    ("ch", "expected"),
    [
        ("A", "Ａ"),
        ("z", "ｚ"),
        ("0", "０"),
        ("-", "－"),
        ("~", "～"),
        ("\\", "＼"),
        ('"', "”"),
        ("'", "’"),
        (" ", "\u3000"),
        ("\xa0", "\u3000"),
        ("\u1680", "\u3000"),
        ("ｶ", "カ"),
        ("ﾞ", "゛"),
        ("ﾟ", "゜"),
        ("ｰ", "ー"),
        ("･", "・"),
        ("｡", "。"),
        ("①", "１"),
        ("Ⅰ", "Ｉ"),
        ("ⅰ", "ｉ"),
        ("㈱", None),
        ("№", None),
        ("髙", "高"),
        ("﨑", "崎"),
        ("—", "―"),
        ("¥", "￥"),
        ("‾", "￣"),
        ("𠮷", None),
        ("😀", None),
        ("\x00", None),
        ("\t", None),
        ("é", None),
        ("ガ", "ガ"),
        ("AB", None),
        ("", None),
    ],
)
def test_full_width_suggestion(ch: str, expected: str | None) -> None:
    assert full_width_suggestion(ch) == expected


@pytest.mark.parametrize(
    "code_points",
    [range(0x20, 0x7F), range(0xFF61, 0xFFA0)],
    ids=["ascii", "half-width kana"],
)
def test_every_ascii_and_half_width_kana_has_a_full_width_suggestion(
    code_points: range,
) -> None:
    suggestions = {chr(c): full_width_suggestion(chr(c)) for c in code_points}
    assert {ch: s for ch, s in suggestions.items() if s is None or not is_full_width(s)} == {}


def test_every_suggestion_is_full_width() -> None:
    suggestions = (full_width_suggestion(chr(c)) for c in range(0x10000))
    assert all(is_full_width(s) for s in suggestions if s is not None)


def _spec_rule(ch: str) -> bool:
    """SPEC §3.1 word for word, to check the precomputed set against."""
    try:
        encoded = ch.encode("cp932")
        encoded.decode("shift_jis")
    except UnicodeError:
        return False
    return len(encoded) == 2


def test_is_full_width_matches_the_spec_rule_for_every_code_point() -> None:
    mismatches = [c for c in range(0x110000) if is_full_width(chr(c)) != _spec_rule(chr(c))]
    assert mismatches == []


@pytest.mark.parametrize(
    ("ch", "expected"),
    [
        ("\u301c", True),
        ("\uff5e", True),
        ("\u2212", True),
        ("\uff0d", True),
        ("\u3000", True),
        ("\u212b", True),
        ("①", False),
        ("Ⅰ", False),
        ("㈱", False),
        ("№", False),
        ("髙", False),
        ("﨑", False),
        ("ｱ", False),
        ("𠮷", False),
        ("😀", False),
        ("A", False),
        ("", False),
        ("あい", False),
    ],
)
def test_is_full_width(ch: str, expected: bool) -> None:
    assert is_full_width(ch) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\u3000 カ\u3099\t", "ガ"),
        ("\xa0\u2028a b\u205f", "a b"),
        ("\u200ba\u200b", "\u200ba\u200b"),
        ("\x1ca\x1f", "\x1ca\x1f"),
        ("\u212b", "\u00c5"),
    ],
)
def test_normalize(value: str, expected: str) -> None:
    assert normalize(value) == expected


@pytest.mark.parametrize(
    ("ch", "code_point"),
    [("A", "U+0041"), ("ｱ", "U+FF71"), ("𠮷", "U+20BB7"), ("\x00", "U+0000")],
)
def test_code_point_format(ch: str, code_point: str) -> None:
    [invalid] = invalid_full_width_characters(ch)
    assert invalid == InvalidCharacter(0, ch, code_point, full_width_suggestion(ch))
    assert list(invalid.as_dict()) == [
        "position",
        "character",
        "code_point",
        "suggestion",
    ]


@pytest.mark.parametrize(
    ("adapter", "pattern"),
    [
        (FullWidthName, None),
        (FullWidthShortName, None),
        (LocationCode, "^[0-9A-Za-z]+$"),
        (DelegateNumber, "^[0-9]+$"),
        (LoginId, "^[A-Za-z0-9._-]+$"),
        (UserName, None),
    ],
)
@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_json_schema(adapter: Any, pattern: str | None, mode: Any) -> None:
    schema = TypeAdapter(adapter).json_schema(mode=mode)
    assert schema["type"] == "string"
    assert schema.get("pattern") == pattern
    assert {"minLength", "maxLength", "description"} <= schema.keys()
    # English only: the field's title carries the screens' label (tests/interface/test_document_language.py).
    assert is_english(schema["description"])
