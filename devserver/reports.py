"""What the app reports about itself, taken in on the supervisor's side.

The files it imported or registered with ``tornado.autoreload.watch`` are
watched from then on (one saved after the app started is a change already);
its template/static directories are watched too, and changes there need no
restart when the app reads them afresh; its last error, and its last lines of
output, are kept for the error page; a line it wants shown is printed once per
``tdev run``.
"""

from __future__ import annotations

import os
from typing import Callable

from devserver import channel as msg
from devserver import watchset
from devserver.errorpage import AppError
from devserver.filters import PathFilter, file_on_disk
from devserver.output import Output, plain
from devserver.session import AppSession, Handler
from devserver.watcher import Watcher

OUTPUT_LINES = 20  # the app's last lines of output kept (the app sends no more; a bound all the same)
OUTPUT_LINE_CHARS = 400


def output_lines(message: dict) -> list[str]:
    """The lines of an ``output`` message, bounded and made printable (colour codes dropped)."""
    raw = message.get("lines")
    raw = raw if isinstance(raw, list) else []
    lines = [plain(line[:OUTPUT_LINE_CHARS]) for line in raw if isinstance(line, str)]
    return lines[-OUTPUT_LINES:]


class AppReports:
    def __init__(self, watcher: Watcher, path_filter: PathFilter, output: Output,
                 on_changes: Callable[[list[str]], None]) -> None:
        self.watcher = watcher
        self.filter = path_filter
        self.out = output
        self.on_changes = on_changes  # files saved since the app started: changes the watcher could not see
        self.last_error: AppError | None = None  # the current app's, for the error page
        self._output: tuple[AppSession | None, list[str]] = (None, [])  # an app's last lines of output
        self._seen_paths: set[str] = set()  # paths as reported by the app, already handled
        self._said: set[str] = set()

    def handlers(self) -> dict[str, Handler]:
        """The messages handled here, for the supervisor's dispatch table."""
        return {
            msg.FILES: self._on_files,
            msg.WATCH: self._on_files,
            msg.ERROR: self._on_error,
            msg.OUTPUT: self._on_output,
            msg.ASSETS: lambda _s, m: self._on_assets(m),
            msg.INFO: lambda _s, m: self._say_once(str(m.get("msg", ""))),
        }

    def new_app(self) -> None:
        """A new app starts: the old one's error is no longer the news."""
        self.last_error = None
        self._output = (None, [])

    def output_of(self, session: AppSession) -> list[str]:
        """The last lines ``session``'s app printed (as text, on one line each), if it sent them."""
        owner, lines = self._output
        return lines if owner is session else []

    def _on_files(self, session: AppSession, message: dict) -> None:
        self._watch_reported(session, message.get("paths", []))

    def _on_error(self, session: AppSession, message: dict) -> None:
        self._watch_reported(session, message.get("paths", []))
        self.last_error = AppError(str(message.get("summary", "")), str(message.get("traceback", "")))

    def _on_output(self, session: AppSession, message: dict) -> None:
        self._output = (session, output_lines(message))

    def _watch_reported(self, session: AppSession, raw_paths: list) -> None:
        """Watch files the app reported; one saved after the app started is a change already."""
        fresh = [p for p in raw_paths if isinstance(p, str) and p not in self._seen_paths]
        self._seen_paths.update(fresh)
        # A module imported from a zip archive names a path inside it: the archive is the file watched.
        added = self.watcher.add_files(list(dict.fromkeys(file_on_disk(os.path.realpath(p)) for p in fresh)))
        if added:
            self.out.debug(watchset.describe(added))
        changed = session.saved_since_start(added)
        if changed:
            self.on_changes(changed)

    def _on_assets(self, message: dict) -> None:
        """The app's template/static directories: changes there count, and need no restart if read live."""
        live = bool(message.get("live"))
        for raw in message.get("paths", []):
            if not isinstance(raw, str):
                continue
            root = os.path.realpath(raw)
            if self.filter.assets.get(root) == live:
                continue
            self.filter.add_assets(root, live)
            self.watcher.add_tree(root)
            self.out.debug(f"watching {root} ({'reloading the browser only' if live else 'restarting'} on changes)")

    def _say_once(self, message: str) -> None:
        if message and message not in self._said:
            self._said.add(message)
            self.out.info(message)
