"""When a burst of file events is over.

A restart fires once no new event has arrived for the quiet window, but never
later than ``max_wait`` after the first event of the burst (a file rewritten
without pause must not postpone the restart forever).

The quiet window grows with the size of the burst: one save (one to three
events) waits ``quiet`` seconds, while a ``git checkout`` or a code generator
(hundreds of events) waits up to ``quiet + burst_extra``, so a writer that is
briefly descheduled in the middle of a big burst does not split it into two
restarts.  Pure: the caller passes the clock in.
"""

PER_EVENT = 0.002  # seconds added to the quiet window per event after the first


class Debouncer:
    def __init__(self, quiet: float, max_wait: float = 1.0, burst_extra: float = 0.09) -> None:
        self.quiet = quiet
        self.max_wait = max(max_wait, quiet)
        self.burst_extra = burst_extra
        self.first: float | None = None
        self.last: float | None = None
        self.events = 0

    @property
    def pending(self) -> bool:
        return self.first is not None

    def event(self, now: float, count: int = 1) -> None:
        if self.first is None:
            self.first = now
        self.last = now
        self.events += count

    def window(self) -> float:
        """The quiet time that ends the current burst."""
        return self.quiet + min(max(self.events - 1, 0) * PER_EVENT, self.burst_extra)

    def deadline(self) -> "float | None":
        """The time at which the burst is over, or None when nothing is pending."""
        if self.first is None or self.last is None:
            return None
        return min(self.last + self.window(), self.first + self.max_wait)

    def due(self, now: float) -> bool:
        deadline = self.deadline()
        return deadline is not None and now >= deadline

    def reset(self) -> None:
        self.first = self.last = None
        self.events = 0
