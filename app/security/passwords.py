"""Password policy (SPEC §3.4; NIST SP 800-63B, OWASP ASVS 5.0 §6.2) and generated passwords."""

import gzip
import secrets
from functools import lru_cache
from importlib.resources import files

from app.http.errors import FieldError

MIN_LENGTH = 8
MAX_LENGTH = 128
# No look-alikes (0/O, 1/l/I) so that a password read off a registration notice is typed right.
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
GENERATED_LENGTH = 16


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of commonly used passwords, lower-cased."""
    raw = files("app.security").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(raw).decode().splitlines() if line.strip())


def password_errors(password: str, account_name: str | None, field: str = "password") -> list[FieldError]:
    """Every rule the password breaks; empty when it is acceptable. No composition rules."""
    if len(password) < MIN_LENGTH:
        return [FieldError(field, "password_too_short", {"min_length": MIN_LENGTH})]
    if len(password) > MAX_LENGTH:
        return [FieldError(field, "password_too_long", {"max_length": MAX_LENGTH})]
    errors = []
    lowered = password.lower()
    if account_name and account_name.lower() in lowered:
        errors.append(FieldError(field, "password_contains_login_id"))
    if lowered in common_passwords():
        errors.append(FieldError(field, "password_too_common"))
    return errors


def generate_password(length: int = GENERATED_LENGTH) -> str:
    """A random password (16 characters: ~94 bits) that satisfies the policy."""
    while True:
        candidate = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))
        if candidate.lower() not in common_passwords():
            return candidate
