"""Clicks waiting for their event time to come, in due order."""

import heapq
from collections.abc import Iterator

from ctr.events import Click


class ClickSchedule:
    """A min-heap of clicks keyed by their ``ts`` (the moment each is to be sent)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Click]] = []
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, click: Click) -> None:
        """Schedule ``click`` to be sent at its ``ts``."""
        self._sequence += 1
        heapq.heappush(self._heap, (click.ts, self._sequence, click))

    def next_due(self) -> int | None:
        """Return the ``ts`` of the earliest click, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> Iterator[Click]:
        """Remove and yield, in order, every click with ``ts <= now_ms``."""
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            yield heapq.heappop(heap)[2]

    def drop_all(self) -> int:
        """Forget every scheduled click and return how many there were."""
        count = len(self._heap)
        self._heap.clear()
        return count
