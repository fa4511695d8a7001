"""Validated field types of application templates (the rules of the kernel, app/text)."""

from typing import Annotated, Final

from app.text import rules as text
from app.text.types import TextRule

NOTES_MAX_LENGTH: Final = 200

# 備考: free text of 1 to 200 characters without control characters.
Notes = Annotated[
    str,
    TextRule(
        code="invalid_characters",
        find_invalid=text.invalid_control_characters,
        min_length=1,
        max_length=NOTES_MAX_LENGTH,
        description=f"At most {NOTES_MAX_LENGTH} characters, no control characters",
    ),
]
