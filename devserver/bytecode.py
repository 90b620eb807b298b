"""Stale bytecode: drop the cached ``.pyc`` of each changed source before the app starts again.

CPython trusts a ``__pycache__`` entry whose recorded source mtime (whole seconds) and size match the
source file.  Two saves of the same size within one second — a one-character edit, and tdev
restarts in milliseconds — leave the first save's bytecode looking valid for the second: the app
would run stale code.  Removing the entry of every changed ``.py`` file before the restart makes
the import compile the source that is on disk (and write a fresh entry), warm or cold.
"""

import importlib.util
import os


def _cache_stem(source: str) -> "tuple[str, str] | None":
    """(the ``__pycache__`` directory, the entry name up to its first dot) for ``source``."""
    try:
        plain = importlib.util.cache_from_source(source)  # honours sys.pycache_prefix
    except (NotImplementedError, ValueError):  # no cache tag; or a name that is not a source
        return None
    directory, name = os.path.split(plain)
    return directory, name.rpartition(".")[0].rpartition(".")[0]  # mod (.cpython-311.pyc cut off)


def _entries(directory: str, listed: "dict[str, list[str]]") -> "list[str]":
    if directory not in listed:
        try:
            listed[directory] = [name for name in os.listdir(directory) if name.endswith(".pyc")]
        except OSError:  # no __pycache__ (never imported, or bytecode writing off)
            listed[directory] = []
    return listed[directory]


def cached_files(source: str, listed: "dict[str, list[str]] | None" = None) -> "list[str]":
    """The bytecode files CPython may have written for ``source``: every interpreter's (the app may run
    on another Python than tdev's), every optimisation level.  ``listed`` caches directory listings."""
    found = _cache_stem(source)
    if found is None:
        return []
    directory, stem = found
    prefix = stem + "."
    names = _entries(directory, {} if listed is None else listed)
    return sorted(os.path.join(directory, name) for name in names if name.startswith(prefix))


def forget_bytecode(changed) -> int:
    """Remove the cached bytecode of the changed ``*.py`` files; returns how many files went.
    Each ``__pycache__`` is listed once: a 20 000-file burst costs 20 000 name checks, not listings."""
    removed = 0
    listed: dict[str, list[str]] = {}
    for path in changed:
        if not path.endswith(".py"):
            continue
        for cached in cached_files(path, listed):
            try:
                os.unlink(cached)
                removed += 1
            except OSError:  # gone already, or not ours to remove: the import checks it as usual
                pass
    return removed
