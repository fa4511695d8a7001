"""Security: password hashing and rules, tokens, login attempts."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.security import messages as messages
