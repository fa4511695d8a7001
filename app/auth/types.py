"""The login ID (ログインID): what names a person in tokens, logins and user records (SPEC §2.3)."""

import string
from typing import Annotated, Final

from app.text.types import ascii_code

LOGIN_ID_MIN_LENGTH: Final = 3
LOGIN_ID_MAX_LENGTH: Final = 32
LOGIN_ID_CHARACTERS: Final = string.ascii_letters + string.digits + "._-"

_LOGIN_ID = ascii_code(
    LOGIN_ID_CHARACTERS,
    code="invalid_login_id",
    min_length=LOGIN_ID_MIN_LENGTH,
    max_length=LOGIN_ID_MAX_LENGTH,
    description=f"{LOGIN_ID_MIN_LENGTH} to {LOGIN_ID_MAX_LENGTH} half-width characters of `A-Z a-z 0-9 . _ -`",
    pattern="^[A-Za-z0-9._-]+$",
)

# ログインID: 3 to 32 of A-Z a-z 0-9 . _ -
LoginId = Annotated[str, _LOGIN_ID]


def is_login_id(value: str) -> bool:
    """Whether a value could be a login ID at all (anything else names nobody)."""
    return _LOGIN_ID.fits(value)
