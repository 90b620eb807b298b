"""Warm restarts: which modules a standby interpreter imports ahead of time, and when it may be used.

After an app serves, the supervisor asks it for its ``sys.modules`` (names in
import order, with their files).  The modules that are not the project's —
the standard library, installed packages — are what a standby process
imports while the app runs.  On the next change the standby runs the target
at once: only the project's own modules are imported on the critical path.

On Linux the standby is a fork server (``child/forkserver.py``): the process
that imported the libraries stays a template and forks a ready copy of itself
for each restart, in milliseconds; where a copy could not be what a new
process would be, it refuses, and standbys are new processes again.

Pure functions over names and paths first; then ``Standbys``, the standby
process's lifecycle (the supervisor calls it, it never calls back).
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
from typing import Any, Callable

from devserver import channel as msg
from devserver.channel import PREIMPORT
from devserver.filters import file_on_disk, is_module_file
from devserver.output import Output, display_path
from devserver.process import launch_dir_identity
from devserver.session import AppSession

# Monkey-patching libraries: they must be imported (and patch) before everything else.
FIRST_IMPORTS = ("gevent", "eventlet")
_NOT_PREIMPORTED = ("__main__", "__mp_main__")


def forkserver_wanted() -> bool:
    """Standbys forked from a fork server (Linux): not elsewhere, not with ``TDEV_FORKSERVER=0``."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get("TDEV_FORKSERVER") != "0"


def preimport_names(snapshot, is_library, realpath=os.path.realpath) -> tuple[list[str], str | None]:
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
    """A changed file belongs to what the standby imported (or to a library): it is stale."""
    return stale_reason(changed, standby_files, is_library) is not None


def stale_reason(changed, standby_files, is_library) -> tuple[str, str] | None:
    """``(kind, why)`` when a warm standby cannot run this change, else None.  ``kind``: "plugin" (a
    project file a library imported ahead of the app's code, an entry point, say) or "library" (a module
    outside the project; other files there, a config file given to ``autoreload.watch``, are no reason)."""
    for path in changed:
        if path in standby_files and not is_library(path):
            return "plugin", (f"{display_path(path)} is the project's, but a library imports it before the app's "
                              "code runs (a plugin or an entry point), so the standby had imported it already")
        if path in standby_files or (is_library(path) and is_module_file(path)):
            return "library", (f"{display_path(path)} is outside the project (a library), and the standby imports "
                               "those ahead of time")
    return None


# A second standby is kept only when a standby takes this long to import the app's libraries: then a
# save soon after a restart (the second of two quick saves) would wait for the one rebuilt after it.
# Below it, the rebuilt one is ready before anyone saves again, and one process is enough.
SECOND_STANDBY_MS = 200.0
FORK_TIMEOUT = 2.0  # seconds the fork server may take to answer a fork (it takes milliseconds)
# After a restart, while a ready standby is still kept, its replacement starts this much later: a quick
# second save then runs in the ready one without an import of the libraries beside it on the CPU.
REFILL_DELAY = 1.0


class Standby:
    """One pre-started app process waiting for "go", of one of two kinds.

    *Warm*: the app's libraries (``names``) imported, so only the project's own modules are left for
    the restart.  *Spare*: a bare interpreter (no names), started when a change comes and no warm
    standby is there, so that at least the interpreter's start-up overlaps the burst and the old
    app's exit.
    """

    def __init__(self, session: AppSession, names: list[str]) -> None:
        self.session = session
        self.names = names
        self.files: set[str] = set()  # the files of its modules, once it is ready
        self.ready = False
        self.ready_at_go = False  # it had imported everything when it was told to go (a fully warm restart)
        self.changed: list[str] = []  # what changed for the restart it was told to go for
        self.cwd = launch_dir_identity()  # the directory it started in (replaced since: it cannot be used)
        self.forked = False  # a copy the fork server made (ready at once; it took the fork server's directory)

    @property
    def warm(self) -> bool:
        return bool(self.names)

    @property
    def label(self) -> str:
        return "standby" if self.warm else "pre-started process"


