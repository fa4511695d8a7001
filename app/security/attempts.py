"""The one rule for counting wrong passwords (a person's lockout, a key's throttle), as SQL pieces.

An attempt is claimed in the database before its password is checked: one conditional UPDATE
counts it as a failure, only while the row is not blocked, and the claim that reaches the
threshold blocks the row at once. However many attempts arrive together, at most the threshold
of them are claimed, and so checked against the hash; the others find the row blocked and are
refused unchecked. A claim whose password proves right is given back: the count starts again,
and a block that this claim set ends (one set by another claim stays in force).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, literal, or_
from sqlalchemy.orm import InstrumentedAttribute


@dataclass(frozen=True, slots=True)
class FailureCounter:
    """A row's count of failed attempts and the time until which it takes no new attempt."""

    count: InstrumentedAttribute[int]
    until: InstrumentedAttribute[datetime | None]

    def live(self, now: datetime) -> ColumnElement[int]:
        """The failures that still count: none once the row's block has ended."""
        return case((self.until <= now, 0), else_=self.count)

    def blocked(self, now: datetime) -> ColumnElement[bool]:
        """Whether a block is in force."""
        return self.until > now

    def open(self, now: datetime) -> ColumnElement[bool]:
        """Whether the row takes a new attempt (the WHERE of a claim)."""
        return or_(self.until.is_(None), self.until <= now)

    def claim(
        self,
        now: datetime,
        threshold: int,
        block_until: datetime,
        counted: ColumnElement[int] | None = None,
    ) -> dict[str, Any]:
        """The SET of a claim: one more failure (until the password proves right), and the block
        from the threshold on. `counted` is what reaches the threshold: this row's live failures
        by default, or e.g. those of every row of a group (this row's included)."""
        counted = self.live(now) if counted is None else counted
        return {
            self.count.key: self.live(now) + 1,
            self.until.key: case(
                (counted + 1 >= threshold, literal(block_until, self.until.type)),
                else_=literal(None, self.until.type),
            ),
        }

    def give_back(self, claimed_block: datetime | None) -> dict[str, Any]:
        """The SET for a claim whose password was right: the count starts again, and the block
        this claim set (if it set one) ends."""
        if claimed_block is None:
            return {self.count.key: 0}
        return {
            self.count.key: 0,
            self.until.key: case(
                (self.until == literal(claimed_block, self.until.type), literal(None, self.until.type)),
                else_=self.until,
            ),
        }

    def not_blocked_by_others(self, now: datetime, claimed_block: datetime | None) -> ColumnElement[bool]:
        """No block in force, unless it is the one this claim set."""
        if claimed_block is None:
            return self.open(now)
        return or_(self.open(now), self.until == literal(claimed_block, self.until.type))
