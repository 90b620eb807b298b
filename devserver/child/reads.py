"""Reports the files the app reads, and the ones it writes, through an audit hook (``sys.addaudithook``).

Every ``open()`` in the process (``io.open``, ``os.open``, ``pathlib``, C code
through ``_Py_fopen``) raises the ``open`` audit event with the path, the mode
and the ``O_*`` flags, before the file is opened.  The hook sorts them:

* opened for writing, appending, creating or truncating (a log, a cache, an
  upload), or given to ``os.rename`` / ``os.replace`` / ``os.remove`` /
  ``os.truncate`` / ``sqlite3.connect`` (with SQLite's journal files): the
  path is *written* by the app, said to the supervisor at once (``written``),
  before the file changes, and from then on never a reason to restart, even if
  the app also reads it;
* opened for reading, inside the project trees, not a module (the import
  reporting covers those), not in an installed package: *read*.  Before the app
  first served, it goes out with the start-up batch of imported files
  (``reads``): a change restarts the app.  Once it serves, at once, with
  ``serving`` and what the template engine reading it says (``live``, from
  ``template_engines``: true when it reads the file again after a change,
  false when it caches it, null when it cannot tell) and the ``mtime`` of the
  version it reads; a file read again later (``again``) is one the app reads
  afresh.

Audit hooks cannot be removed, and this one sees every audit event of the
process (imports, sockets, ``sys._getframe``...).  So the common case costs one
comparison (not ``open``), or, for an ``open``, one dict look-up by the path as
given: each path is looked at in full once (``_known`` remembers the verdict;
``os.chdir`` clears it, as relative paths then mean other files).
"""

import os
import sys

from devserver import channel as msg
from devserver.child import imports, template_engines, tornado_hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Flags that mean the file may be changed through this descriptor.
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Files the import reporting covers, or that only Python itself reads.
_MODULE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".so", ".pyd", ".pth", ".zip", ".egg", ".whl")
_SKIPPED_PARTS = ("__pycache__", "-packages" + os.sep)
_KNOWN_MAX = 50000  # remembered paths; past that the memory starts over (a path is then looked at again)

# What ``_known`` remembers about a path, as given to ``open``:
_DONE = 0  # nothing more to do when it is read (not the project's, or already reported)
_ONCE = 1  # read once while serving, by an engine that does not say whether it caches: a second read tells
_WRITTEN = 2  # written by the app: said already

_known: "dict[Any, int]" = {}
_roots: "tuple[str, ...]" = ()
_written: "set[str]" = set()
_read_at_start: "dict[str, None]" = {}  # (an ordered set)


def read_at_start() -> "list[str]":
    """The project's files read so far before the app served (a standby's: read by a library it
    imported ahead of time, which the app would then not read afresh)."""
    return [path for path in _read_at_start if path not in _written]


def install(project_trees: "list[str]") -> None:
    """Start reporting (once, before the app's code runs): ``project_trees`` are the directories that count."""
    global _roots
    roots: list[str] = []
    for tree in project_trees:
        if isinstance(tree, str):
            for form in (tree, os.path.realpath(tree)):
                roots.append(form.rstrip(os.sep) + os.sep)
    _roots = tuple(dict.fromkeys(roots))
    try:
        sys.addaudithook(_audit)
    except Exception:  # another hook refuses new hooks (a sandbox): the app runs, its reads are not seen
        pass


def _audit(event: str, args: "tuple[Any, ...]") -> None:
    """Every audit event of the process comes here: keep the common paths short."""
    if event == "open":
        try:  # (an exception here would fail the app's open(): none gets out)
            path, mode, flags = args
            state = _known.get(path)
            if flags & _WRITE_FLAGS or (not flags and mode and _mode_writes(mode)):
                if state != _WRITTEN:
                    _wrote(path)
            elif state is None:
                _first_read(path)
            elif state == _ONCE:
                _read_again(path)
        except Exception:
            pass
    elif event in _OTHER_EVENTS:
        try:
            _other_event(event, args)
        except Exception:
            pass


def _mode_writes(mode: object) -> bool:
    """A C-level ``fopen`` reports its mode string and no flags: "w", "a", "r+", "x" write."""
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def _project_path(raw: object, modules: bool = False) -> "str | None":
    """The absolute path of a file the app opened, if it lies in a project tree (and is no module,
    unless ``modules``)."""
    try:
        if isinstance(raw, bytes):
            raw = os.fsdecode(raw)
        if not isinstance(raw, str):
            return None  # (a descriptor: ``open(fd)``)
        if not modules and raw.endswith(_MODULE_SUFFIXES):
            return None
        if raw.startswith(os.sep) and not raw.startswith(_roots) and os.sep + "." not in raw:
            return None  # (the common case, quickly: an absolute path elsewhere, nothing to normalise)
        path = os.path.abspath(raw)
    except (OSError, ValueError):  # (undecodable bytes, a NUL)
        return None
    if not path.startswith(_roots) or any(part in path for part in _SKIPPED_PARTS):
        return None
    return path


def _remember(raw: object, state: int) -> None:
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    try:
        _known[raw] = state
    except TypeError:  # an unhashable path-like object: looked at each time
        pass


def _first_read(raw: object) -> None:
    path = _project_path(raw)
    if path is None or path in _written:
        _remember(raw, _DONE)
        return
    if not tornado_hooks.has_served():
        _remember(raw, _DONE)
        _read_at_start[path] = None
        imports.report(msg.READS, [path])  # batched with start-up's imported files
        return
    live = template_engines.rereads_on_change(sys._getframe(2))
    _remember(raw, _ONCE if live is None else _DONE)
    try:
        mtime = os.stat(path).st_mtime_ns  # the version read: a save before tdev watches it is still a change
    except OSError:
        return
    imports.send_now(msg.READS, paths=[path], serving=True, live=live, mtime=mtime)


def _read_again(raw: object) -> None:
    """Read again while serving, by code that does not say whether it caches: it reads it afresh."""
    _remember(raw, _DONE)
    path = _project_path(raw)
    if path is not None:
        imports.send_now(msg.READS, paths=[path], serving=True, again=True)


def _wrote(raw: object) -> None:
    """Opened for writing (or renamed, removed, truncated, connected to as a database)."""
    _remember(raw, _WRITTEN)
    path = _project_path(raw, modules=True)
    if path is not None and path not in _written:
        _written.add(path)
        imports.send_now(msg.WRITTEN, paths=[path])


def _other_event(event: str, args: "tuple[Any, ...]") -> None:
    if event == "os.chdir":
        _known.clear()  # relative paths name other files now
        return
    if event == "sqlite3.connect":
        database: Any = args[0] if args else None
        if hasattr(database, "__fspath__"):
            database = os.fspath(database)
        if isinstance(database, str) and database.startswith("file:"):
            database = database[5:].split("?", 1)[0]
        if database in (":memory:", "", b":memory:", b"", None):
            return
        if isinstance(database, str):  # and the files SQLite keeps beside it, written by its C code
            paths: tuple[Any, ...] = (database, *(database + suffix for suffix in ("-journal", "-wal", "-shm")))
        else:
            paths = (database,)
    elif event == "os.rename":
        paths = args[:2]
    else:  # os.remove, os.truncate: the path (or a descriptor: nothing to say)
        paths = args[:1]
    for path in paths:
        if hasattr(path, "__fspath__"):
            path = os.fspath(path)
        if (path.__class__ is str or path.__class__ is bytes) and _known.get(path) != _WRITTEN:
            _wrote(path)


_OTHER_EVENTS = frozenset({"os.chdir", "sqlite3.connect", "os.rename", "os.remove", "os.truncate"})
