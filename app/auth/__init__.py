"""Authentication: principals, roles, permissions, tokens and logins."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.auth import messages as messages
