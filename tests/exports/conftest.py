"""Every test of this suite scans its answers and log lines for secrets (temporary passwords)."""

from tests.security.leaks import client, leaks

__all__ = ["client", "leaks"]
