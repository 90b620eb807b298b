"""The supervisor: one asyncio loop and a small explicit state machine.

States::

    RUNNING ──(child exits by itself)──────────► WAITING
       │  ▲                                          │
       │  └──── spawn when the burst is over ◄───────┤ (a change)
       ▼                                             │
    RESTARTING ◄──(a change)── RUNNING/WAITING ─────┘
    STOPPING  (a signal: stop the app, then leave)

The watcher (on its own thread) and the app's exit (a waiting thread) only
*report* to the loop; every decision is taken here, on the loop's thread.
On a change the old app is told to stop at once, while the debounce window
is still open, so stopping and waiting for the burst to end overlap.

Around the app, on the same loop: the listening sockets it asked for
(``sockets``), held across restarts; the error page served on them while it
is WAITING (``errorpage``); the browser live-reload WebSocket (``livereload``).
"""

import asyncio
import functools
import os
import signal
import sys
import time

from devserver import __version__
from devserver.config import RunConfig
from devserver.debounce import Debouncer
from devserver.errorpage import AppError, ErrorServer
from devserver.filters import PathFilter, own_dir, site_dirs, system_dirs
from devserver.livereload import LiveReloadServer, script as livereload_script
from devserver.output import Output, display_path
from devserver.process import Child, raise_open_files_limit, spawn
from devserver.sockets import HeldSockets, describe_key, socket_urls
from devserver.warm import must_cold_start, preimport_names
from devserver.watcher import Watcher

RUNNING, WAITING, RESTARTING, STOPPING = "running", "waiting", "restarting", "stopping"
REFRESH_AFTER_EVENTS = 2000  # a burst this big may have overflowed the kernel's event queue
VANISHED_WAIT = 0.25  # seconds a watched module may be missing mid-save before the restart goes ahead
UNCLOSED_WAIT = 0.25  # seconds a changed file may stay open for writing before the restart goes ahead


