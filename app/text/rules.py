"""Text rules of SPEC §3.1 to §3.3: normalization, the full-width rule, and fix suggestions."""

import contextlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

# Unicode's White_Space property; str.strip() would also drop the controls U+001C..U+001F.
_WHITE_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# A value longer than this is answered "too long" without a per-character report, so that a
# 1 MiB body cannot turn into a million-entry error answer.
MAX_INSPECTED_LENGTH: Final = 1_000


def normalize(value: str) -> str:
    """Return value in Unicode NFC without leading and trailing white space of any width."""
    return unicodedata.normalize("NFC", value).strip(_WHITE_SPACE)


def search_form(value: str) -> str:
    """The form in which text filters compare both sides (SPEC §5.2): NFKC, case-folded, so that
    ﾃｽﾄ finds テスト, ００１ finds 001 and ＡＢＣ finds abc."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _is_jis_x_0208(ch: str) -> bool:
    """The exact rule of SPEC §3.1: two bytes in CP932 that also decode in Shift_JIS."""
    try:
        encoded = ch.encode("cp932")
        encoded.decode("shift_jis")
    except UnicodeError:
        return False
    return len(encoded) == 2


def _full_width_characters() -> frozenset[str]:
    """Apply the exact rule to every character that can map to a Shift_JIS double-byte code."""
    candidates: set[str] = set()
    for lead in (*range(0x81, 0xA0), *range(0xE0, 0xFD)):
        for trail in range(0x40, 0xFD):
            for codec in ("cp932", "shift_jis"):
                with contextlib.suppress(UnicodeDecodeError):
                    candidates.add(bytes((lead, trail)).decode(codec))
    return frozenset(filter(_is_jis_x_0208, candidates))


_FULL_WIDTH: Final = _full_width_characters()


def is_full_width(ch: str) -> bool:
    """Whether ch is one full-width (JIS X 0208 double-byte) character."""
    return ch in _FULL_WIDTH


# The full-width form of each printable ASCII character; IME full-width mode types ” and ’,
# because the Windows forms U+FF02 and U+FF07 are IBM extensions.
_FULL_WIDTH_OF_ASCII: Final = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {
    " ": "\u3000",
    '"': "\u201d",
    "'": "\u2019",
}

# Characters whose NFKC form is not the full-width character people mean.
_FULL_WIDTH_LOOK_ALIKES: Final = {
    "\uff9e": "\u309b",  # ﾞ: NFKC gives the combining mark U+3099
    "\uff9f": "\u309c",  # ﾟ
    "\u3099": "\u309b",  # a combining voiced mark left over after NFC
    "\u309a": "\u309c",
    "\u2014": "\u2015",  # em dash: JIS X 0208's horizontal bar
    "\u00a5": "\uffe5",  # yen sign, JIS X 0201's 0x5C
    "\u203e": "\uffe3",  # overline, JIS X 0201's 0x7E
    # IBM extension kanji and their JIS X 0208 forms
    "髙": "高",
    "﨑": "崎",
    "德": "徳",
    "栁": "柳",
    "瀨": "瀬",
    "淸": "清",
    "靑": "青",
    "黑": "黒",
    "增": "増",
    "寬": "寛",
    "槗": "橋",
}


def full_width_suggestion(ch: str) -> str | None:
    """Return the full-width character to use instead of ch, or None when there is none."""
    if is_full_width(ch):
        return ch
    if len(ch) != 1:
        return None
    candidate = _FULL_WIDTH_LOOK_ALIKES.get(ch)
    if candidate is None:
        folded = " " if unicodedata.category(ch) == "Zs" else unicodedata.normalize("NFKC", ch)
        candidate = _FULL_WIDTH_OF_ASCII.get(folded, folded)
    return candidate if is_full_width(candidate) else None


# What Japanese input methods type for these keys when not in half-width mode.
_ASCII_LOOK_ALIKES: Final = {
    "ー": "-",
    "\u2212": "-",
    "\u2010": "-",
    "\u2015": "-",
    "。": ".",
}


def ascii_suggestion(ch: str, allowed: str) -> str | None:
    """Return the character of allowed that ch is a wider or look-alike form of, or None."""
    if len(ch) != 1:
        return None
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        candidate = str(digit)
    else:
        folded = unicodedata.normalize("NFKC", ch)
        candidate = _ASCII_LOOK_ALIKES.get(folded, folded)
    return candidate if len(candidate) == 1 and candidate in allowed else None


@dataclass(frozen=True, slots=True)
class InvalidCharacter:
    """One offending character of a normalized value (SPEC §3.2)."""

    position: int
    character: str
    code_point: str
    suggestion: str | None

    def as_dict(self) -> dict[str, int | str | None]:
        """The `invalid_characters` entry of a problem's error."""
        return {
            "position": self.position,
            "character": self.character,
            "code_point": self.code_point,
            "suggestion": self.suggestion,
        }


