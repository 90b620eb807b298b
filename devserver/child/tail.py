"""The app's last lines of output, for when it exits without a Python traceback.

A CLI framework that fails prints ``Error: ...`` and exits 1 (Celery does, for a
plugin that fails to load): the exit code alone says nothing.  So ``sys.stdout``
and ``sys.stderr`` are wrapped in a thin proxy: every call goes to the real
stream unchanged (same ``isatty()``, ``fileno()``, ``encoding``, ``buffer``;
attributes are read and set on the stream itself), and what ``write`` is given
is also kept in a small ring.  When the app exits by itself, its last lines go
to the supervisor (``output``), from an ``atexit`` handler registered before the
app's code runs, so it runs after the app's own handlers.

Only Python-level writes pass through here (``print``, ``logging``, tracebacks,
``sys.stderr.write``); ``os.write(2, ...)``, C extensions and child processes
write to the descriptors directly and are not seen.  An app that replaces
``sys.stdout`` with a stream of its own is seen only as far as the new stream
writes through the old one.  A process that ends with ``os._exit`` or a signal
sends nothing.
"""

import atexit
import os
import sys
from collections import deque

from devserver import channel as msg
from devserver.child.streams import StreamProxy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from devserver.channel import Channel

MAX_LINES = 20  # at most this many lines are sent,
MAX_LINE = 300  # each cut to this many characters (its start is kept: "Error: ..." comes first)
MAX_WRITE = 16384  # of a longer write, its end is kept
_SCAN = 65536  # at exit, at most this much of the end of the output is looked at
_CHUNKS = 256  # writes kept (print() writes the text and the newline separately)


class Tail:
    """The last writes, as they came (stdout and stderr interleaved, in order)."""

    def __init__(self) -> None:
        self.chunks: deque[str] = deque(maxlen=_CHUNKS)

    def keep(self, text: str) -> None:
        """One write's text (``TeeStream.write`` does the same inline)."""
        self.chunks.append(text if len(text) <= MAX_WRITE else text[-MAX_WRITE:])

    def lines(self) -> "list[str]":
        """The last lines of output, bounded (``MAX_LINES`` lines of at most ``MAX_LINE`` characters)."""
        chunks = list(self.chunks)
        # Whole from its first line: no write dropped, the first one not cut (nor skipped, below).
        whole = len(chunks) < _CHUNKS and not (chunks and len(chunks[0]) >= MAX_WRITE)
        picked: list[str] = []
        size = newlines = 0
        for chunk in reversed(chunks):  # from the end, just enough for MAX_LINES whole lines
            picked.append(chunk)
            size += len(chunk)
            newlines += chunk.count("\n")
            if newlines > MAX_LINES or size >= _SCAN:
                whole = False
                break
        lines = "".join(reversed(picked)).splitlines()
        if not whole and len(lines) > 1:
            del lines[0]  # what is left of a line whose start was dropped
        while lines and not lines[-1].strip():
            del lines[-1]
        return [line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…" for line in lines[-MAX_LINES:]]


class TeeStream(StreamProxy):
    """``stream`` itself to the app, except that what is written is also kept."""

    __slots__ = ("_tdev_keep",)

    def __init__(self, stream: "Any", tail: Tail) -> None:
        super().__init__(stream)
        object.__setattr__(self, "_tdev_keep", tail.chunks.append)

    def write(self, text: "Any") -> "Any":
        written = self._tdev_stream.write(text)
        if text.__class__ is str:  # Tail.keep, inlined: this runs on every write
            self._tdev_keep(text if len(text) <= MAX_WRITE else text[-MAX_WRITE:])
        return written

    def writelines(self, lines: "Any") -> None:
        for line in lines:
            self.write(line)


def install(channel: "Channel", stopping: "Callable[[], bool]") -> Tail:
    """Wrap ``sys.stdout`` / ``sys.stderr``; the last lines are sent at exit unless tdev stopped the app."""
    tail = Tail()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is None or not hasattr(stream, "write"):  # pythonw, or the descriptor was closed
            continue
        proxy = TeeStream(stream, tail)
        setattr(sys, name, proxy)
        if getattr(sys, f"__{name}__", None) is stream:  # `sys.stdout = sys.__stdout__` keeps the proxy
            setattr(sys, f"__{name}__", proxy)
    adopt()
    atexit.register(_send, channel, tail, stopping)
    return tail


_owner: "int | None" = None  # the process whose exit reports its last lines (not a process it forks)


def adopt() -> None:
    """This process's exit reports the last lines (it installed them, or it is a forked standby)."""
    global _owner
    _owner = os.getpid()


def _send(channel: "Channel", tail: Tail, stopping: "Callable[[], bool]") -> None:
    """At exit: the last lines to the supervisor (not from a forked process, not when tdev stopped the app)."""
    try:
        if os.getpid() != _owner or stopping():
            return
        lines = tail.lines()
        if lines:
            channel.send(msg.OUTPUT, lines=lines)
    except Exception:
        pass