class Supervisor:
    def __init__(self, config: RunConfig, output: Output) -> None:
        self.config = config
        self.out = output
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # Tornado's IOLoop.current() (error page) wraps this loop
        self.state = RUNNING
        self.child: "Child | None" = None
        self.exit_code = 0  # tdev's own exit code: 0 after a requested stop
        self.debouncer = Debouncer(config.debounce_ms / 1000.0)
        self.changed: "list[str]" = []
        self._debounce_timer = None
        self._grace_timer = None
        self._said: "set[str]" = set()
        self._listening: "list | None" = None
        self._summary_shown = False
        self._change_seen_at: "float | None" = None
        self._seen_paths: "set[str]" = set()  # paths as reported by the app, already handled
        self._was_missing = False  # a changed module was missing at the end of the burst
        self.sockets = HeldSockets()
        self.error_server = ErrorServer()
        self.livereload: "LiveReloadServer | None" = None
        self._child_options: dict = config.child_options()
        self._child_options["project"] = [config.target.project_root(), *(p for p in config.watch if os.path.isdir(p))]
        self._restarted = False  # the next "serving" is after a restart: browsers reload
        self._browser_timer = None
        self._browser_changes: "list[str]" = []
        self._last_error: "AppError | None" = None
        # Warm restarts: a standby app process with the app's libraries imported, waiting for "go".
        self.standby: "Child | None" = None
        self._standby_names: "list[str]" = []
        self._warm_off: "str | None" = None if config.warm else "--no-warm"
        self._standby_failures = 0
        self._realpath = functools.lru_cache(maxsize=None)(os.path.realpath)  # the same modules, every restart
        self.filter = self._build_filter()
        self.watcher = Watcher(self.filter, self._on_changes, output, self.loop.call_soon_threadsafe, poll=config.poll)

    # -- set-up ---------------------------------------------------------------------
    def _build_filter(self) -> PathFilter:
        config = self.config
        path_filter = PathFilter(ignore=tuple(config.ignore), system=system_dirs(), site=site_dirs(), own=(own_dir(),))
        root = config.target.project_root()
        if os.path.dirname(root) == root:
            self.out.warn(f"the project directory is {root}: not watching the whole file system, "
                          "only imported files and --watch paths")
        else:
            path_filter.add_tree(root, ("*.py", *config.include))
        for path in config.watch:
            if os.path.isdir(path):
                path_filter.add_tree(path, ("*",))
            else:
                path_filter.files.add(path)
        script = config.target.script_path()
        if script:
            path_filter.files.add(script)
        return path_filter

    def run(self) -> int:
        loop = self.loop
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_exit, sig)
        self.out.info(f"tdev {__version__}: running {self.config.target.label} (restarts on changes, Ctrl-C quits)")
        if self.config.config_file:
            self.out.debug(f"settings from {self.config.config_file}")
        limit_note = raise_open_files_limit(self.config.max_open_files)
        if limit_note:
            self.out.info(limit_note)
        if self.config.livereload:
            self.livereload = LiveReloadServer()
            url = self.livereload.start()
            self._child_options["livereload_script"] = livereload_script(url)
            self.out.debug(f"browser live reload on {url}")
        started = time.monotonic()
        self.watcher.start()
        self.out.debug(f"watcher started in {(time.monotonic() - started) * 1000:.0f} ms")
        for line in self.watcher.describe():
            self.out.debug(line)
        self._spawn()
        try:
            loop.run_forever()
        finally:
            self._discard_standby()
            self.watcher.stop()
            self.error_server.stop()
            if self.livereload is not None:
                self.livereload.stop()
            self.sockets.close_all()
            loop.close()
        return self.exit_code

    # -- the app process --------------------------------------------------------------
    def _spawn(self, changed: "list[str]" = ()) -> None:
        self.state = RUNNING
        self.error_server.stop()  # before the app can accept: no request is answered twice
        self._last_error = None
        standby, self.standby = self.standby, None
        if standby is not None and standby.names and must_cold_start(changed, standby.files, self.filter.is_library):
            self.out.debug("an installed package or a pre-imported module changed: cold start")
            self._kill_standby(standby)
            standby = None
        if standby is not None and standby.channel.send("go"):
            child = standby
        else:
            if standby is not None:
                self._kill_standby(standby)
            try:
                child = spawn(self.config.target, self._child_options)
            except OSError as exc:
                self.out.error(f"cannot start the app: {exc}")
                self.state = WAITING
                return
            self._watch_child(child)
        self.child = child
        self.sockets.new_generation()
        if self._change_seen_at is not None:
            if child is standby:
                how = f"{'standby' if standby.names else 'pre-started process'} {child.pid} told to go"
            else:
                how = f"new app process {child.pid} started"
            self.out.debug(f"{how} {(time.monotonic() - self._change_seen_at) * 1000:.1f} ms after the change")
        if not self._summary_shown:
            self.loop.call_later(1.0, self._show_summary)

    def _watch_child(self, child: Child) -> None:
        self.loop.add_reader(child.channel.sock.fileno(), self._on_channel, child)
        child.on_exit(lambda c: self.loop.call_soon_threadsafe(self._on_exit, c))

    # -- warm restarts ------------------------------------------------------------------
    def _on_modules(self, child: Child, snapshot) -> None:
        """The serving app's modules: (re)build the standby if what it should pre-import changed."""
        if child is not self.child or self._warm_off or self.state == STOPPING:
            return
        names, reason = preimport_names(snapshot if isinstance(snapshot, list) else [], self.filter.is_library,
                                        self._realpath)
        if reason:
            self._warm_off = reason
            self.out.info(f"warm restarts off: {reason}")
            self._discard_standby()
            return
        if self.standby is not None and names == self._standby_names:
            return
        self._discard_standby()
        self._spawn_standby(names)

    def _spawn_standby(self, names: "list[str]") -> None:
        """A standby app process: ``names`` imported (none: a bare interpreter), waiting for "go"."""
        options = dict(self._child_options, standby=True)
        try:
            standby = spawn(self.config.target, options)
        except OSError as exc:
            self.out.debug(f"no standby: {exc}")
            return
        standby.names = names
        standby.channel.send("preimport", names=names)
        self._watch_child(standby)
        self.standby, self._standby_names = standby, names
        if names:
            self.out.debug(f"standby {standby.pid} importing {len(names)} modules")

    def _on_ready(self, child: Child, message: dict) -> None:
        child.files = {os.path.realpath(p) for p in message.get("files", []) if isinstance(p, str)}
        skipped = message.get("skipped") or []
        if not child.names:
            return
        self.out.debug(f"standby {child.pid} ready in {(time.monotonic() - child.started) * 1000:.0f} ms"
                       + (f" ({len(skipped)} modules left to the app: {', '.join(skipped[:5])})" if skipped else ""))

    def _on_standby_exit(self, child: Child) -> None:
        self._close_child(child)
        if child is self.standby:
            self.standby = None
            self._standby_failures += 1
            self.out.debug(f"standby {child.pid} {child.describe_exit()}")
            if self._standby_failures >= 3 and not self._warm_off:
                self._warm_off = "the standby process keeps exiting before it is used"
                self.out.info(f"warm restarts off: {self._warm_off}")

    def _discard_standby(self) -> None:
        standby, self.standby = self.standby, None
        if standby is not None:
            self._kill_standby(standby)

    def _kill_standby(self, standby: Child) -> None:
        standby.discarded = True
        standby.kill()  # nothing of the app has run in it yet

    def _close_child(self, child: Child) -> None:
        child.reap_group()
        try:
            self.loop.remove_reader(child.channel.sock.fileno())
        except (ValueError, OSError):
            pass
        child.channel.close()

    def _show_summary(self) -> None:
        if not self._summary_shown:
            self._summary_shown = True
            self.out.info(self.watcher.summary())

    def _on_channel(self, child: Child) -> None:
        messages = child.channel.receive()
        if messages is None:
            self.loop.remove_reader(child.channel.sock.fileno())
            return
        self._handle_messages(child, messages)

    def _handle_messages(self, child: Child, messages) -> None:
        for message in messages:
            kind = message["t"]
            if kind in ("files", "watch", "error"):
                self._watch_reported(child, message.get("paths", []))
                if kind == "error":
                    self._last_error = AppError(str(message.get("summary", "")), str(message.get("traceback", "")))
            elif kind == "bind":
                self._on_bind(child, message)
            elif kind == "serving":
                self._on_serving(child)
            elif kind == "modules":
                snapshot, cut = message.get("modules"), message.get("environ_cut")
                if isinstance(snapshot, list) and isinstance(cut, int):
                    snapshot = snapshot[:cut]  # libraries imported after the app set an env variable
                self._on_modules(child, snapshot)
            elif kind == "ready":
                self._on_ready(child, message)
            elif kind == "started":
                self._on_started(child, message)
            elif kind == "assets":
                self._on_assets(message)
            elif kind == "info":
                self._say_once(str(message.get("msg", "")))

    def _watch_reported(self, child: Child, raw_paths) -> None:
        """Watch files the app reported; one saved after the app started is a change already."""
        fresh = [p for p in raw_paths if isinstance(p, str) and p not in self._seen_paths]
        self._seen_paths.update(fresh)
        added = self.watcher.add_files([os.path.realpath(p) for p in fresh])
        changed = []
        for path in added:
            self.out.debug(f"watching {path}")
            try:
                if os.stat(path).st_mtime > child.started_wall:
                    changed.append(path)
            except OSError:
                pass
        if changed:
            self._on_changes(changed)

    def _on_bind(self, child: Child, request: dict) -> None:
        """The app wants listening sockets: hand out the held ones (bound the first time)."""
        reply = self.sockets.answer(request)
        self._report_released(self.sockets.released)
        if "error" in reply:
            self.out.error(reply["error"])
        child.channel.send("bound", id=request.get("id"), **reply)

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

    def _report_released(self, keys) -> None:
        for key in keys:
            self.out.info(f"closed {describe_key(key)}: the app no longer listens there")
        self.sockets.released.clear()

    def _on_serving(self, child: Child) -> None:
        if child is not self.child:
            return
        if self._restarted:
            self._restarted = False
            if self.livereload is not None and self.livereload.broadcast("reload"):
                self.out.debug("browsers told to reload")
        self._report_released(self.sockets.release_unused())
        urls = socket_urls(self.sockets.sockets())
        if urls and urls != self._listening:
            self._listening = urls
            self.out.ok(f"app listening on {', '.join(urls)}")
        if self._change_seen_at is not None:
            self.out.debug(f"serving again {(time.monotonic() - self._change_seen_at) * 1000:.0f} ms after the change")
            self._change_seen_at = None
        self._show_summary()
        if not self._warm_off:
            child.channel.send("modules?")

    def _on_started(self, child: Child, message: dict) -> None:
        """The app process is about to run the first line of the target."""
        at = message.get("at")
        if child is self.child and self._change_seen_at is not None and isinstance(at, (int, float)):
            how = "warm" if message.get("warm") else "cold"
            self.out.debug(f"target code running {(at - self._change_seen_at) * 1000:.1f} ms after the change ({how})")

    def _say_once(self, message: str) -> None:
        if message and message not in self._said:
            self._said.add(message)
            self.out.info(message)

    def _on_exit(self, child: Child) -> None:
        if child is not self.child:
            self._on_standby_exit(child)
            return
        child.reap_group()
        try:
            self.loop.remove_reader(child.channel.sock.fileno())
        except (ValueError, OSError):
            pass
        # Last words: files the app reported just before it died.
        while True:
            messages = child.channel.receive()
            if not messages:
                break
            self._handle_messages(child, messages)
        child.channel.close()
        self.child = None
        self._cancel_grace()
        if child.stop_sent is not None:
            self.out.debug(f"app process {child.pid} stopped {(time.monotonic() - child.stop_sent) * 1000:.1f} ms after it was told to")
        if self.state == STOPPING:
            self.loop.stop()
            return
        if self.state == RESTARTING:
            self._maybe_restart()
            return
        # The app ended by itself.
        self.state = WAITING
        how = child.describe_exit()
        self.out.error(f"app {how} — waiting for changes before restarting")
        error = self._last_error or AppError(f"The app {how}.")
        if self.sockets.sockets():
            self.error_server.start(self.sockets.sockets(), error)
            self.out.debug("answering on the app's sockets with the error until it serves again")

    # -- changes ------------------------------------------------------------------------
    def _on_changes(self, paths) -> None:
        if self.state == STOPPING:
            return
        if (
            self.livereload is not None
            and self.state == RUNNING
            and all(self.filter.is_live_asset(p) for p in paths)
        ):
            self._browser_only(paths)
            return
        now = time.monotonic()
        if self._change_seen_at is None:
            self._change_seen_at = now
        for path in paths:
            if path not in self.changed:
                self.changed.append(path)
        self.debouncer.event(now, len(paths))
        if self.state == RUNNING and self.child is not None:
            # Stop the old app right away: the debounce window and its shutdown overlap.
            self.state = RESTARTING
            self._stop_child()
        elif self.state == WAITING:
            self.state = RESTARTING
        if self.standby is None and self.state == RESTARTING:
            # No warm standby: start a bare interpreter now, so its start-up overlaps the quiet
            # window and the old app's exit too. It runs the target (from scratch) when told to.
            self._spawn_standby([])
        self._arm_debounce()

    def _browser_only(self, paths) -> None:
        """Templates / static files the app reads live changed: reload the browsers, not the app."""
        self._browser_changes.extend(p for p in paths if p not in self._browser_changes)
        if self._browser_timer is None:
            self._browser_timer = self.loop.call_later(self.config.debounce_ms / 1000.0, self._reload_browsers)

    def _reload_browsers(self) -> None:
        self._browser_timer = None
        changed, self._browser_changes = self._browser_changes, []
        kind = "css" if all(p.endswith(".css") for p in changed) else "reload"
        count = self.livereload.broadcast(kind) if self.livereload is not None else 0
        what = "refreshing stylesheets" if kind == "css" else "reloading the browser"
        self.out.change(f"{_describe_changes(changed)} — {what} ({count} page{'s' * (count != 1)})")

    def _arm_debounce(self) -> None:
        if self._debounce_timer is not None:
            self._debounce_timer.cancel()
        deadline = self.debouncer.deadline()
        if deadline is not None:
            self._debounce_timer = self.loop.call_at(self._loop_time(deadline), self._on_debounce)

    def _loop_time(self, monotonic_deadline: float) -> float:
        return self.loop.time() + (monotonic_deadline - time.monotonic())

    def _on_debounce(self) -> None:
        self._debounce_timer = None
        if not self.debouncer.due(time.monotonic()):
            self._arm_debounce()
            return
        self._maybe_restart()

    def _maybe_restart(self) -> None:
        """Start the new app once both the burst is over and the old app is gone."""
        now = time.monotonic()
        if self.state != RESTARTING or self.child is not None:
            return
        if self.debouncer.pending and not self.debouncer.due(now):
            return
        if self._module_still_missing(now) or self._still_being_written(now):
            self.debouncer.event(now, 0)
            self._arm_debounce()
            return
        if self.watcher.overflowed or self.debouncer.events >= REFRESH_AFTER_EVENTS:
            # Events were (or may have been: watchdog 6 drops overflows silently) lost: directories
            # created in the burst may have no watch yet.
            self.watcher.refresh()
        self.debouncer.reset()
        changed, self.changed = self.changed, []
        self.out.change(f"{_describe_changes(changed)} — restarting")
        if len(changed) > 3:
            self.out.debug("changed: " + ", ".join(display_path(p) for p in changed))
        self._restarted = True
        self._spawn(changed)

    def _still_being_written(self, now: float) -> bool:
        """A changed file was modified but its writer has not closed it yet (an in-place save caught
        between truncating and writing): give it up to ``UNCLOSED_WAIT`` to finish."""
        writing = self.watcher.writing
        if not writing:
            return False
        first = self.debouncer.first if self.debouncer.first is not None else now
        if now - first >= UNCLOSED_WAIT:
            writing.clear()  # a file held open for good (a log?) must not hold restarts back
            return False
        return any(p in writing for p in self.changed)

    def _module_still_missing(self, now: float) -> bool:
        """A changed module renamed away mid-save (vim's backup-then-write): wait for it to come back
        (up to ``VANISHED_WAIT``), then one more quiet window so the events of that write arrive first."""
        first = self.debouncer.first if self.debouncer.first is not None else now
        if now - first < VANISHED_WAIT and any(
            p in self.filter.files and not os.path.exists(p) for p in self.changed
        ):
            self._was_missing = True
            return True
        was_missing, self._was_missing = self._was_missing, False
        return was_missing

    # -- stopping -----------------------------------------------------------------------
    def _stop_child(self) -> None:
        child = self.child
        if child is None:
            return
        child.terminate()
        self._cancel_grace()
        self._grace_timer = self.loop.call_later(self.config.grace, self._grace_expired, child)

    def _grace_expired(self, child: Child) -> None:
        self._grace_timer = None
        if child is self.child and child.returncode is None:
            self.out.warn(f"app did not stop within {self.config.grace:g} s of SIGTERM — killing it")
            child.kill()

    def _cancel_grace(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def request_exit(self, sig: int) -> None:
        if self.state == STOPPING:
            # Asked twice: no more grace.
            if self.child is not None:
                self.child.kill()
            return
        self.state = STOPPING
        if self._debounce_timer is not None:
            self._debounce_timer.cancel()
        if self.child is None:
            self.loop.stop()
        else:
            self.out.debug(f"{signal.Signals(sig).name} received: stopping the app")
            self._stop_child()


def _describe_changes(paths: "list[str]") -> str:
    shown = [display_path(p) for p in paths[:3]]
    more = len(paths) - len(shown)
    text = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    return f"{text} changed"


def run_supervisor(config: RunConfig) -> int:
    output = Output(config.verbosity)
    supervisor = Supervisor(config, output)
    try:
        return supervisor.run()
    except Exception as exc:  # a bug in tdev: still no orphan, and one readable line
        if supervisor.child is not None:
            supervisor.child.kill()
        output.error(f"internal error: {exc!r} (please report it; run with -v for details)")
        if config.verbosity > 1:
            import traceback

            traceback.print_exc(file=sys.stderr)
        return 1
