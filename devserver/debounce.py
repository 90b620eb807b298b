"""When a burst of file events is over.

A restart fires once no new event has arrived for ``quiet`` seconds, but never
later than ``max_wait`` after the first event of the burst (a file rewritten
without pause must not postpone the restart forever).  Pure: the caller passes
the clock in.
"""


class Debouncer:
    def __init__(self, quiet: float, max_wait: float = 1.0) -> None:
        self.quiet = quiet
        self.max_wait = max(max_wait, quiet)
        self.first: "float | None" = None
        self.last: "float | None" = None

    @property
    def pending(self) -> bool:
        return self.first is not None

    def event(self, now: float) -> None:
        if self.first is None:
            self.first = now
        self.last = now

    def deadline(self) -> "float | None":
        """The time at which the burst is over, or None when nothing is pending."""
        if self.first is None:
            return None
        return min(self.last + self.quiet, self.first + self.max_wait)

    def due(self, now: float) -> bool:
        deadline = self.deadline()
        return deadline is not None and now >= deadline

    def reset(self) -> None:
        self.first = self.last = None
