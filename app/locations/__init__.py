"""Locations (依頼人拠点)."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.locations import messages as messages