def invalid_characters(
    normalized: str,
    is_valid: Callable[[str], bool],
    suggest: Callable[[str], str | None],
) -> list[InvalidCharacter]:
    """Every character of normalized that is_valid rejects, in order, with its suggestion."""
    return [
        InvalidCharacter(
            position=position,
            # A lone surrogate cannot be written as UTF-8; code_point still names it.
            character="\ufffd" if unicodedata.category(ch) == "Cs" else ch,
            code_point=f"U+{ord(ch):04X}",
            suggestion=suggest(ch),
        )
        for position, ch in enumerate(normalized)
        if not is_valid(ch)
    ]


# Half-width voiced and semi-voiced sound marks, and the combining marks NFKC turns them into.
_HALF_WIDTH_MARKS: Final = {"\uff9e": "\u3099", "\uff9f": "\u309a"}


def _composed(kana: str, mark: str) -> str | None:
    """The one full-width character a half-width kana and a following ﾞ or ﾟ make (ｶﾞ → ガ), or
    None when there is none in JIS X 0208 (ｱﾞ; ﾜﾞ and ｦﾞ, whose ヷ and ヺ JIS X 0208 lacks)."""
    combining = _HALF_WIDTH_MARKS.get(mark)
    if combining is None or not "\uff66" <= kana <= "\uff9d":
        return None
    composed = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", kana) + combining)
    return composed if len(composed) == 1 and is_full_width(composed) else None


def invalid_full_width_characters(normalized: str) -> list[InvalidCharacter]:
    """Every character that is not full-width, with the full-width one to use instead.

    A half-width kana and the sound mark after it are suggested as one composed character: the
    kana's suggestion is that character, the mark's is "" (delete it), so that applying every
    suggestion gives what was typed (SPEC §3.2). A mark that composes with nothing is ゛ or ゜.
    """
    found = invalid_characters(normalized, is_full_width, full_width_suggestion)
    for index in range(len(found) - 1):
        kana, mark = found[index], found[index + 1]
        composed = _composed(kana.character, mark.character)
        if composed is not None and mark.position == kana.position + 1:
            found[index] = replace(kana, suggestion=composed)
            found[index + 1] = replace(mark, suggestion="")
    return found


def invalid_ascii_characters(normalized: str, allowed: str) -> list[InvalidCharacter]:
    """Every character not in allowed, with the allowed character it is a form of."""
    return invalid_characters(normalized, allowed.__contains__, lambda ch: ascii_suggestion(ch, allowed))


_DIGITS: Final = "0123456789"


def invalid_half_width_digits(normalized: str) -> list[InvalidCharacter]:
    """Every character that is not a half-width digit, with the digit to use instead."""
    return invalid_ascii_characters(normalized, _DIGITS)


# Control (Cc), format (Cf: zero-width, bidi overrides) and lone surrogate (Cs) characters,
# and the line and paragraph separators, which act like the control character \n.
_CONTROL_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_control(ch: str) -> bool:
    """Whether ch is a control, format, surrogate or line-separator character."""
    return unicodedata.category(ch) in _CONTROL_CATEGORIES


def invalid_control_characters(normalized: str) -> list[InvalidCharacter]:
    """Every control character of normalized; none has a suggestion."""
    return invalid_characters(normalized, lambda ch: not is_control(ch), lambda ch: None)


# 郵便番号 (SPEC §2.8): seven half-width digits, typed with or without the hyphen after the third.
POSTAL_CODE_HYPHEN_POSITION: Final = 3


def invalid_postal_code_characters(normalized: str) -> list[InvalidCharacter]:
    """Every character that is not a half-width digit, with the digit to use instead; a hyphen
    after the third digit (`123-4567`) is allowed, and a full-width one there gets `-`."""
    found = invalid_characters(normalized, _DIGITS.__contains__, lambda ch: ascii_suggestion(ch, _DIGITS))
    return [
        replace(character, suggestion=ascii_suggestion(character.character, _DIGITS + "-"))
        if character.position == POSTAL_CODE_HYPHEN_POSITION
        else character
        for character in found
        if not (character.position == POSTAL_CODE_HYPHEN_POSITION and character.character == "-")
    ]
