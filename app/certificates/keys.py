"""What requester certificates' sealed values are bound to; the sealing is app/security/sealing.py.

The file and the password of a certificate are sealed under the configured key ring, each bound
to its organization, its certificate and its purpose; `ainas rotate-certificate-key` moves every
row to the current key.
"""


def associated_data(purpose: str, organization_id: int, certificate_id: str) -> bytes:
    """What a sealed value is bound to: its organization, its certificate and its purpose."""
    return f"ainas:certificate:{purpose}:{organization_id}:{certificate_id}".encode()
