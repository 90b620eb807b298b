"""Reports every module file the app imports, as it is imported.

A finder at the front of ``sys.meta_path`` asks the other finders (in order),
records the origin of each spec they return and hands the spec back unchanged,
so the import system itself is not altered.  Modules that were imported before
it was installed are swept from ``sys.modules`` once.

During start-up the paths are batched (one message instead of thousands of
sends on the reload's critical path) until the app listens, exits or fails;
meanwhile the lifeline thread sends what has piled up every ``BATCH_SECONDS``
(an app that never listens still gets its files watched), and stops batching
once a period passes without imports.  After that each import is reported at
once.  The supervisor treats a newly reported file modified after the app
started as a change, so nothing saved while a batch waits is lost.

It also lets other child modules run a function right after a given module has
been executed (``after_import``), which is how Tornado is patched without
importing Tornado up front.
"""

import os
import sys
import threading

from devserver import channel as msg

TYPE_CHECKING = False  # typing is imported for the type checker only: the app process does not pay for it
if TYPE_CHECKING:
    import types
    from collections.abc import Iterable, Sequence
    from importlib.machinery import ModuleSpec
    from typing import Any, Callable

    from devserver.channel import Channel

    Patch = Callable[[types.ModuleType], None]


BATCH_SECONDS = 0.3

_channel: "Channel | None" = None
_sent: "set[str]" = set()
_after: "dict[str, list[Patch]]" = {}
_pending: "dict[str, list[str]]" = {}
_batching = True
_lock = threading.Lock()


def install(channel: "Channel") -> None:
    global _channel
    _channel = channel
    sys.meta_path.insert(0, _ReportingFinder())
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_channel_in_fork)
    flush_modules()


def after_import(name: str, patch: "Patch") -> None:
    """Call ``patch(module)`` once ``name`` has been imported (now, if it already is)."""
    module = sys.modules.get(name)
    if module is not None:
        patch(module)
    else:
        _after.setdefault(name, []).append(patch)


def path_text(value: object) -> "str | None":
    """A path the app gave us as ``str``, ``bytes`` or any path-like (``pathlib.Path``), as text."""
    try:
        path = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        return None
    return os.fsdecode(path) if isinstance(path, bytes) else path


def report(kind: str, paths: "Iterable[object]") -> None:
    """Send file paths to the supervisor (``files`` or ``watch``), each once per kind."""
    if _channel is None:
        return
    fresh = []
    for raw in paths:
        path = path_text(raw)
        if path:
            key = kind + ":" + path
            if key not in _sent:
                _sent.add(key)
                fresh.append(os.path.abspath(path))
    if not fresh:
        return
    with _lock:
        if _batching:
            _pending.setdefault(kind, []).extend(fresh)
            return
    _channel.send(kind, paths=fresh)


def send_now(kind: str, **fields: "Any") -> None:
    """Send one message at once, batching or not (nothing in a forked helper)."""
    channel = _channel
    if channel is not None:
        channel.send(kind, **fields)


def end_batching() -> None:
    """Send what start-up collected; from now on each import is reported at once."""
    global _batching
    with _lock:
        _batching = False
    _send_pending()


def _send_pending() -> bool:
    """Send the reports collected so far; False when there were none."""
    with _lock:
        pending = list(_pending.items())
        _pending.clear()
    channel = _channel
    if channel is not None:
        for kind, paths in pending:
            channel.send(kind, paths=paths)
    return bool(pending)


def batching() -> bool:
    return _batching


def send_batch() -> None:
    """The lifeline's periodic flush: send what has piled up and keep batching while imports
    go on; when nothing new came since the last flush, start-up's imports are over: stop batching."""
    if not _send_pending():
        end_batching()


def start_batching() -> None:
    """Collect reports again (a standby about to run the target: its start-up is batched too)."""
    global _batching
    with _lock:
        _batching = True


def flush_modules() -> None:
    """Report the files of everything in ``sys.modules`` not reported yet."""
    report(msg.FILES, [getattr(m, "__file__", None) for m in list(sys.modules.values())])


def adopt(channel: "Channel") -> None:
    """A standby forked from a fork server reports on this channel (the fork made it forget it)."""
    global _channel, _lock
    _channel = channel
    _lock = threading.Lock()


def _forget_channel_in_fork() -> None:
    # A forked helper (multiprocessing, a user's fork) is not the app: it reports nothing.
    global _channel, _lock
    _channel = None
    _lock = threading.Lock()


class _ReportingFinder:
    """Delegates to the finders after it and reports where each module comes from."""

    def find_spec(self, fullname: str, path: "Sequence[str] | None" = None,
                  target: "types.ModuleType | None" = None) -> "ModuleSpec | None":
        meta_path = sys.meta_path
        try:
            start = meta_path.index(self) + 1
        except ValueError:
            return None
        for finder in meta_path[start:]:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.origin and spec.has_location:
            report(msg.FILES, [spec.origin])
        patches = _after.pop(fullname, None)
        if patches and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, patches)
        return spec

    def invalidate_caches(self) -> None:
        pass


class _PatchingLoader:
    """Wraps a loader: runs ``patches`` on the module right after it executed."""

    def __init__(self, loader: "Any", patches: "list[Patch]") -> None:
        self._loader = loader
        self._patches = patches

    def create_module(self, spec: "ModuleSpec") -> "types.ModuleType | None":
        return self._loader.create_module(spec)

    def exec_module(self, module: "types.ModuleType") -> None:
        self._loader.exec_module(module)
        for patch in self._patches:
            patch(module)

    def __getattr__(self, name: str) -> "Any":
        return getattr(self._loader, name)
