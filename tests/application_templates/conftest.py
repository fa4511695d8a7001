"""Every test of templates scans its answers and log lines for secrets."""

from tests.security.leaks import client, leaks

__all__ = ["client", "leaks"]
