"""Processes the app started that left its process group: found and stopped on restart and exit.

The app runs in a process group of its own, and one signal to the group stops it and everything it
started — except what left the group: a daemon that double-forks with ``setsid``, a helper started
with ``Popen(..., start_new_session=True)`` or ``process_group=0``.  Such a process survives every
restart and tdev's exit; if it inherited the listening socket, the port stays taken.

On Linux tdev makes itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): an orphan below it is
re-parented to tdev instead of to init.  So, once the app has exited and its group is gone, every
child of tdev that is not an app process tdev started is a stray of an earlier app: it is killed and
reaped.  Elsewhere this is a no-op (the process group still covers the usual case).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_ROUNDS = 20  # a stray that forks as it dies leaves another orphan: look again, this many times at most


def become_subreaper() -> bool:
    """Make orphans below this process its children (Linux); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The direct children of process ``pid`` (from /proc; empty where there is no /proc).

    An orphan is re-parented to one of the subreaper's threads, not always the main one: every
    thread's ``children`` list is read, or, without them, every process's parent."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        found: set[int] = set()
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.update(int(p) for p in f.read().split())
        return sorted(found)
    except (OSError, ValueError):
        pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    return [int(name) for name in names if name.isdigit() and _parent(int(name)) == pid]


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def kill_strays(keep: set[int]) -> list[int]:
    """Kill and reap every child of this process whose pid is not in ``keep`` (the app processes tdev
    started and still uses), and the orphans they leave as they die.  Returns the pids killed."""
    me = os.getpid()
    killed: list[int] = []
    for _ in range(_ROUNDS):
        strays = [pid for pid in children(me) if pid not in keep and pid not in killed]
        if not strays:
            break
        for pid in strays:
            _kill_tree(pid)
            killed.append(pid)
        for pid in strays:
            _reap(pid)
    return killed


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, its group and session if it leads them (what it started there goes too)."""
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)  # SIGKILL was sent: this returns at once
    except ChildProcessError:
        pass
    except OSError:
        pass
