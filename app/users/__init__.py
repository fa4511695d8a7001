"""Users (依頼人ユーザー)."""

from app.users import messages  # noqa: F401  (registers the package's codes)
