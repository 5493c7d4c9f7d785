"""A bounded set of recently seen ids, for dedupe that does not grow without end.

The API assigns order ids (unique by construction) and enforces the client's idempotency key, so
the engine's dedupe only has to catch a broker redelivering a command it has already applied. A
redelivery comes within the broker's visibility window, so the last ``capacity`` ids are enough;
an id older than that is forgotten in first-in, first-out order. Eviction depends only on the
command stream, so it is deterministic, and the window is part of the snapshot.

An id can be added *flagged* (the engine flags an order id that a cancel named before the order
arrived): the flag says why the id is known, and is forgotten together with the id.

>>> ids = RecentIds(capacity=2)
>>> ids.add("a"), ids.add("a"), ids.add("b"), ids.add("c"), ids.has("a")
(True, False, True, True, False)
>>> ids.flag("d"), ids.is_flagged("d"), ids.as_list(), ids.flagged_list()
(None, True, ['c', 'd'], ['d'])
"""

from collections import deque


class RecentIds:
    """The last ``capacity`` distinct ids added, oldest first; some of them flagged."""

    __slots__ = ("capacity", "evicted", "fifo", "flagged", "members")

    def __init__(
        self, capacity: int, ids: list[str] | None = None, flagged: list[str] | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"dedupe capacity must be positive, was {capacity}")
        self.capacity = capacity
        self.members: set[str] = set()
        self.fifo: deque[str] = deque()
        self.flagged: set[str] = set()  # a subset of members
        self.evicted = False  # whether any id has been forgotten yet
        for value in ids or []:
            self.add(value)
        self.flagged.update(value for value in flagged or [] if value in self.members)
        # Once full, the window stays full; a window restored full may have evicted before.
        self.evicted = len(self.fifo) >= capacity

    def has(self, value: str) -> bool:
        return value in self.members

    def add(self, value: str) -> bool:
        """Remember ``value``; False if it was already known (and nothing changes)."""
        members = self.members
        size = len(members)
        members.add(value)  # one hash lookup instead of a membership test and an insert
        if len(members) == size:
            return False
        fifo = self.fifo
        fifo.append(value)
        if len(fifo) > self.capacity:
            oldest = fifo.popleft()
            members.discard(oldest)
            if self.flagged:
                self.flagged.discard(oldest)
            self.evicted = True
        return True

    def flag(self, value: str) -> None:
        """Remember ``value`` (if new) and flag it."""
        self.add(value)
        self.flagged.add(value)

    def is_flagged(self, value: str) -> bool:
        return value in self.flagged

    def as_list(self) -> list[str]:
        return list(self.fifo)

    def flagged_list(self) -> list[str]:
        """The flagged ids, oldest first (a set's order would differ from run to run)."""
        flagged = self.flagged
        return [value for value in self.fifo if value in flagged] if flagged else []
