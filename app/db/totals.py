"""Totals of lists remembered per process, each with the stamp it was counted at (see
`Repository.page`): a page whose own stamp is the same uses the remembered total instead of
counting again.

Exactness never rests on this store, only cost: a total is used only when the page read in the
same statement the same stamp as the count did, and a stamp moves whenever the counted rows may
change (the list's owner chooses it, see `Repository.listed`). What the store must get right is
WHICH count a key names: the count's own SQL as compiled for the database at hand, every value
it carries (embedded and bound), and the engine's pool, so that two databases (tests, a second
engine) never share a total.
"""

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from threading import Lock
from weakref import WeakKeyDictionary

from sqlalchemy.pool import Pool

# Totals remembered per engine: a few hundred bytes each (the SQL text is shared by its keys).
REMEMBERED_TOTALS = 4096


@dataclass(frozen=True, slots=True)
class Counted:
    """A total and the stamp its count read, in the same statement."""

    stamp: Hashable
    total: int


class Totals:
    """A bounded LRU of counted totals by key. Thread-safe: a process may run several event
    loops (tests start servers in threads), each a reader and writer."""

    def __init__(self, size: int = REMEMBERED_TOTALS) -> None:
        self.size = size
        self._counted: OrderedDict[Hashable, Counted] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable) -> Counted | None:
        """The total counted under this key, if still remembered."""
        with self._lock:
            found = self._counted.get(key)
            if found is not None:
                self._counted.move_to_end(key)
            return found

    def put(self, key: Hashable, counted: Counted) -> None:
        """Remember a count (the oldest unused one goes when the store is full)."""
        with self._lock:
            self._counted[key] = counted
            self._counted.move_to_end(key)
            while len(self._counted) > self.size:
                self._counted.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        """Forget the total under this key, if any."""
        with self._lock:
            self._counted.pop(key, None)

    def __len__(self) -> int:
        return len(self._counted)


_BY_POOL: "WeakKeyDictionary[Pool, Totals]" = WeakKeyDictionary()
_BY_POOL_LOCK = Lock()


def totals_of(pool: Pool) -> Totals:
    """The totals of the database behind this pool (engines made with `execution_options`
    share their parent's pool, so a request's read engine and its write engine share them)."""
    with _BY_POOL_LOCK:
        found = _BY_POOL.get(pool)
        if found is None:
            found = _BY_POOL[pool] = Totals()
        return found
