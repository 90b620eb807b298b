"""Warm restarts: which modules a standby interpreter imports ahead of time, and when it may be used.

After an app serves, the supervisor asks it for its ``sys.modules`` (names in
import order, with their files).  The modules that are not the project's —
the standard library, installed packages — are what a standby process
imports while the app runs.  On the next change the standby runs the target
at once: only the project's own modules are imported on the critical path.

Pure functions over names and paths; the processes are the supervisor's.
"""

import os

# Monkey-patching libraries: they must be imported (and patch) before everything else.
FIRST_IMPORTS = ("gevent", "eventlet")
_NOT_PREIMPORTED = ("__main__", "__mp_main__")


def preimport_names(snapshot, is_library, realpath=os.path.realpath) -> "tuple[list[str], str | None]":
    """The modules of ``snapshot`` (``[name, file]`` pairs in import order) a standby should import.

    Returns ``(names, None)``, or ``([], reason)`` when warm restarts cannot be used for this app.
    ``file`` is ``""`` for built-in and frozen modules and ``"?"`` for modules made at run time.
    """
    names = []
    for entry in snapshot:
        try:
            name, where = entry
        except (TypeError, ValueError):
            continue
        if not isinstance(name, str) or not isinstance(where, str):
            continue
        top = name.partition(".")[0]
        if top in FIRST_IMPORTS:
            return [], (f"the app imports {top}, whose monkey-patching must come before every other import")
        if name in _NOT_PREIMPORTED or top == "devserver" or where == "?":
            continue
        if where == "" or is_library(realpath(where)):
            names.append(name)
    return names, None


def must_cold_start(changed, standby_files, is_library) -> bool:
    """A changed file belongs to what the standby imported (or to an installed package): it is stale."""
    return any(path in standby_files or is_library(path) for path in changed)
