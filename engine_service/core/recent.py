"""A bounded set of recently seen ids, for dedupe that does not grow without end.

The API assigns order ids (unique by construction) and enforces the client's idempotency key, so
the engine's dedupe only has to catch a broker redelivering a command it has already applied. A
redelivery comes within the broker's visibility window, so the last ``capacity`` ids are enough;
an id older than that is forgotten in first-in, first-out order. Eviction depends only on the
command stream, so it is deterministic, and the window is part of the snapshot.

>>> ids = RecentIds(capacity=2)
>>> ids.add("a"), ids.add("a"), ids.add("b"), ids.add("c"), ids.has("a")
(True, False, True, True, False)
"""

from collections import deque


class RecentIds:
    """The last ``capacity`` distinct ids added, oldest first."""

    __slots__ = ("capacity", "evicted", "fifo", "members")

    def __init__(self, capacity: int, ids: list[str] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"dedupe capacity must be positive, was {capacity}")
        self.capacity = capacity
        self.members: set[str] = set()
        self.fifo: deque[str] = deque()
        self.evicted = False  # whether any id has been forgotten yet
        for value in ids or []:
            self.add(value)
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
            members.discard(fifo.popleft())
            self.evicted = True
        return True

    def as_list(self) -> list[str]:
        return list(self.fifo)
