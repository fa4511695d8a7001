"""The validated types of users (依頼人ユーザー)."""

from typing import Annotated, Final

from app.text.types import free_text

USER_NAME_MAX_LENGTH: Final = 50

# ユーザー名: 1 to 50 characters without control characters.
UserName = Annotated[
    str,
    free_text(
        max_length=USER_NAME_MAX_LENGTH,
        description=f"1 to {USER_NAME_MAX_LENGTH} characters, no control characters",
    ),
]
