"""Agents (代理人) and designated agents (依頼先代理人): SPEC §2.7."""

from app.agents import messages

__all__ = ["messages"]
