"""Every test of this suite scans its answers and log lines for secrets (issue 5, item 6)."""

from tests.security.leaks import client, leaks

__all__ = ["client", "leaks"]
