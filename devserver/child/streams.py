"""A stand-in for one of the app's standard streams that the app cannot tell from the stream itself.

tdev wraps ``sys.stdout`` / ``sys.stderr`` (``tail.TeeStream``: what is written is also kept) and
``sys.stdin`` (``terminal.ReadingStream``: reads are announced).  Everything else is the stream's:
attributes read, set and deleted, iteration, ``with``, ``repr``, and ``__class__`` (so
``isinstance(sys.stdout, io.TextIOWrapper)`` stays true).  tdev's own fields start with ``_tdev_``.
"""

TYPE_CHECKING = False  # typing is imported for the type checker only: the app process does not pay for it
if TYPE_CHECKING:
    from typing import Any


class StreamProxy:
    __slots__ = ("_tdev_stream", "__weakref__")

    def __init__(self, stream: "Any") -> None:
        object.__setattr__(self, "_tdev_stream", stream)

    def __getattr__(self, name: str) -> "Any":
        if name.startswith("_tdev_"):  # not set (a copy made without __init__): no endless recursion
            raise AttributeError(name)
        return getattr(self._tdev_stream, name)

    def __setattr__(self, name: str, value: "Any") -> None:
        setattr(self._tdev_stream, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._tdev_stream, name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(sys.stdout, io.TextIOWrapper) stays true
        return type(self._tdev_stream)

    def __iter__(self) -> "Any":
        return iter(self._tdev_stream)

    def __next__(self) -> "Any":
        return next(self._tdev_stream)

    def __enter__(self) -> "Any":
        self._tdev_stream.__enter__()
        return self

    def __exit__(self, *exc_info: "Any") -> "Any":
        return self._tdev_stream.__exit__(*exc_info)

    def __repr__(self) -> str:
        return repr(self._tdev_stream)
