"""The supervisor: the effects around the state machine of ``devserver.machine``.

Everything that happens is turned into a ``machine.Event`` — a file change
(from the watcher's thread), the app's exit (from a waiting thread), a signal,
a timer, a message from the app — and posted to one asyncio loop.  There
``machine.transition`` says what the new state is and which ``machine.Action``s
to carry out; this module only carries them out (processes, timers, output).
The states and every transition are drawn in ``devserver.machine``.

Around the app, on the same loop: the listening sockets it asked for
(``sockets``), held across restarts; the error page served on them while it
is WAITING (``errorpage``); what browsers are told (``browsers``); the warm
standby (``warm.Standbys``); when a burst of changes is over (``burst``); what
the app reports about itself (``reports``).  Each keeps its own state and is
called from here; none calls back into the supervisor except through the
loop.  The app process itself, with its channel, is an ``AppSession``
(``session``), the same as ``tdev check``'s.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any, Callable

from devserver import __version__
from devserver import channel as msg
from devserver import watchset
from devserver.browsers import Browsers
from devserver.burst import Burst, describe_changes
from devserver.config import RunConfig
from devserver.errorpage import AppError, ErrorServer
from devserver.keyboard import Keyboard
from devserver.filters import PathFilter, own_dir, site_dirs, system_dirs
from devserver.machine import Action, Event, State, transition
from devserver.output import Output, display_path
from devserver.bytecode import forget_bytecode
from devserver.process import LAUNCH_DIR, adopt, debugger_seen, raise_open_files_limit, unreaped_pids
from devserver.readfiles import AppFiles
from devserver.reports import AppReports
from devserver.session import AppSession
from devserver.sockets import HeldSockets, describe_address, describe_key, request_key, socket_urls
from devserver.strays import become_subreaper, kill_strays
from devserver.ttymodes import TerminalModes
from devserver.warm import Standbys, forkserver_wanted
from devserver.watcher import Watcher

PORT_RETRY_SECONDS = 1.0  # how often an address another process holds is tried again


TERMINAL_OUTPUT_LINES = 3  # of the app's last output, under "app exited with code N" (the page has more)


def shorten(line: str, width: int = 160) -> str:
    return line if len(line) <= width else line[:width] + "…"


class Supervisor:
    """``tdev run``: one loop, one current app (``self.app``), the machine's state (``self.state``)."""

    def __init__(self, config: RunConfig, output: Output) -> None:
        self.config = config
        self.out = output
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # Tornado's IOLoop.current() (error page) wraps this loop
        self.state = State.RUNNING
        self.app: AppSession | None = None
        self.exit_code = 0  # tdev's own exit code: 0 after a requested stop
        self.burst = Burst(config.debounce_ms / 1000.0, lambda path: path in self.filter.files)
        self._debounce_timer: asyncio.TimerHandle | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._port_timer: asyncio.TimerHandle | None = None  # the next try of an address in use (WAITING only)
        self._port_requests: list[dict] = []  # the bind requests that were refused: what it tries
        self._serving_app: AppSession | None = None  # the last app that served
        self._listening: list[str] | None = None
        self._summary_shown = False
        self._change_seen_at: float | None = None
        self._announced: set[str] = set()  # the changes already said ("... changed — restarting")
        self._pause_said_at: float | None = None  # when tdev said the stop waits for a paused app
        self._keys = False  # tdev reads Enter / rs Enter from the terminal
        self.terminal = TerminalModes()
        self.sockets = HeldSockets()
        self.error_server = ErrorServer()
        self.browsers = Browsers(config.debounce_ms / 1000.0, self.loop.call_later, output)
        self._child_options: dict = config.child_options()
        self._child_options["project"] = config.project_trees()
        if config.watch_reads:
            self._child_options["reads"] = True  # the app reports the files it reads and writes
        self.filter = watch_filter(config, output)
        self.watcher = Watcher(self.filter, self._on_file_events, output, self.loop.call_soon_threadsafe,
                               poll=config.poll)
        self.reports = AppReports(self.watcher, self.filter, output, self._on_changes)
        self.app_files = AppFiles(self.watcher, self.filter, output, self._on_changes, lambda: self.app)
        self.standbys = Standbys(self._spawn, output, self.filter.is_library, None if config.warm else "--no-warm",
                                 self.loop.call_later, self._adopt if forkserver_wanted() else None)
        self.keyboard = Keyboard(self.loop, self._keyboard_restart)
        self._handlers = self._message_handlers()
        self._actions = self._action_handlers()

    def _message_handlers(self) -> dict[str, Callable[[AppSession, dict], None]]:
        """What each message from an app process (the current one or a standby) does."""
        return {
            **self.reports.handlers(),
            **self.app_files.handlers(),
            msg.SERVING: lambda s, _m: self._feed_if_current(s, Event.SERVING, s),
            msg.MODULES: self._on_modules,
            msg.READY: lambda s, m: self._feed(Event.STANDBY_READY, (s, m)),
            msg.STARTED: self._on_started,
            msg.READING: self._on_reading,
            msg.PAUSED: self._on_paused,
            msg.FORKED: self._on_late_fork,
            msg.FORK_REFUSED: self._on_late_fork,
        }

    def _action_handlers(self) -> dict[Action, Callable[[Any], None]]:
        """How each action of the machine is carried out; each gets the event's payload."""
        standbys = self.standbys
        return {
            Action.RECORD_CHANGE: self._record_change,
            Action.SAY_CHANGED: self._say_changed,
            Action.STOP_APP: lambda _: self._stop_app(),
            Action.KILL_APP: lambda _: self._kill_app(),
            Action.PRESTART: lambda _: standbys.prestart(),
            Action.ARM_DEBOUNCE: lambda _: self._arm_debounce(),
            Action.CANCEL_DEBOUNCE: lambda _: self._cancel_debounce(),
            Action.CHECK_BURST: lambda _: self._check_burst(),
            Action.RESTART: lambda _: self._restart(),
            Action.RELOAD_BROWSERS: self.browsers.assets_changed,
            Action.SHOW_CRASH: self._show_crash,
            Action.WAIT_FOR_PORT: self._wait_for_port,
            Action.CANCEL_PORT_WAIT: lambda _: self._cancel_port_wait(),
            Action.START_APP: self._start_when_free,
            Action.ON_SERVING: self._on_serving,
            Action.BUILD_STANDBY: standbys.on_modules,
            Action.PREPARE_STANDBY: lambda _: standbys.after_failure(),
            Action.NOTE_STANDBY_READY: self._on_standby_ready,
            Action.NOTE_STANDBY_LOST: standbys.on_lost,
            Action.SAY_STOPPING: lambda sig: self.out.debug(f"{signal.Signals(sig).name} received: stopping the app"),
            Action.END: lambda _: self.loop.stop(),
        }

    def _feed(self, event: Event, payload: Any = None) -> None:
        """Move the machine, then carry out its actions (which may feed further events)."""
        self.state, actions = transition(self.state, event)
        for action in actions:
            self._actions[action](payload)

    def _feed_if_current(self, session: AppSession, event: Event, payload: Any) -> None:
        """Serving / modules: news about the current app only (not a standby's, not an old app's)."""
        if session is self.app:
            self._feed(event, payload)

    def run(self) -> int:
        loop = self.loop
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_exit, sig)
        keys = self._keys = self.keyboard.start()  # on a terminal only: Enter / rs Enter restarts
        if keys:
            self._child_options["keyboard"] = True
        when = "on changes or Enter" if keys else "on changes"
        self.out.info(f"tdev {__version__}: running {self.config.target.label} with "
                      f"{self.config.interpreter.describe()} (restarts {when}, Ctrl-C quits)")
        if not become_subreaper():  # orphans the app leaves come to tdev, which stops them with the app
            self.standbys.fork_off = "tdev is not a child subreaper here"  # a fork server's copies must come to it
        if self.config.config_file:
            self.out.debug(f"settings from {self.config.config_file}")
        limit_note = raise_open_files_limit(self.config.max_open_files)
        if limit_note and self.config.open_files_note_wanted():
            self.out.info(limit_note)
        if self.config.livereload:
            self._child_options["livereload"] = True  # the scripts come with the first bind's answer
        started = time.monotonic()
        self.watcher.start()
        self.out.debug(f"watcher started in {(time.monotonic() - started) * 1000:.0f} ms")
        for line in self.watcher.describe():
            self.out.debug(line)
        self._start_app()
        try:
            loop.run_forever()
        finally:
            self.keyboard.stop()
            self.standbys.discard()
            kill_strays(unreaped_pids())
            self.watcher.stop()
            self.error_server.stop()
            self.browsers.stop()
            self.sockets.close_all()
            self.terminal.restore()
            loop.close()
        return self.exit_code

    # -- the app process --------------------------------------------------------------
    def _spawn(self, extra_options: dict) -> AppSession:
        """Start an app process (raises OSError); its messages and exit come back to this loop."""
        return AppSession.start(self.config.target, dict(self._child_options, **extra_options), self.loop,
                                self.sockets, self._handlers, self._on_session_exit, self._on_bind)

    def _adopt(self, pid: int, sock: socket.socket) -> AppSession:
        """A standby the fork server made: an app process of ours from now on (its exit comes here)."""
        return AppSession(adopt(pid, sock), self.loop, self.sockets, self._handlers, self._on_session_exit,
                          self._on_bind)

    def _on_late_fork(self, _session: AppSession, message: dict) -> None:
        """A fork server's answer that came after tdev stopped waiting for it: that copy is nobody's."""
        pid = message.get("pid")
        if message["t"] == msg.FORKED and isinstance(pid, int):
            try:
                os.killpg(pid, signal.SIGKILL)  # (re-parented to tdev: reaped with the strays)
            except OSError:
                pass

    def _start_app(self, changed: Sequence[str] = ()) -> None:
        """The new app: the standby told to go if it may be used, else a new process."""
        self.error_server.stop()  # before the app can accept: no request is answered twice
        self.reports.new_app()
        self.app_files.new_app()
        standby = self.standbys.take(list(changed))
        if standby is not None:
            app = standby.session
            how = f"{standby.label} {app.pid} told to go"
            which = self.standbys.describe_taken(standby)
        else:
            try:
                app = self._spawn({})
            except OSError as exc:
                self._cannot_start(exc)
                return
            how, which = f"new app process {app.pid} started", ""
        self.app = app
        self.sockets.new_generation()
        if self._change_seen_at is not None:
            self.out.debug(f"{how} {(time.monotonic() - self._change_seen_at) * 1000:.1f} ms after the change{which}")
        if not self._summary_shown:
            self.loop.call_later(1.0, self._show_summary)

    def _cannot_start(self, exc: OSError) -> None:
        """No app process at all (the working directory is gone, say): say why, serve it, wait."""
        if LAUNCH_DIR is not None and not os.path.isdir(LAUNCH_DIR):
            why = f"the working directory {LAUNCH_DIR} is gone — waiting for it to come back"
        else:
            why = f"{exc.strerror or exc} — waiting for changes before restarting"
        self.out.error(f"cannot start the app: {why}")
        self._feed(Event.SPAWN_FAILED)
        if self.sockets.sockets():
            self._answer_with_error(AppError(f"tdev cannot start the app: {why}"))

    def _on_session_exit(self, session: AppSession) -> None:
        """An app process exited (its last messages handled): the current app, or a standby."""
        self.keyboard.app_gone(session)
        if session is not self.app:
            self._feed(Event.STANDBY_LOST, session)
            return
        self.app = None
        self._cancel_grace()
        self._pause_said_at = None
        self._stop_strays()
        if self.terminal.restore():
            self.out.debug("the app left the terminal's modes changed: restored")
        stop_sent = session.child.stop_sent
        if stop_sent is not None:
            self.out.debug(f"app process {session.pid} stopped {(time.monotonic() - stop_sent) * 1000:.1f} ms "
                           "after it was told to")
        self._feed(self._exit_event(session), session)

    def _stop_strays(self) -> None:
        """The app is gone: what it started outside its process group goes too (``strays``)."""
        killed = kill_strays(unreaped_pids())
        if killed:
            self.out.debug(f"stopped {len(killed)} process{'es' * (len(killed) != 1)} the app left outside its "
                           f"process group: {', '.join(map(str, killed))}")

    def _show_crash(self, session: AppSession) -> None:
        """The app ended by itself: say so, and answer on its sockets with its error."""
        how = session.describe_exit()
        self._change_seen_at = None  # the fix's timings (-v) count from the fix, not from the breaking change
        self.out.error(f"app {how} — waiting for changes before restarting")
        error = self.reports.last_error
        if error is None:  # no traceback: what the app printed last may say why (a CLI's "Error: ...")
            output = self.reports.output_of(session)
            for number, line in enumerate(output[-TERMINAL_OUTPUT_LINES:]):
                self.out.detail(f"{'  last output:' if number == 0 else ' ' * 14} {shorten(line)}")
            error = AppError(f"The app {how}.", output=output)
        if self.sockets.sockets():
            self._answer_with_error(error)
            self.out.debug("answering on the app's sockets with the error until it serves again")

    def _show_summary(self) -> None:
        if not self._summary_shown:
            self._summary_shown = True
            self.out.info(self.watcher.summary())
            if self.filter.files:
                self.out.debug(watchset.describe(self.filter.files, "the watch set holds"))

    # -- an address another process holds ------------------------------------------------
    def _exit_event(self, session: AppSession) -> Event:
        """PORT_BUSY when the app never served and a bind it asked for was refused (address in use), else EXIT."""
        if self.sockets.refused and session is not self._serving_app:
            return Event.PORT_BUSY
        return Event.EXIT

    def _wait_for_port(self, session: AppSession) -> None:
        """The app ended because its address is in use (the line before named the holder): say so once, answer on
        its other sockets, try the address each second."""
        self._port_requests = list(self.sockets.refused)
        where = ", ".join(describe_key(request_key(request)) for request in self._port_requests)
        how = session.describe_exit()
        self.out.error(f"app {how} — waiting for {where} to be free (trying every second) or for changes")
        if self.sockets.sockets():
            self._answer_with_error(self.reports.last_error or AppError(f"The app {how}: {where} is in use."))
        self._arm_port_try()

    def _arm_port_try(self) -> None:
        self._cancel_port_wait()
        self._port_timer = self.loop.call_later(PORT_RETRY_SECONDS, self._try_ports)

    def _try_ports(self) -> None:
        """One try: one bind per refused address (held for the next app once it works); PORT_FREE when all are."""
        self._port_timer = None
        for request in self._port_requests:
            try:
                self.sockets.get(request)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    self._arm_port_try()
                else:
                    self.out.error(f"cannot listen on {describe_address(request)}: {exc.strerror or exc} — "
                                   "waiting for changes before restarting")
                return
        self._feed(Event.PORT_FREE, self._port_requests)

    def _start_when_free(self, requests: list[dict]) -> None:
        self.out.ok(f"{', '.join(describe_address(request) for request in requests)} "
                    f"{'is' if len(requests) == 1 else 'are'} free — starting the app")
        self._start_app()

    def _cancel_port_wait(self) -> None:
        if self._port_timer is not None:
            self._port_timer.cancel()
            self._port_timer = None

    # -- messages from the app ------------------------------------------------------------
    def _on_bind(self, reply: dict, released: list[tuple]) -> None:
        """A bind request was answered: say which held sockets made room for it, or why it failed.
        With live reload on, the answer carries the scripts (``livereload``): the WebSocket server
        starts with the app's first listening socket, on a port derived from its TCP port."""
        self._report_released(released)
        if "error" in reply:
            self.out.error(reply["error"])
        elif self.config.livereload:
            tcp = (socket.AF_INET, socket.AF_INET6)
            ports = [s.getsockname()[1] for s in self.sockets.sockets() if s.family in tcp]
            scripts = self.browsers.start(ports[0] if ports else None)
            self._child_options["livereload_scripts"] = scripts
            reply["livereload"] = scripts

    def _answer_with_error(self, error: AppError) -> None:
        """No app serves: tdev answers on its sockets with the error, and open pages reload to show it."""
        self.error_server.scripts = self.browsers.scripts()
        self.error_server.project = list(self._child_options["project"])
        self.error_server.start(self.sockets.sockets(), error)
        self.browsers.app_failed()

    def _report_released(self, keys: list[tuple]) -> None:
        for key in keys:
            self.out.info(f"closed {describe_key(key)}: the app no longer listens there")

    def _on_serving(self, session: AppSession) -> None:
        self._serving_app = session
        self.browsers.app_serving()
        self._report_released(self.sockets.release_unused())
        urls = socket_urls(self.sockets.sockets())
        if urls and urls != self._listening:
            self._listening = urls
            self.out.ok(f"app listening on {', '.join(urls)}")
        if self._change_seen_at is not None and self.state is State.RUNNING:
            # (Not an old app's late "serving" while it is being replaced: the change is still pending.)
            self.out.debug(f"serving again {(time.monotonic() - self._change_seen_at) * 1000:.0f} ms after the change")
            self._change_seen_at = None
        self._show_summary()
        if not self.standbys.off:
            session.send(msg.MODULES_WANTED)

    def _on_modules(self, session: AppSession, message: dict) -> None:
        modules = message.get("modules")
        if isinstance(modules, list):
            debugger_seen([m[0] for m in modules if isinstance(m, list) and m and isinstance(m[0], str)])
        self._feed_if_current(session, Event.MODULES, message)

    def _on_standby_ready(self, payload: tuple[AppSession, dict]) -> None:
        """A standby is ready.  One told to go before it was ready may have imported a changed file
        ahead of the app's code (a plugin a library loads): its app runs the old version, restart it."""
        session, message = payload
        stale = self.standbys.on_ready(session, message)
        if stale and session is self.app:
            self.out.debug("the standby had imported a changed file before it was told to go: restarting again")
            self._on_changes(stale)

    def _on_started(self, session: AppSession, message: dict) -> None:
        """The app process is about to run the first line of the target."""
        at = message.get("at")
        if session is self.app and self._change_seen_at is not None and isinstance(at, (int, float)):
            how = "warm" if message.get("warm") else "cold"
            taken = self.standbys.taken_by(session)
            late = " — its standby was still importing when told to go" if how == "warm" and taken and \
                not taken.ready_at_go else ""
            self.out.debug(f"target code running {(at - self._change_seen_at) * 1000:.1f} ms after the change "
                           f"({how}){late}")

    # -- changes ------------------------------------------------------------------------
    def _on_file_events(self, paths: list[str]) -> None:
        """Files changed on disk (the watcher).  What the app has said so far comes first: a file it
        writes (a log, a database) is said to be written before it changes, and is no change."""
        if self.app is not None and self.config.watch_reads:
            self.app.read_pending()
            paths = [path for path in paths if path not in self.filter.written]
            if not paths:
                return
        self._on_changes(paths)

    def _on_changes(self, paths: list[str]) -> None:
        """Files changed (reported by the watcher, or by the app for files saved while it started)."""
        live = self.browsers.on and all(self.filter.is_live_asset(p) for p in paths)
        self._feed(Event.LIVE_CHANGE if live else Event.CHANGE, paths)

    def _say_changed(self, paths: list[str]) -> None:
        """The first change of a burst, said before the old app is told to stop (what it prints while
        stopping comes after); what changes later in the burst is said when the new app starts."""
        self._announced = set(paths)
        self._change_seen_at = time.monotonic()  # -v's timings count from a burst's first change
        what = describe_changes(list(paths)) if paths else "restart asked for from the keyboard"
        self.out.change(f"{what} — restarting")

    def _keyboard_restart(self) -> None:
        """Enter (or rs Enter) on the terminal: a change of nothing in particular; with the app paused in
        a debugger and its restart waiting for it, the restart now."""
        app = self.app
        if app is not None and app.paused and self._pause_said_at is not None:
            self._pause_said_at = None
            self.out.warn("restart asked for while the app is paused — killing it to restart now")
            app.kill()  # (the restart is pending: the app's exit starts the new one)
            return
        self._feed(Event.CHANGE, [])

    def _on_reading(self, session: AppSession, message: dict) -> None:
        reading = bool(message.get("on"))
        self.keyboard.app_reading(session, reading)
        self.out.debug("the app reads the terminal: keys go to it" if reading
                       else "the app no longer reads the terminal: Enter restarts it")

    def _record_change(self, paths: list[str]) -> None:
        now = time.monotonic()
        if self._pause_said_at is not None and now - self._pause_said_at >= self._second_save_after():
            self._pause_said_at = None
            if self.app is not None and self.app.paused:
                self.out.warn("saved again while the app is paused — killing it to restart now")
                self.app.kill()
        if self._change_seen_at is None:
            self._change_seen_at = now
        self.burst.record(paths, now)

    def _arm_debounce(self) -> None:
        if self._debounce_timer is not None:
            self._debounce_timer.cancel()
        deadline = self.burst.deadline()
        if deadline is not None:
            self._debounce_timer = self.loop.call_at(self._loop_time(deadline), self._on_debounce)

    def _loop_time(self, monotonic_deadline: float) -> float:
        return self.loop.time() + (monotonic_deadline - time.monotonic())

    def _on_debounce(self) -> None:
        self._debounce_timer = None
        if not self.burst.quiet(time.monotonic()):
            self._arm_debounce()
            return
        self._feed(Event.QUIET)

    def _check_burst(self) -> None:
        """The old app is gone: restart if the burst is over too, else ask again when it may be."""
        if self.burst.over(time.monotonic(), self.watcher):
            self._feed(Event.SETTLED)
        else:
            self._arm_debounce()

    def _restart(self) -> None:
        changed, big = self.burst.take()
        if self.watcher.overflowed or big:
            # Events were (or may have been: watchdog 6 drops overflows silently) lost: directories
            # created in the burst may have no watch yet.
            self.watcher.refresh()
        else:
            self.watcher.recheck()
        announced, self._announced = self._announced, set()
        more = [path for path in changed if path not in announced]
        if more:
            self.out.change(f"{describe_changes(more)} too")
        if len(changed) > 3:
            self.out.debug("changed: " + ", ".join(display_path(p) for p in changed))
        self.browsers.restarting()
        forget_bytecode(changed)  # same-size saves within a second look unchanged to CPython's .pyc check
        self._start_app(changed)

    # -- stopping -----------------------------------------------------------------------
    def _stop_app(self) -> None:
        app = self.app
        if app is None:
            return
        app.terminate()
        self._cancel_grace()
        if app.paused:
            self._wait_for_paused(app)
        else:
            self._grace_timer = self.loop.call_later(self.config.grace, self._grace_expired, app)

    # -- an app paused in a debugger --------------------------------------------------------
    def _on_paused(self, session: AppSession, _message: dict) -> None:
        """The app's lifeline says a debugger started or stopped holding the app (``session.paused``).
        A stop told to a paused app waits (no grace kill) until it continues; then the grace counts."""
        if session is not self.app or session.exited:
            return
        where = {msg.PAUSED_PDB: "at a pdb prompt", msg.PAUSED_DEBUGGER: "in the debugger"}.get(session.paused or "")
        self.out.debug(f"app {session.pid} paused {where}" if where else f"app {session.pid} continues")
        if session.child.stop_sent is None:
            return
        if session.paused:
            self._cancel_grace()
            self._wait_for_paused(session)
        elif self._grace_timer is None:
            self._pause_said_at = None
            self._grace_timer = self.loop.call_later(self.config.grace, self._grace_expired, session)

    def _wait_for_paused(self, app: AppSession) -> None:
        """Told to stop while a debugger holds it: leaving tdev kills it (it cannot stop while paused);
        a restart waits for it to continue, said once; a second save (``_record_change``) forces it."""
        where = "at a pdb prompt" if app.paused == msg.PAUSED_PDB else "in the debugger"
        if self.state is State.STOPPING:
            self.out.warn(f"the app is paused {where} — killing it")
            app.kill()
            return
        if self._pause_said_at is None:
            self._pause_said_at = time.monotonic()
            again = "save again or press Enter" if self._keys else "save again"
            self.out.warn(f"the app is paused {where}: the restart waits until it continues ({again} to restart now)")

    def _second_save_after(self) -> float:
        """A change this long after "the restart waits" is a second save, not the same one's last event."""
        return self.config.debounce_ms / 1000.0 + 0.3

    def _grace_expired(self, app: AppSession) -> None:
        self._grace_timer = None
        if app is self.app and app.returncode is None:
            self.out.warn(f"app did not stop within {self.config.grace:g} s of being told to — killing it")
            app.kill()

    def _kill_app(self) -> None:
        if self.app is not None:
            self.app.kill()

    def _cancel_debounce(self) -> None:
        if self._debounce_timer is not None:
            self._debounce_timer.cancel()

    def _cancel_grace(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def request_exit(self, sig: int) -> None:
        app = self.app
        at_pdb_prompt = app is not None and app.paused == msg.PAUSED_PDB
        if sig == signal.SIGINT and app is not None and at_pdb_prompt and self.state is not State.STOPPING:
            # Ctrl-C at pdb's prompt: pdb's, as under plain python (it interrupts the command, the prompt
            # comes back).  The terminal sends it to tdev's process group only.
            self.out.debug("Ctrl-C at the app's pdb prompt: passed to the app")
            try:
                os.kill(app.pid, signal.SIGINT)
            except OSError:
                pass
            return
        self._feed(Event.STOP, sig)


def watch_filter(config: RunConfig, output: Output) -> PathFilter:
    """What to watch: the project's tree (``*.py`` and ``--include``), ``--watch`` paths, the script."""
    interpreter = config.interpreter
    if interpreter.own:
        system, site = system_dirs(), site_dirs()
    else:  # the app's interpreter's library directories, and tdev's own package
        system, site = (*interpreter.stdlib, *interpreter.site, own_dir()), interpreter.site
    path_filter = PathFilter(ignore=tuple(config.ignore), system=system, site=site, own=(own_dir(),),
                             project=tuple(config.project_trees()))
    root = config.target.project_root()
    if os.path.dirname(root) == root:
        output.warn(f"the project directory is {root}: not watching the whole file system, "
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


def run_supervisor(config: RunConfig) -> int:
    output = Output(config.verbosity)
    supervisor = Supervisor(config, output)
    try:
        return supervisor.run()
    except Exception as exc:  # a bug in tdev: still no orphan, and one readable line
        if supervisor.app is not None:
            supervisor.app.kill()
        output.error(f"internal error: {exc!r} (please report it; run with -v for details)")
        if config.verbosity > 1:
            import traceback

            traceback.print_exc(file=sys.stderr)
        return 1
