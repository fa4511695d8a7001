"""Requester certificates (SPEC §2.6)."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.certificates import messages as messages
