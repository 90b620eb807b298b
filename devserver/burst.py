"""One burst of changes: which files changed, and whether the burst is over.

Editors and tools save in bursts (a backup renamed away then the file
written; a ``git checkout`` writing hundreds of files).  A restart in the
middle of one would run half-saved code, so the restart waits until the
burst is over: quiet for the debounce window (``Debouncer``), no changed
module missing (renamed away mid-save), no changed file still open for
writing.  Each of the last two may hold the restart back only briefly.

No timer and no clock of its own: the supervisor passes ``now`` in and arms
the timer at ``deadline()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Callable, Protocol

from devserver.debounce import Debouncer
from devserver.output import display_path

REFRESH_AFTER_EVENTS = 2000  # a burst this big may have overflowed the kernel's event queue
VANISHED_WAIT = 0.25  # seconds a watched module may be missing mid-save before the restart goes ahead
UNCLOSED_WAIT = 0.25  # seconds a changed file may stay open for writing before the restart goes ahead


class OpenWriters(Protocol):
    """What the watcher knows about files being written (``Watcher`` has both)."""

    def open_for_writing(self, paths: Iterable[str]) -> bool: ...

    def forget_open_writers(self) -> None: ...


class Burst:
    def __init__(self, debounce_seconds: float, is_watched_file: Callable[[str], bool],
                 exists: Callable[[str], bool] = os.path.exists) -> None:
        self.debouncer = Debouncer(debounce_seconds)
        self._changed: dict[str, None] = {}  # an ordered set: a 20 000-file burst must not cost O(n²)
        self.is_watched_file = is_watched_file
        self.exists = exists
        self._was_missing = False  # a changed module was missing at the end of the burst

    def record(self, paths: list[str], now: float) -> None:
        self._changed.update(dict.fromkeys(paths))
        self.debouncer.event(now, len(paths))

    @property
    def changed(self) -> list[str]:
        """The paths changed in this burst, each once, in the order first seen."""
        return list(self._changed)

    def deadline(self) -> float | None:
        """When the debounce window ends (on the ``time.monotonic`` clock), or None when no burst is on."""
        return self.debouncer.deadline()

    def quiet(self, now: float) -> bool:
        return self.debouncer.due(now)

    def over(self, now: float, writers: OpenWriters) -> bool:
        """Is the burst over?  If not, ask again at ``deadline()`` (which a held-back burst pushes on)."""
        if self.debouncer.pending and not self.debouncer.due(now):
            return False
        if self._module_still_missing(now) or self._still_being_written(now, writers):
            self.debouncer.event(now, 0)
            return False
        return True

    def take(self) -> tuple[list[str], bool]:
        """The changed paths, and whether the burst was big enough for events to have been lost; a new burst."""
        big = self.debouncer.events >= REFRESH_AFTER_EVENTS
        self.debouncer.reset()
        changed, self._changed = list(self._changed), {}
        return changed, big

    def _since_first(self, now: float) -> float:
        first = self.debouncer.first
        return now - first if first is not None else 0.0

    def _still_being_written(self, now: float, writers: OpenWriters) -> bool:
        """A changed file was modified but its writer has not closed it yet (an in-place save caught
        between truncating and writing): give it up to ``UNCLOSED_WAIT`` to finish."""
        if self._since_first(now) >= UNCLOSED_WAIT:
            writers.forget_open_writers()  # a file held open for good (a log?) must not hold restarts back
            return False
        return writers.open_for_writing(self._changed)

    def _module_still_missing(self, now: float) -> bool:
        """A changed module renamed away mid-save (vim's backup-then-write): wait for it to come back
        (up to ``VANISHED_WAIT``), then one more quiet window so the events of that write arrive first."""
        if self._since_first(now) < VANISHED_WAIT and any(
            self.is_watched_file(p) and not self.exists(p) for p in self._changed
        ):
            self._was_missing = True
            return True
        was_missing, self._was_missing = self._was_missing, False
        return was_missing


def describe_changes(paths: list[str]) -> str:
    """``a.py, b.py, c.py and 2 more changed``."""
    shown = [display_path(p) for p in paths[:3]]
    more = len(paths) - len(shown)
    text = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    return f"{text} changed"
