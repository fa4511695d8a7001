"""SPEC §3.2: applying every suggestion gives the text the person meant, and the service accepts it."""

import unicodedata
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.text.rules import invalid_full_width_characters, is_full_width
from app.text.types import FullWidthName
from tests.fixtures.world import World

# Every half-width katakana and punctuation of JIS X 0201 (｡ to ﾟ), and the two sound marks.
HALF_WIDTH_KANA = [chr(code) for code in range(0xFF61, 0xFFA0)]
MARKS = ["\uff9e", "\uff9f"]
# Each character alone, and followed by each mark (ｶﾞ, ｶﾟ, ﾞﾞ, ...).
INPUTS = HALF_WIDTH_KANA + [kana + mark for kana in HALF_WIDTH_KANA for mark in MARKS]
NAME: TypeAdapter[str] = TypeAdapter(FullWidthName)


def meant(value: str) -> str:
    """SPEC §3.2's expectation: the NFKC form where it is JIS X 0208 text, and otherwise that form
    with each uncombined mark as ゛ or ゜ (ｦﾞ: NFKC's ヺ is not JIS X 0208, so ヲ゛)."""
    spacing = {"\u3099": "゛", "\u309a": "゜"}
    characters = []
    for character in unicodedata.normalize("NFKC", value):
        parts = character if is_full_width(character) else unicodedata.normalize("NFD", character)
        characters.append("".join(spacing.get(part, part) for part in parts))
    return "".join(characters)


def apply(value: str, invalid: list[dict[str, Any]]) -> str:
    """Replace each listed character by its suggestion ("" deletes it), as a frontend's one-click fix."""
    characters = list(value)
    for entry in invalid:
        assert characters[entry["position"]] == entry["character"]
        assert entry["suggestion"] is not None, entry
        characters[entry["position"]] = entry["suggestion"]
    return "".join(characters)


def suggestions(value: str) -> list[dict[str, Any]]:
    return [character.as_dict() for character in invalid_full_width_characters(value)]


def test_every_half_width_kana_alone_and_with_each_mark() -> None:
    wrong = {}
    for value in INPUTS:
        fixed = apply(value, suggestions(value))
        if fixed != meant(value) or NAME.validate_python(fixed) != fixed:
            wrong[value] = fixed
    assert wrong == {}


def test_voiced_kana_compose_and_marks_without_a_jis_form_stay_spacing() -> None:
    assert apply("ｶﾞﾚｰｼﾞ", suggestions("ｶﾞﾚｰｼﾞ")) == "ガレージ"
    assert [entry["suggestion"] for entry in suggestions("ﾊﾟｳﾞ")] == ["パ", "", "ヴ", ""]
    # ヷ and ヺ are not JIS X 0208; ア has no voiced form; a mark alone has nothing to join.
    assert apply("ﾜﾞｦﾞｱﾞﾞ", suggestions("ﾜﾞｦﾞｱﾞﾞ")) == "ワ゛ヲ゛ア゛゛"


@given(st.text(alphabet=HALF_WIDTH_KANA + MARKS + ["東", "ア"], min_size=1, max_size=50))
def test_any_mix_of_half_width_kana_and_marks(value: str) -> None:
    fixed = apply(value, suggestions(value))
    assert fixed == meant(value)
    assert NAME.validate_python(fixed) == fixed


def _chunks(values: list[str], size: int) -> list[str]:
    """The inputs joined into names of at most `size` characters."""
    chunks = [""]
    for value in values:
        if len(chunks[-1]) + len(value) > size:
            chunks.append("")
        chunks[-1] += value
    return chunks


async def test_the_service_accepts_the_suggestions_applied(client: httpx.AsyncClient, world: World) -> None:
    admin = world.a.admin.headers
    for number, name in enumerate(_chunks(INPUTS, 50)):
        body = {"code": f"K{number}", "name": name, "short_name": "カナ"}
        refused = await client.post(f"{world.a.path}/locations", json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        fixed = apply(name, error["invalid_characters"])
        created = await client.post(f"{world.a.path}/locations", json={**body, "name": fixed}, headers=admin)
        assert created.status_code == 201, created.text
        assert created.json()["name"] == meant(name)
