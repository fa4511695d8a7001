"""CSV download and upload (SPEC §5.6)."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.exports import messages as messages
