"""The app process side of restarting from the keyboard: say when the app reads the terminal.

When tdev reads the terminal for its own keys (Enter, ``rs`` Enter), the app and
tdev share it.  The rule: keys go to the app while it is reading the terminal,
to tdev otherwise.  So ``input()`` (which ``pdb`` and ``breakpoint()`` use) and
reads of ``sys.stdin`` tell the supervisor (``reading``) when they start and
when they end; the supervisor stops reading in between.  The prompt is printed
after the message is sent, so a user answering it types after tdev has stepped
aside.  Installed only when tdev reads the terminal; otherwise nothing changes.
"""

import builtins
import sys
import threading

from devserver import channel as msg
from devserver.child.streams import StreamProxy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from devserver.channel import Channel

_lock = threading.Lock()
_readers = 0  # reads in progress (threads, nested input() -> sys.stdin.readline())
_channel: "Channel | None" = None


def _begin() -> None:
    global _readers
    with _lock:
        _readers += 1
        first = _readers == 1
    if first and _channel is not None:
        _channel.send(msg.READING, on=True)


def _end() -> None:
    global _readers
    with _lock:
        _readers -= 1
        last = _readers == 0
    if last and _channel is not None:
        _channel.send(msg.READING, on=False)


def _reading(function: "Callable[..., Any]") -> "Callable[..., Any]":
    def read(*args: "Any", **kwargs: "Any") -> "Any":
        _begin()
        try:
            return function(*args, **kwargs)
        finally:
            _end()

    read.__name__ = getattr(function, "__name__", "read")
    read.__doc__ = getattr(function, "__doc__", None)
    return read


class ReadingStream(StreamProxy):
    """``sys.stdin`` itself to the app, except that its reads are announced."""

    __slots__ = ()

    def read(self, *args: "Any") -> "Any":
        return _reading(self._tdev_stream.read)(*args)

    def readline(self, *args: "Any") -> "Any":
        return _reading(self._tdev_stream.readline)(*args)

    def readlines(self, *args: "Any") -> "Any":
        return _reading(self._tdev_stream.readlines)(*args)

    def __iter__(self) -> "ReadingStream":
        return self

    def __next__(self) -> "Any":
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def install(channel: "Channel") -> None:
    """Announce the app's reads of the terminal (``input()``, ``sys.stdin``) to the supervisor."""
    global _channel
    stream = sys.stdin
    if stream is None or not hasattr(stream, "readline"):
        return
    _channel = channel
    builtins.input = _reading(builtins.input)
    proxy = ReadingStream(stream)
    sys.stdin = proxy
    if sys.__stdin__ is stream:
        sys.__stdin__ = proxy  # type: ignore[misc, assignment]
