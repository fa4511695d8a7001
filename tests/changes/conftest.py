"""Every test of the change feed scans its answers and log lines for secrets (a user's change
must never carry its password)."""

from tests.security.leaks import client, leaks

__all__ = ["client", "leaks"]
