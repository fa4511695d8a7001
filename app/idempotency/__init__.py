"""Idempotency-Key (SPEC §5.3)."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.idempotency import messages as messages
