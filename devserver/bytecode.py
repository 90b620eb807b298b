"""Stale bytecode: drop the cached ``.pyc`` of each changed source before the app starts again.

CPython trusts a ``__pycache__`` entry whose recorded source mtime (whole seconds) and size match the
source file.  Two saves of the same size within one second — a one-character edit, and tdev
restarts in milliseconds — leave the first save's bytecode looking valid for the second: the app
would run stale code.  Removing the entry of every changed ``.py`` file before the restart makes
the import compile the source that is on disk (and write a fresh entry), warm or cold.
"""

import glob
import importlib.util
import os


def cached_files(source: str) -> "list[str]":
    """The bytecode files CPython may have written for ``source`` (every version, every optimisation level)."""
    try:
        plain = importlib.util.cache_from_source(source)  # honours sys.pycache_prefix
    except (NotImplementedError, ValueError):  # no cache tag; or a name that is not a source
        return []
    stem = plain.rpartition(".")[0].rpartition(".")[0]  # .../__pycache__/mod (.cpython-311.pyc cut off)
    # Every interpreter's (the app may run on another Python than tdev's) and every optimisation level
    return sorted(glob.glob(glob.escape(stem) + ".*.pyc"))


def forget_bytecode(changed) -> int:
    """Remove the cached bytecode of the changed ``*.py`` files; returns how many files went."""
    removed = 0
    for path in changed:
        if not path.endswith(".py"):
            continue
        for cached in cached_files(path):
            try:
                os.unlink(cached)
                removed += 1
            except OSError:  # gone already, or not ours to remove: the import checks it as usual
                pass
    return removed
