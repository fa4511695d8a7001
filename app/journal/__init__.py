"""The journal: the audit trail, audited writes and the change feed."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.journal import messages as messages
