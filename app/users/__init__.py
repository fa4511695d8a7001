"""Users (依頼人ユーザー)."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.users import messages as messages
