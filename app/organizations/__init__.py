"""Organizations (依頼人組織)."""

# Importing the package registers its messages with the kernel (app.text.messages).
from app.organizations import messages as messages
