"""The files the app reads and writes (``reads`` / ``written`` messages), taken in on the supervisor's side.

What the app process's audit hook (``child/reads.py``) saw becomes the watch set's:

* a file read before the app first served (a config, ``.env``, SQL, a data
  file) is watched like an imported module: a change restarts the app;
* a file first read while it serves is watched too; a change only reloads the
  browsers when the app reads it afresh (its template engine re-reads changed
  files: Jinja2 ``auto_reload``, Mako ``filesystem_checks``, Tornado without
  ``compiled_template_cache``; or the app was seen reading it again), and
  restarts it otherwise (the engine caches it, or nothing says it does not);
* a file the app writes (opened for writing or appending, renamed, removed,
  opened as a SQLite database) is never a reason to do anything, even if the
  app also reads it, and stays so for the rest of the run.

Only files inside the project trees are reported (``--watch`` files count as
they did); ignored directories (``.git``, ``node_modules``, ``--ignore``) stay
ignored.  How each file is read is the *current* app's business: a new app
starts with none read live, so until it shows otherwise a change restarts it.
"""

from __future__ import annotations

import os
from typing import Callable

from devserver import channel as msg
from devserver.filters import PathFilter, is_under
from devserver.output import Output, display_path
from devserver.session import AppSession, Handler
from devserver.watcher import Watcher


class AppFiles:
    def __init__(self, watcher: Watcher, path_filter: PathFilter, output: Output,
                 on_changes: Callable[[list[str]], None], current: Callable[[], AppSession | None]) -> None:
        self.watcher = watcher
        self.filter = path_filter
        self.out = output
        self.on_changes = on_changes  # files saved after the app started, before it said it read them
        self.current = current  # the current app (a standby's or an old app's reads are only watched)
        self._said: set[str] = set()

    def handlers(self) -> dict[str, Handler]:
        """The messages handled here, for the supervisor's dispatch table."""
        return {msg.READS: self._on_reads, msg.WRITTEN: self._on_written}

    def new_app(self) -> None:
        """A new app: until it reads a file afresh while serving, a change to it restarts."""
        self.filter.read_live.clear()
        self.filter.read_at_start.clear()

    # -- reads -----------------------------------------------------------------------------------
    def _on_reads(self, session: AppSession, message: dict) -> None:
        paths = [p for p in map(self._worth_watching, message.get("paths") or ()) if p is not None]
        if not paths:
            return
        current = session is self.current()
        if message.get("serving"):
            self._read_while_serving(paths, message, current)
        else:
            self._read_at_start(session, paths, current)

    def _read_at_start(self, session: AppSession, paths: list[str], current: bool) -> None:
        if current:
            self.filter.read_at_start.update(paths)
            self.filter.read_live.difference_update(paths)
        unseen = [p for p in paths if not self.filter.matches(p)]  # the watcher let its events go by so far
        added = self.watcher.add_files(paths)
        if added:
            self._debug(added, "read at start-up: a change restarts the app")
        changed = session.saved_since_start(unseen)  # it may have read the old version
        if changed:
            self.on_changes(changed)

    def _read_while_serving(self, paths: list[str], message: dict, current: bool) -> None:
        live = message.get("live")
        fresh = bool(message.get("again")) or live is True
        if current and fresh:
            paths_live = [p for p in paths if p not in self.filter.read_at_start]
            self.filter.read_live.update(paths_live)
        unseen = [p for p in paths if not self.filter.matches(p)]  # the watcher let its events go by so far
        added = self.watcher.add_files(paths)
        self._changed_since(unseen, message.get("mtime"))
        # (In a Tornado template or static directory the app's settings decide, said for the directory.)
        said = [p for p in (paths if message.get("again") else added) if not self._in_assets(p)]
        if not said:
            return
        if message.get("again"):
            how = "read again while serving: a change reloads the browser"
        elif live is True:
            how = "read while serving by a template engine that re-reads changed files: a change reloads the browser"
        elif live is False:
            how = "read while serving by a template engine that caches it: a change restarts the app"
        else:
            how = "read while serving: a change restarts the app, unless it is read again"
        self._debug(said, how)

    def _in_assets(self, path: str) -> bool:
        return any(is_under(path, root) for root in self.filter.assets)

    def _changed_since(self, paths: list[str], mtime: object) -> None:
        """Saved since the app read it (before tdev watched it): a change, which the watcher missed."""
        if not isinstance(mtime, int):
            return
        changed = []
        for path in paths:
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    changed.append(path)
            except OSError:
                pass
        if changed:
            self.on_changes(changed)

    def _worth_watching(self, raw: object) -> str | None:
        """A reported path that may count: an existing file of the project, not ignored, not written."""
        if not isinstance(raw, str):
            return None
        path = os.path.realpath(raw)
        if path in self.filter.written:
            self._say_written(path)  # read too: it would be watched, the user may wonder why it is not
            return None
        if self.filter.is_library(path) or not os.path.isfile(path):
            return None
        root = self.filter.tree_of(path)
        if root is not None and self.filter.is_ignored(path, root):
            return None
        return path

    # -- writes ----------------------------------------------------------------------------------
    def _on_written(self, _session: AppSession, message: dict) -> None:
        for raw in message.get("paths") or ():
            if not isinstance(raw, str):
                continue
            path = os.path.realpath(raw)
            if path in self.filter.written:
                continue
            counted = self.filter.matches(path)
            self.filter.written.add(path)
            self.filter.files.discard(path)
            self.filter.read_live.discard(path)
            self.filter.read_at_start.discard(path)
            if counted:
                self._say_written(path)
            else:
                self.out.debug(f"{display_path(path)}: the app writes it (never a change)")

    def _say_written(self, path: str) -> None:
        """A file that would count (the app reads it, or a glob names it), once."""
        if path not in self._said:
            self._said.add(path)
            self.out.info(f"{display_path(path)}: the app writes it — its changes never restart the app")

    def _debug(self, paths: list[str], what: str) -> None:
        for path in paths[:5]:
            self.out.debug(f"watching {display_path(path)} ({what})")
        if len(paths) > 5:
            self.out.debug(f"... and {len(paths) - 5} more files ({what})")