class Standbys:
    """The standbys' whole lifecycle, beside the supervisor.

    Built (again) from the serving app's modules when what they should import changed; a spare one
    started on a change when there is none; one told to go on a restart, or all thrown away when a
    changed file is one they imported; given up on for good when the app cannot have one or they keep
    exiting before they are used.  ``spawn(options)`` starts an app process (raises OSError).

    With a fork server: the template (``forkserver``) and one copy of it in the pool, made again after
    each restart.  Without one, usually one standby.  When a standby's imports take longer than
    ``SECOND_STANDBY_MS`` (a heavy app), two are kept: what they import is outside the project,
    which a save of the project does not change, so one started before a restart is as good for the
    next; the second of two quick saves finds one ready instead of waiting for the one rebuilt after
    the first.
    """

    def __init__(self, spawn: Callable[[dict], AppSession], output: Output, is_library: Callable[[str], bool],
                 off: str | None = None, call_later: Callable[[float, Callable[[], None]], Any] | None = None,
                 adopt: Callable[[int, socket.socket], AppSession] | None = None) -> None:
        self.spawn = spawn
        # The fork server (``child/forkserver.py``): a warm standby that forks ready copies of itself, each
        # taken over with ``adopt(pid, this side of its channel)``.  None: standbys are new processes.
        self.adopt = adopt
        self.forkserver: Standby | None = None
        self.fork_off: str | None = None if adopt is not None else "not available here"
        self.call_later = call_later  # the loop's (None: a replacement starts at once)
        self._refill: Any = None  # the timer of a delayed replacement
        self.out = output
        self.is_library = is_library
        self.off = off  # why warm standbys are off (None: they are on); spare ones are always used
        self.pool: list[Standby] = []  # waiting for "go", oldest first
        self._taken: Standby | None = None  # the last one told to go (its "ready" may come late)
        self._failures = 0
        self._last_names: list[str] = []  # what the last warm standby imported: a serving app's libraries
        self._import_ms: float | None = None  # how long the last warm standby took to be ready: a cold start's extra
        self._fastest_ms: float | None = None  # the fastest standby of these libraries (a busy machine only adds)
        self._said: set[str] = set()  # kinds of cold restart explained already
        self._project_files: set[str] = set()  # project files a library imported into a standby (plugins)
        self._realpath = functools.lru_cache(maxsize=None)(os.path.realpath)  # the same modules, every restart

    @property
    def current(self) -> Standby | None:
        """The standby the next restart would take (None: there is none)."""
        return self._best()

    def _best(self) -> Standby | None:
        ready = [s for s in self.pool if s.ready]
        if ready or self.pool:
            return (ready or self.pool)[0]
        return self.forkserver  # still importing (else it forks one first): it goes itself, as a standby would

    def _all(self) -> list[Standby]:
        return [*self.pool, *([self.forkserver] if self.forkserver is not None else [])]

    def _forking(self) -> bool:
        return self.fork_off is None and not self.off

    def wanted(self) -> int:
        """How many warm standbys to keep: two for an app whose libraries take long to import (one, a
        fork server's copy, when copies can be forked: the next is made in milliseconds)."""
        if self._forking():
            return 1
        return 2 if self._fastest_ms is not None and self._fastest_ms > SECOND_STANDBY_MS else 1

    def on_modules(self, message: dict) -> None:
        """The serving app's modules: (re)build the standbys if what they should pre-import changed."""
        if self.off:
            return
        snapshot, cut = message.get("modules"), message.get("environ_cut")
        if isinstance(snapshot, list) and isinstance(cut, int):
            snapshot = snapshot[:cut]  # libraries imported after the app set an env variable
        names, reason = preimport_names(snapshot if isinstance(snapshot, list) else [], self.is_library,
                                        self._realpath)
        if reason:
            self._turn_off(reason)
            self.discard()
            return
        # The same modules, maybe in another order (an app run by a standby imports in the standby's order,
        # and a library's lazy imports may come in any order): the standbys are as good as new ones.
        if any(set(s.names) != set(names) for s in self._all()) or set(names) != set(self._last_names):
            self.discard()
            self._fastest_ms = None  # other libraries: how long they take is not known yet
        if not self._forking() and self.call_later is not None and any(s.ready for s in self.pool) and \
                len(self.pool) < self.wanted():
            self._cancel_refill()
            self._refill = self.call_later(REFILL_DELAY, lambda: self._refill_now(names))
            return
        self._top_up(names)

    def _refill_now(self, names: list[str]) -> None:
        self._refill = None
        if not self.off and set(names) == set(self._last_names):
            self._top_up(names)

    def _cancel_refill(self) -> None:
        if self._refill is not None:
            self._refill.cancel()
            self._refill = None

    def _top_up(self, names: list[str]) -> None:
        """Start warm standbys (importing ``names``) until as many as wanted are kept.  Both may import at
        once: measured on two cores with the heavy benchmark app, one at a time left the second of two
        quick saves waiting for the refill (3.1x a normal warm restart, against 1.5x), and a third
        standby only added contention (saves in a row: 2.0x against 3.4x median but p90 584 ms)."""
        if names and self._forking():
            if self.forkserver is None:
                self._start_forkserver(names)
            elif self.forkserver.ready:
                while len(self.pool) < self.wanted() and self._forking():
                    if not self._fork():
                        break
            if self._forking():
                return
        while names and len(self.pool) < self.wanted():
            if not self._start(names):
                return

    def _start_forkserver(self, names: list[str]) -> None:
        try:
            session = self.spawn({"standby": True, "forkserver": True})
        except OSError as exc:
            self.out.debug(f"no fork server: {exc}")
            return
        session.send(PREIMPORT, names=names)
        self.forkserver = Standby(session, names)
        self._last_names = names
        self.out.debug(f"fork server {session.pid} importing {len(names)} modules")

    def _fork(self) -> bool:
        """A ready copy of the fork server, in the pool; False (and forks are off) when it refuses."""
        server = self.forkserver
        assert server is not None and self.adopt is not None
        started = time.monotonic()
        ours, theirs = socket.socketpair()
        try:
            sent = server.session.send(msg.FORK, fds=[theirs.fileno()])
        finally:
            theirs.close()
        reply = server.session.wait_for((msg.FORKED, msg.FORK_REFUSED), FORK_TIMEOUT) if sent else None
        pid = reply.get("pid") if reply is not None and reply["t"] == msg.FORKED else None
        if not isinstance(pid, int):
            ours.close()
            why = reply.get("reason") if reply is not None else None
            self._refuse_forks(str(why) if why else "it did not answer")
            return False
        standby = Standby(self.adopt(pid, ours), server.names)
        standby.forked, standby.cwd = True, server.cwd
        standby.ready, standby.files = True, server.files  # a copy of a ready one (its "ready" says so again)
        self.pool.append(standby)
        took = (time.monotonic() - started) * 1000
        self.out.debug(f"standby {pid} ready: forked from the fork server in {took:.1f} ms")
        return True

    def _refuse_forks(self, why: str) -> None:
        """No more copies: the fork server stays as an ordinary standby; standbys are new processes again."""
        self.fork_off = why
        self.out.debug(f"fork server: no copies ({why}): standbys are started as new processes")
        if self.forkserver is not None:
            self.pool.insert(0, self.forkserver)
            self.forkserver = None

    def after_failure(self) -> None:
        """The app ended by itself (a syntax error, an exception, an exit): the fix should be as fast as any
        restart, so a standby from the last good module list waits for it (the failed app sent none)."""
        if not self.off and not self.pool and self._last_names:
            self._top_up(self._last_names)

    def prestart(self) -> None:
        """A change and no standby: start a spare interpreter now (it runs the target from scratch)."""
        if not self._all():
            self._start([])

    def _start(self, names: list[str]) -> bool:
        try:
            session = self.spawn({"standby": True})
        except OSError as exc:
            self.out.debug(f"no standby: {exc}")
            return False
        session.send(PREIMPORT, names=names)
        self.pool.append(Standby(session, names))
        if names:
            self._last_names = names
            kept = f" (standby {len(self.pool)} of {self.wanted()})" if self.wanted() > 1 else ""
            self.out.debug(f"standby {session.pid} importing {len(names)} modules{kept}")
        return True

    def take(self, changed: list[str]) -> Standby | None:
        """A standby, told to go — or None (there is none, it is stale, or it is gone): a cold start.
        Every standby is checked against ``changed`` (a stale one is thrown away); of those left, the
        oldest one that is ready, else the oldest (the nearest to ready)."""
        said = False
        for standby in self._all():
            # Not ready yet: what it imports is not known, but project files earlier standbys imported (a plugin a
            # library loads) will be imported again.
            files = standby.files if standby.ready else self._project_files
            stale = stale_reason(changed, files, self.is_library) if standby.warm else None
            if stale is not None and not said:
                self._say_cold(*stale)
                said = True
            if stale is not None or standby.cwd is None or standby.cwd != launch_dir_identity():
                if stale is None:
                    self.out.debug("the working directory was removed or replaced since the standby started: "
                                   "cold start")
                self._remove(standby)
                standby.session.kill()
        if self.forkserver is not None and self.forkserver.ready and not any(s.ready for s in self.pool):
            self._top_up(self.forkserver.names)  # a copy in milliseconds, rather than the template itself
        best = self._best()
        if best is None:
            return None
        standby = best
        self._remove(standby)
        if not standby.session.go():
            standby.session.kill()
            return None
        standby.ready_at_go = standby.ready
        standby.changed = list(changed)
        self._taken = standby
        return standby

    def _remove(self, standby: Standby) -> None:
        if standby is self.forkserver:
            self.forkserver = None
        else:
            self.pool.remove(standby)

    def taken_by(self, session: AppSession) -> Standby | None:
        """The standby that became the app process ``session`` (None: it started as a new process)."""
        taken = self._taken
        return taken if taken is not None and taken.session is session else None

    def describe_taken(self, standby: Standby) -> str:
        """For -v: which standby the restart uses, and what is left."""
        if not standby.warm:
            return ""
        state = "ready" if standby.ready_at_go else "still importing: the app waits for it"
        left = len(self.pool)
        return f" ({state}; {left} more standby kept)" if left else f" ({state})"

    def _say_cold(self, kind: str, why: str) -> None:
        """Why this restart is cold and what that costs: once per kind (then under -v only)."""
        self.out.debug("a library or a pre-imported module changed: cold start")
        if kind in self._said:
            return
        self._said.add(kind)
        cost = f", ~{self._import_ms:.0f} ms more than a warm restart" if self._import_ms else ""
        what = "a change to it" if kind == "plugin" else "a change there"
        self.out.info(f"cold restart: {why}; {what} means importing the app's libraries again{cost} "
                      "(said once)")

    def on_ready(self, session: AppSession, message: dict) -> list[str]:
        """A standby imported what it was asked to.  Returns the changed files it had imported when it was
        told to go before it was ready (a plugin a library loads, saved meanwhile): the app it runs now
        may have the old version of them, and needs another restart."""
        standby = next((s for s in [*self._all(), self._taken] if s is not None and s.session is session), None)
        if standby is None:
            return []
        standby.files = {file_on_disk(os.path.realpath(p)) for p in message.get("files", []) if isinstance(p, str)}
        standby.ready = True
        skipped = message.get("skipped") or []
        if not standby.warm or standby.forked:
            return []
        self._project_files |= {path for path in standby.files if not self.is_library(path)}
        self._import_ms = (time.monotonic() - session.child.started) * 1000
        if set(standby.names) == set(self._last_names):
            self._fastest_ms = min(self._import_ms, self._fastest_ms or self._import_ms)
        what = "fork server" if standby is self.forkserver else "standby"
        self.out.debug(f"{what} {session.pid} ready in {self._import_ms:.0f} ms"
                       + (f" ({len(skipped)} modules left to the app: {', '.join(skipped[:5])})" if skipped else ""))
        if (standby in self.pool or standby is self.forkserver) and not self.off:
            self._top_up(standby.names)  # now it is known whether a second one pays (or copies can be made)
        stale = [path for path in standby.changed if path in standby.files]
        if standby is self._taken and stale:
            reason = stale_reason(stale, standby.files, self.is_library)
            if reason is not None:
                self._say_cold(*reason)
            return stale
        return []

    def on_lost(self, session: AppSession) -> None:
        """A standby process exited before it was told to go."""
        standby = next((s for s in self._all() if s.session is session), None)
        if standby is None:
            return  # one thrown away
        what = "fork server" if standby is self.forkserver else "standby"
        self._remove(standby)
        self._failures += 1
        self.out.debug(f"{what} {session.pid} {session.describe_exit()}")
        if self._failures >= 3:
            self._turn_off("the standby process keeps exiting before it is used")

    def _turn_off(self, reason: str) -> None:
        if not self.off:
            self.off = reason
            self.out.info(f"warm restarts off: {reason} — every restart starts a new interpreter and imports the "
                          "app's libraries again")

    def discard(self) -> None:
        """Every standby, killed (nothing of the app has run in them yet)."""
        self._cancel_refill()
        pool, self.pool = self._all(), []
        self.forkserver = None
        for standby in pool:
            standby.session.kill()
