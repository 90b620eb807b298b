#!/usr/bin/env python3
"""Benchmark: how fast does a save show up in a running Tornado app, per reloader?

Usage::

    pip install -e '.[bench]'   # hupper, watchfiles, werkzeug and the heavy import (scikit-learn)
    python scripts/bench_reload.py [--apps plain,heavy] [--saves N] [--json out.json] [--runners tdev,hupper,...]
    python scripts/bench_reload.py --tdev-args=--poll --runners tdev,tdev-cold
    python scripts/bench_reload.py --app examples/hello [--edit greeting.py] [--var GREETING] [...]
    python scripts/bench_reload.py --cases all [--saves N] [--json out.json]

Standard library plus Tornado; the other reloaders and the heavy import come
from the ``bench`` extra.  Every runner is started with the interpreter that
runs this script (``sys.executable``).  Linux only (reads ``/proc``).  Two
modes: generated apps (the default), or a copy of an existing app (``--app``).

What is measured, and how
-------------------------
Two apps are generated, each in a temp dir of its own, and measured one after
the other in the same run (``--apps`` picks; default both):

* ``plain``: ``app.py PORT`` listens on 127.0.0.1:PORT and answers ``GET /``
  with ``version.VERSION``, where ``version.py`` is a separate imported module.
* ``heavy``: the same app, but ``app.py`` also does ``import sklearn`` at the
  top (``--heavy-import``; scikit-learn from site-packages, i.e. from outside
  the project: ~0.6-0.75 s of imports on a 2-core Xeon).  This is the case where
  re-importing third-party code dominates a restart.

``app_debug.py`` is the same app with ``Application(debug=True)`` (Tornado's
own in-process autoreload); ``werkzeug_app.py`` runs it under werkzeug's
reloader.  Per app, in this order:

* **Cold start (baseline, same run)**: ``python app.py PORT`` from ``Popen`` to
  the first successful ``GET /``; the median of ``--cold-runs`` starts.  Every
  runner's median is also reported as a ratio to this number.
* **Physical floor (same run)**: wall time of ``python -c pass`` (interpreter
  start), and of ``python -c "import tornado.web, tornado.ioloop[, sklearn]"``
  minus that (the third-party imports of the app); medians of ``--cold-runs``
  runs each, alternating.  Both commands end with ``os._exit(0)``: the
  interpreter's teardown, which a starting server never reaches, is not
  counted.  A reloader that starts a fresh interpreter and re-imports the app
  cannot beat interpreter start + third-party imports; one that keeps the
  third-party modules imported (tdev's warm restarts) can.
* **Save -> new response**, per runner: the runner is started and must serve
  ``v0`` (one that exits first, or does not serve it within 30 s, is reported
  as *failed to start*, and the next runner goes on); then ``--saves`` saves of
  ``version.py``, alternating an in-place write (open/truncate/write) and an
  atomic save (temp file + ``os.replace``, as vim / JetBrains / many editors
  do), each with a fresh version string.  The clock starts right after the save
  returns; then ``GET /`` is polled every ~2 ms (a fresh connection each time)
  until the new string is served.  Refused / reset / timed-out requests and
  non-200 answers in that window are counted as *failed requests*.  After the
  new version is served the script waits ``--settle`` seconds (1.0: a developer
  does not save again within a second of seeing the result; it also gives
  tdev's standby, rebuilt after each restart, time to import the libraries).  A save not served within ``--timeout`` seconds counts as
  *missed*, and the next save goes on (default: 1.5 s + 3 x the app's cold
  start, at least 3 s: the slowest reloader here, hupper, takes ~1.7 s and at
  worst ~2.8 s for the heavy app).  For the two Tornado runners a save is also
  missed once the old version has been answered for 1.5 s (three of Tornado's
  500 ms checks) without a single failed request: Tornado re-execs the app
  process as soon as it notices a change, which fails the next GETs, and a
  save it did not notice is never served however long one waits.
* **tdev's own timings** (tdev runners only): they run with ``-v``, their
  stderr goes to a file of its own, and after each save's settle the new lines
  are parsed (``devserver/supervisor.py``; "the change" = when the supervisor
  got the file event): ``new app process PID started X ms after the change``
  or ``pre-started process PID told to go X ms after the change`` (a cold
  restart; the second: a bare interpreter tdev started when the change came)
  or ``standby PID told to go X ms after the change`` (a warm one: a standby
  process that has the app's libraries imported already),
  ``target code running Z ms after the change``, and ``serving again Y ms
  after the change``.  Reported per tdev runner: medians of X, Z and Y (of the
  restart that served each save), how many restarts were warm and how many of
  those waited for their standby (Z - X > 50 ms: the standby, rebuilt after
  every restart, was still importing when the next save came ``--settle``
  later), and the median of (save -> new response) - Y, which estimates the
  time from the save to tdev seeing it, plus the last poll.  ``-v`` only adds a
  few lines per restart (plus one per watched file at the first start);
  ``--no-tdev-timings`` runs tdev without it.
* **Idle cost**, per runner, 1 s after its last reload's settle: CPU time
  (``utime + stime`` from ``/proc/PID/stat``) over ``--idle-seconds`` (10),
  for the runner's top process alone (the "supervisor") and for its whole
  process tree (top + live descendants), as % of one core; and ``VmRSS`` from
  ``/proc/PID/status`` of the top process and of the whole tree.  For the
  Tornado runners there is a single process, so "supervisor" = the app itself.

Runners (generated apps)
------------------------
* ``tdev``: ``python -m devserver run -v [TDEV_ARGS] app.py PORT``.
* ``tdev-cold``: ``python -m devserver run -v --no-warm [TDEV_ARGS] app.py
  PORT``: tdev without its warm restarts.  A tdev without ``--no-warm`` exits
  with a usage error: that shows as *failed to start*.
  ``--tdev-args "..."`` (split like a shell would; ``--tdev-args=--poll`` for
  one option) goes to both tdev runners, after ``run``.
* ``tornado-autoreload``: ``python -m tornado.autoreload app_debug.py PORT``.
  The wrapper by itself only re-runs a script that *exited*; a running server
  is only reloaded when the app turns autoreload on, hence the debug=True app.
* ``tornado-debug``: ``python app_debug.py PORT`` (``Application(debug=True)``).
  Tornado checks mtimes every 500 ms, so expect ~250 ms + a restart on average.
* With the ``bench`` extra installed (skipped, and said so, when not importable):

  - ``hupper``: ``hupper -m app PORT``, a monitor process and a worker that
    runs the module.  After the old worker exits, hupper sleeps until
    ``--reload-interval`` (default and minimum 1 s) has passed before it starts
    the new one, so expect > 1 s per reload.
  - ``watchfiles``: ``watchfiles --target-type command 'python app.py PORT' .``,
    restarts the command (SIGINT, then SIGKILL) on any change in the dir.
  - ``werkzeug``: ``run_with_reloader(lambda: app.serve(PORT), reloader_type="stat")``
    in ``werkzeug_app.py``, as ``app.run(debug=True)`` would (the restarter
    process imports the app module too; the app runs in a thread of its
    child).  The stat reloader (werkzeug's choice without watchdog, e.g. plain
    Flask) checks mtimes once a second.
  - ``werkzeug-watchdog`` (opt-in, ``--runners``): the same with
    ``reloader_type="watchdog"``, which is what werkzeug's ``auto`` picks when
    watchdog is installed (it is, with tdev).  It watches every ``sys.path``
    dir recursively; where the stdlib dir holds a big site-packages (pyenv:
    ~9,000 dirs here), watchdog's inotify queue overflows and its rescan
    overflows it again, forever: a core busy and every save missed.

Your own app (``--app DIR``)
----------------------------
``--app examples/hello`` measures the bundled example the same way (no
``--apps``).  ``DIR`` is copied to a temp dir (without ``__pycache__``); before
the baseline and before each runner, and then once per save (in place /
atomic, alternating, as above), the one top-level line ``VAR = ...`` of
``--edit FILE`` (default ``greeting.py``; ``--var`` default ``GREETING``) is
rewritten to ``VAR = "<unique string>"`` and the rest of the file is kept.  A
save counts as served when the body of ``GET /`` *contains* the new string.
The app is started as ``python SCRIPT`` (``--script``, default ``app.py``) in
its copied dir and must listen on 127.0.0.1:``$PORT`` (``--port-env``, default
``PORT``; ``--port-env ''`` passes the port as the script's last argument
instead).  Runners in this mode:

* ``tdev`` / ``tdev-cold``: ``python -m devserver run -v [--no-warm] app.py``.
* ``tornado-autoreload``: ``python -m tornado.autoreload app.py``.
* ``tornado-debug``: ``python app.py``: Tornado's in-process autoreload.

Both Tornado runners only reload an app that turns autoreload on itself
(``Application(debug=True)``, as examples/hello does): for an app without it,
expect every save to be *missed*.  The baseline is the cold start of
``python app.py``; the floor's import line is ``import tornado.web, tornado.ioloop``.

The ways developers work (``--cases``)
--------------------------------------
``--cases all`` (or a comma-separated subset) measures tdev alone (``tdev run -v app.py PORT``) on a
generated app per case, each compared in the same run with a reference measured in that run: the
``module-edit`` case (a normal warm restart of the plain app), the ``heavy-module-edit`` case (the same
on the heavy app), or the case app's own cold start (``--cold-runs`` starts of ``python app.py``):

* ``module-edit``: the plain app, saves of ``version.py`` (the reference of the plain cases);
* ``idle-connection``: the same, with a connection that sends nothing opened 0.3 s before each save
  (a browser keeps such a spare connection open, a new one after each reload); goal <= 1.2x;
* ``script-edit``: the version lives in ``app.py``, the saves edit the script itself; goal <= 1.5x;
* ``fix-after-error``: before each save a syntax error is saved, the port answers with tdev's error
  page, ``--settle`` passes, then the save timed is the fix; goal <= 1.5x;
* ``pythonpath-dependency``: the app imports ``heavydep``, a generated package (200 modules, ~0.3 s of
  imports), from a ``PYTHONPATH`` directory; goal <= 0.1x its cold start;
* ``editable-dependency``: the same package in a sibling project put on ``sys.path`` by a ``.pth``
  file, as an editable install does (a ``sitecustomize`` on ``PYTHONPATH`` runs ``site.addsitedir``
  on the directory holding it); goal <= 0.1x its cold start;
* ``plugin``: a library on ``PYTHONPATH`` (importing heavydep) imports the project's ``plugin.py`` when
  it is imported (entry-point style); the saves edit ``plugin.py``: a cold start each time, by design;
* ``heavy-module-edit``: the heavy app (``--heavy-import``, else heavydep), saves of ``version.py``;
* ``back-to-back``: the same, each save 300 ms after the previous one was served, all ``--saves`` in a
  row (sustained: every restart uses up a standby, whose imports cost ~0.6 s of CPU; at a save every
  ~0.33 s that is more than two cores have); goal <= 1.5x of ``heavy-module-edit``;
* ``second-save``: the same app, two quick saves: the first (not timed) ``--settle`` after the previous
  pair, the second (timed) 300 ms after the first was served; goal <= 1.5x of ``heavy-module-edit``.

In-place and atomic saves alternate in every case, and their medians are shown apart.

Runners, the floor and the baseline run with ``PYTHONDONTWRITEBYTECODE=1``: two
version strings of the same length saved within one second would otherwise let
a stale ``__pycache__/version.*.pyc`` (validated by mtime seconds + size) be
served.  Logs are kept outside the app dirs (watchfiles watches the whole dir).

Every process is started in a new session and stopped by process group
(SIGTERM, then SIGKILL for the runner's group and the groups of all its
descendants), also on Ctrl-C, SIGTERM and errors.  Only free ports on
127.0.0.1 are used; every wait has a deadline.  Exit code: 0 when every
runner measured ran, 1 when one failed (to start, or mid-run) or an app was
skipped (its heavy import missing), 2 for usage.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import tornado

REPO_ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

POLL_INTERVAL = 0.002  # seconds between GETs while waiting for a new version
HTTP_TIMEOUT = 1.0  # per request
START_TIMEOUT = 30.0  # a runner must serve v0 within this
WARMUP = 1.0  # after v0 is served, before the first save (watchers finish setting up)
BEFORE_IDLE = 1.0  # after the last save's settle, before the idle window (e.g. tdev's new standby imports)
STOP_GRACE = 3.0  # SIGTERM -> SIGKILL
MIN_TIMEOUT = 3.0  # default save timeout: max(this, 1.5 s + 3 x the app's cold start)
# Tornado checks mtimes every 0.5 s in the app's own process and re-execs it at once on a change (so the
# next GETs fail): the old app still answering, with no failed GET, 3 periods after a save = never noticed
TORNADO_UNNOTICED = 1.5
CLK_TCK = os.sysconf("SC_CLK_TCK")
APP_NAMES = ["plain", "heavy"]
HEAVY_IMPORT = "sklearn"  # scikit-learn, from the `bench` extra: ~0.75 s of imports on a 2-core Xeon
FLOOR_IMPORTS = ["tornado.web", "tornado.ioloop"]  # the third-party imports of the generated app

APP_TEMPLATE = '''\
"""Benchmark app: GET / returns version.VERSION."""
import asyncio
import sys

import tornado.web
{heavy}
import version

DEBUG = {debug}


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        self.write(version.VERSION)


async def main(port):
    app = tornado.web.Application([(r"/", MainHandler)], debug=DEBUG)
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


def serve(port):
    asyncio.run(main(port))


if __name__ == "__main__":
    serve(int(sys.argv[1]))
'''

WERKZEUG_TEMPLATE = '''\
"""werkzeug's reloader around the benchmark app (the app runs in a thread): werkzeug_app.py PORT RELOADER_TYPE."""
import sys

from werkzeug._reloader import run_with_reloader

import app

run_with_reloader(lambda: app.serve(int(sys.argv[1])), reloader_type=sys.argv[2])
'''

HUPPER_MAIN = "import sys; from hupper.cli import main; sys.exit(main())"
WATCHFILES_MAIN = "import sys; from watchfiles.cli import cli; cli(*sys.argv[1:])"


def console_script(name: str, fallback_code: str) -> list[str]:
    """A console script installed next to ``sys.executable``, else ``python -c fallback_code``."""
    script = Path(PY).parent / name
    return [str(script)] if script.is_file() else [PY, "-c", fallback_code]


# -- what is benchmarked: the app, the file a save rewrites, how the port is passed ------------


def write_file(path: Path, text: str, atomic: bool) -> None:
    """Write ``path``: in place (truncate + write), or atomically (temp file + rename)."""
    if not atomic:
        with open(path, "w") as f:
            f.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass
class Target:
    """The app under test (already in ``app_dir``) and how a save changes what ``GET /`` answers."""

    name: str  # plain / heavy / the --app dir's name
    app_dir: Path
    script: str  # ``python SCRIPT`` is the cold-start baseline
    edit: str  # the file each save rewrites, relative to app_dir
    render: Callable[[str], str]  # value -> the whole new text of the edit file
    exact: bool  # a save is served when the body == value (else: when the body contains it)
    port_env: str | None  # the port goes in this environment variable; None: as the last argument
    description: str  # for the report
    floor_imports: list[str] = field(default_factory=lambda: list(FLOOR_IMPORTS))  # its third-party imports
    env: dict[str, str] = field(default_factory=dict)  # extra environment (a case's PYTHONPATH)

    def save(self, value: str, atomic: bool) -> None:
        write_file(self.app_dir / self.edit, self.render(value), atomic)

    def port_args(self, port: str) -> list[str]:
        return [] if self.port_env else [port]

    def port_environ(self, port: str) -> dict[str, str]:
        return {self.port_env: port} if self.port_env else {}

    @property
    def cold_how(self) -> str:
        return f"python {self.script}" + ("" if self.port_env else " PORT")


def write_app(name: str, app_dir: Path, heavy: str | None = None) -> Target:
    """The default mode: generate the benchmark app in ``app_dir`` (a new dir), serving ``v0``.

    ``heavy``: a module that app.py also imports at the top (a third-party package)."""
    app_dir.mkdir()
    line = "" if heavy is None else f"import {heavy}  # heavy third-party import, from site-packages\n"
    (app_dir / "app.py").write_text(APP_TEMPLATE.format(debug=False, heavy=line))
    (app_dir / "app_debug.py").write_text(APP_TEMPLATE.format(debug=True, heavy=line))
    (app_dir / "werkzeug_app.py").write_text(WERKZEUG_TEMPLATE)
    extra = "" if heavy is None else f", and also does `import {heavy}` at the top"
    target = Target(
        name, app_dir, "app.py", "version.py", lambda version: f"VERSION = {version!r}\n", exact=True,
        port_env=None,
        description=f"generated app: `app.py PORT` answers `GET /` with `version.VERSION`{extra}; each save "
        "rewrites `version.py`, served = body equal to the new version",
        floor_imports=FLOOR_IMPORTS + ([heavy] if heavy else []),
    )
    target.save("v0", atomic=False)
    return target


def copy_app(source: Path, app_dir: Path, script: str, edit: str, var: str, port_env: str | None) -> Target:
    """``--app`` mode: copy ``source`` to ``app_dir`` (a new dir) and make saves rewrite ``var`` in ``edit``.

    Raises ValueError when ``edit`` has no single top-level ``var = ...`` line that can be rewritten."""
    shutil.copytree(source, app_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in (script, edit):
        if not (app_dir / name).is_file():
            raise ValueError(f"{source / name}: no such file")
    text = (app_dir / edit).read_text()
    # one top-level line `VAR = ...` (or `VAR: type = ...`); the value must be on that line
    assignment = re.compile(rf"^({re.escape(var)}[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*)[^\n]*$", re.MULTILINE)
    found = len(assignment.findall(text))
    if found != 1:
        raise ValueError(f"{source / edit}: expected one top-level line `{var} = ...`, found {found}")

    def render(value: str) -> str:
        return assignment.sub(lambda m: m.group(1) + json.dumps(value), text)

    try:
        compile(render("v0"), edit, "exec")
    except SyntaxError as exc:
        raise ValueError(f"{source / edit}: `{var} = ...` is not a one-line assignment ({exc.msg})") from None
    port = f"`${port_env}` env var" if port_env else "last argument"
    target = Target(
        source.resolve().name, app_dir, script, edit, render, exact=False, port_env=port_env,
        description=f"`{source}` (copied to a temp dir), `python {script}`, port as {port}; each save rewrites "
        f'`{var} = "…"` in `{edit}`, served = body containing the new string',
    )
    target.save("v0", atomic=False)
    return target


# -- HTTP polling ----------------------------------------------------------------------------


def http_get(port: int) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def classify_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.RemoteDisconnected)):
        return "reset"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    return "other"


@dataclass
class PollResult:
    seconds: float | None  # None: the expected body never came
    failed: dict[str, int] = field(default_factory=dict)  # refused / reset / timeout / http_NNN / other
    stale: int = 0  # successful answers with another body (the old version)
    last_body: str | None = None  # of the last successful answer, for error messages
    unnoticed: bool = False  # given up early: the old app kept answering, no restart begun

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


def poll_until(
    port: int, expected: str, started: float, timeout: float, proc: subprocess.Popen | None = None, exact: bool = True,
    unnoticed_after: float | None = None,
) -> PollResult:
    """GET / every POLL_INTERVAL until the body is ``expected`` (or, unless ``exact``, contains it).

    Time is measured from ``started``.  Gives up at the deadline, or as soon as ``proc`` (if given) has exited,
    or (``unnoticed_after``) when that many seconds have passed with no failed request: the old app still
    answering, no restart begun (sets ``unnoticed``)."""
    result = PollResult(seconds=None)
    deadline = started + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        if unnoticed_after is not None and not result.failed and time.monotonic() - started >= unnoticed_after:
            result.unnoticed = True
            return result
        try:
            status, body = http_get(port)
        except (OSError, http.client.HTTPException) as exc:
            kind = classify_error(exc)
            result.failed[kind] = result.failed.get(kind, 0) + 1
        else:
            if status == 200 and (body == expected if exact else expected in body):
                result.seconds = time.monotonic() - started
                return result
            if status == 200:
                result.stale += 1
                result.last_body = body
            else:
                result.failed[f"http_{status}"] = result.failed.get(f"http_{status}", 0) + 1
        time.sleep(POLL_INTERVAL)
    return result


# -- processes (Linux /proc) ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat_fields(pid: int) -> list[bytes] | None:
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process (its own, not its reaped children's), in clock ticks."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid``, by parent pid (a /proc walk)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[0] != b"Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for kid in children.get(stack.pop(), []):
            found.append(kid)
            stack.append(kid)
    return found


def process_group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[2])


def _killpg(pgid: int, sig: int) -> None:
    if pgid == os.getpgrp():  # never ourselves
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_tree(proc: subprocess.Popen) -> None:
    """SIGTERM the runner's group, give it STOP_GRACE, then SIGKILL its group and its descendants' groups."""
    groups = {proc.pid}
    for pid in descendants(proc.pid):  # before they can be orphaned (tdev's app has a session of its own)
        pgid = process_group(pid)
        if pgid:
            groups.add(pgid)
    _killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        pass
    for pgid in groups:
        _killpg(pgid, signal.SIGKILL)
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        print(f"warning: process {proc.pid} survived SIGKILL", file=sys.stderr)


@contextmanager
def started(
    cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path, err_path: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` in a new session, stdout (and stderr, unless ``err_path``) to ``log_path``; stopped by
    process group on exit."""
    with open(log_path, "ab") as log, open(err_path or os.devnull, "ab") as err:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=err if err_path else subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_tree(proc)


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LogFollower:
    """The text appended to a log file since the last ``read()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return ""
        # only whole lines: a line being written now is read next time
        data = data[: data.rfind(b"\n") + 1]
        self.offset += len(data)
        return data.decode("utf-8", "replace")


# tdev -v (devserver/supervisor.py: _spawn, _on_started, _on_serving); "the change" = when tdev got the file
# event.  _spawn says "new app process PID started" (cold), "pre-started process PID told to go" (cold: a
# bare interpreter started at the change event) or "standby PID told to go" (warm restart).
TDEV_SPAWN_RE = re.compile(
    r"(new app process|pre-started process|standby) \d+ (?:started|told to go) ([0-9.]+) ms after the change")
TDEV_RUNNING_RE = re.compile(r"target code running ([0-9.]+) ms after the change")
TDEV_SERVING_RE = re.compile(r"serving again ([0-9.]+) ms after the change")
STANDBY_WAIT_MS = 50  # warm restart: app code running this much later than the "go" = standby not ready yet


def parse_tdev_timings(text: str) -> dict:
    spawns = TDEV_SPAWN_RE.findall(text)
    return {
        "spawn_ms": [float(ms) for _, ms in spawns],
        "spawn_kind": ["warm" if how == "standby" else "cold" for how, _ in spawns],
        "running_ms": [float(x) for x in TDEV_RUNNING_RE.findall(text)],
        "serving_ms": [float(x) for x in TDEV_SERVING_RE.findall(text)],
    }


# -- runners ----------------------------------------------------------------------------------


@dataclass
class Runner:
    name: str
    how: str  # the command, as a user would type it (for the table)
    command: Callable[[str], list[str]]  # port -> argv
    needs: str | None = None  # module that must be importable
    note: str = ""
    tdev: bool = False  # a tdev runner: found via _tdev_env(); stderr parsed for its -v timings
    default: bool = True  # run without --runners (else only when named there)
    # a save is missed once the old app has kept answering (no failed request) this long: set where a
    # change that was noticed always shows as failed requests first (a process that re-execs itself)
    unnoticed_after: float | None = None


def _tdev_env() -> dict[str, str]:
    """tdev is found as ``python -m devserver``; from this checkout when not installed."""
    if importlib.util.find_spec("devserver") is not None:
        return {}
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(REPO_ROOT) + (os.pathsep + path if path else "")}


TDEV_NOTE = "top process = tdev supervisor; the app is its child (own session)"
TDEV_COLD_NOTE = "tdev without its warm start (`--no-warm`); " + TDEV_NOTE


def tdev_runners(script: str, port_args: Callable[[str], list[str]], tdev_args: list[str], verbose: bool) -> list[Runner]:
    """``tdev`` and ``tdev-cold`` (``--no-warm``), with ``-v`` when ``verbose`` and ``tdev_args`` after ``run``."""
    port_hint = " PORT" if port_args("PORT") else ""
    runners = []
    for name, extra, note in (("tdev", [], TDEV_NOTE), ("tdev-cold", ["--no-warm"], TDEV_COLD_NOTE)):
        options = [*(["-v"] if verbose else []), *extra, *tdev_args]
        runners.append(Runner(
            name, shlex.join(["tdev", "run", *options, script]) + port_hint,
            lambda port, options=options: [PY, "-m", "devserver", "run", *options, script, *port_args(port)],
            note=note, tdev=True,
        ))
    return runners


def generated_runners(tdev_args: list[str], verbose: bool = True) -> list[Runner]:
    """The runners of the generated apps (the same for plain and heavy)."""
    return [
        *tdev_runners("app.py", lambda port: [port], tdev_args, verbose),
        Runner("tornado-autoreload", "python -m tornado.autoreload app_debug.py PORT",
               lambda port: [PY, "-m", "tornado.autoreload", "app_debug.py", port],
               note="needs the debug=True app: the wrapper alone does not reload a running server; "
               "single process (re-execs itself), so top process = the app", unnoticed_after=TORNADO_UNNOTICED),
        Runner("tornado-debug", "python app_debug.py PORT  (debug=True)", lambda port: [PY, "app_debug.py", port],
               note="Tornado's in-process autoreload, mtime poll every 500 ms; single process = the app",
               unnoticed_after=TORNADO_UNNOTICED),
        Runner("hupper", "hupper -m app PORT", lambda port: [*console_script("hupper", HUPPER_MAIN), "-m", "app", port],
               needs="hupper", note="top process = hupper monitor (with a watchdog observer here); the app is its "
               "worker child. After the old worker exits, hupper sleeps until `--reload-interval` (default and "
               "minimum 1 s) has passed before it starts the new one: every reload takes > 1 s"),
        Runner("watchfiles", "watchfiles 'python app.py PORT' .",
               lambda port: [*console_script("watchfiles", WATCHFILES_MAIN),
                             "--target-type", "command", f"{shlex.quote(PY)} app.py {port}", "."],
               needs="watchfiles", note="top process = watchfiles (Rust notify watcher, 50 ms debounce step, stops the "
               "app with SIGINT); the app is its child"),
        Runner("werkzeug", "run_with_reloader(app.serve, reloader_type='stat')",
               lambda port: [PY, "werkzeug_app.py", port, "stat"],
               needs="werkzeug._reloader", note=WERKZEUG_NOTE + "; the stat reloader (werkzeug's choice when watchdog "
               "is not installed, as with plain Flask) stats every imported module and every .py file below the "
               "non-system sys.path dirs once per second, the first time 1 s after the child starts. Saves here come "
               "`--settle` after the previous reload was served, so all but the first land at about the same point "
               "of that period: its median is not the average over random save times (that would be ~0.5 s + a restart)"),
        Runner("werkzeug-watchdog", "run_with_reloader(app.serve, reloader_type='watchdog')",
               lambda port: [PY, "werkzeug_app.py", port, "watchdog"],
               needs="werkzeug._reloader", default=False,
               note=WERKZEUG_NOTE + "; the watchdog reloader (what werkzeug's 'auto' picks when watchdog is installed, "
               "as it is with tdev) watches every sys.path dir recursively, the stdlib dir and its site-packages "
               "included: where that is ~10,000 dirs, opening them overflows the inotify queue (16384 events) and "
               "watchdog's rescan overflows it again, forever: a core busy and saves missed (opt-in for that reason)"),
    ]


WERKZEUG_NOTE = ("top process = werkzeug's restarter, which imports app.py too (as `app.run(debug=True)` does); "
                 "the app runs in a thread of its child")


RUNNER_NAMES = [r.name for r in generated_runners([])]
DEFAULT_RUNNER_NAMES = [r.name for r in generated_runners([]) if r.default]


def app_runners(script: str, port_args: Callable[[str], list[str]], tdev_args: list[str],
                verbose: bool = True) -> list[Runner]:
    """The runners of ``--app`` mode: the app's own script, unchanged (so its own ``debug=True``)."""
    port_hint = " PORT" if port_args("PORT") else ""
    return [
        *tdev_runners(script, port_args, tdev_args, verbose),
        Runner("tornado-autoreload", f"python -m tornado.autoreload {script}{port_hint}",
               lambda port: [PY, "-m", "tornado.autoreload", script, *port_args(port)],
               note="reloads only if the app turns autoreload on itself, as debug=True does (the wrapper alone does "
               "not reload a running server); single process (re-execs itself), so top process = the app",
               unnoticed_after=TORNADO_UNNOTICED),
        Runner("tornado-debug", f"python {script}{port_hint}  (app's debug=True)",
               lambda port: [PY, script, *port_args(port)],
               note="Tornado's in-process autoreload (only if the app sets debug=True), mtime poll every 500 ms; "
               "single process = the app", unnoticed_after=TORNADO_UNNOTICED),
    ]


APP_RUNNER_NAMES = [r.name for r in app_runners("app.py", lambda port: [], [])]


def unavailable_reason(runner: Runner) -> str | None:
    if runner.needs is None:
        return None
    try:
        importlib.import_module(runner.needs)
    except Exception as exc:  # ImportError, or a broken install
        return f"not installed ({type(exc).__name__}: {exc}; `pip install -e '.[bench]'`)"
    return None


def runner_env(runner: Runner | None, extra: dict[str, str]) -> dict[str, str]:
    """This environment for a runner (``None``: the cold-start baseline), plus ``extra`` (the port)."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if runner is not None and runner.tdev:
        env.update(_tdev_env())
    for key, value in extra.items():
        env[key] = value + os.pathsep + env[key] if key == "PYTHONPATH" and env.get(key) else value
    return env


# -- measurements -------------------------------------------------------------------------------


def _never_served(what: str, result: PollResult) -> str:
    seen = "" if result.last_body is None else f", last body {result.last_body[:200]!r}"
    return f"never served {what} ({result.stale} other answers{seen})"


def measure_cold_start(target: Target, log_dir: Path, runs: int, timeout: float) -> list[float]:
    """Seconds from Popen of ``python app.py [PORT]`` to the first GET that serves v0, ``runs`` times."""
    log_path = log_dir / f"{target.name}-cold.log"
    times = []
    for i in range(runs):
        port = str(free_port())
        env = runner_env(None, {**target.env, **target.port_environ(port)})
        t0 = time.monotonic()
        with started([PY, target.script, *target.port_args(port)], target.app_dir, env, log_path) as proc:
            result = poll_until(int(port), "v0", t0, timeout, proc, exact=target.exact)
            if result.seconds is None:
                why = _never_served("v0", result)
                raise RuntimeError(f"cold start {why} (exit code {proc.poll()}):\n{log_tail(log_path)}")
        times.append(result.seconds)
        progress(f"  cold start {i + 1}/{runs}: {result.seconds * 1000:.0f} ms")
    return times


def wait_exit(proc: subprocess.Popen, timeout: float) -> int | None:
    """``proc.wait(timeout)`` without its coarse polling (sleeps up to 50 ms between checks, which would
    add up to 50 ms to a measured time): a pidfd where there is one, else a 1 ms poll.  None: still running."""
    deadline = time.monotonic() + timeout
    pidfd = None
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd_open (Linux < 5.3), or already reaped
        pass
    try:
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], remaining)
            else:
                time.sleep(min(0.001, remaining))
        return proc.returncode
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _wall(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path, timeout: float) -> float:
    """Seconds from Popen of ``cmd`` to its exit (it must exit with 0 within ``timeout``)."""
    t0 = time.monotonic()
    with started(cmd, cwd, env, log_path) as proc:
        code = wait_exit(proc, timeout)
        elapsed = time.monotonic() - t0
        if code is None:
            raise RuntimeError(f"{shlex.join(cmd)}: still running after {timeout:g} s")
    if code != 0:
        raise RuntimeError(f"{shlex.join(cmd)}: exit code {code}:\n{log_tail(log_path)}")
    return elapsed


def measure_floor(target: Target, log_dir: Path, runs: int, timeout: float) -> dict:
    """Medians of ``python -c pass`` and of ``python -c "import <the app's third-party imports>"``.

    Both end with ``os._exit(0)``, so the interpreter's teardown (~20 ms after the Tornado imports, more
    after a heavy one) is not counted: a server being started never gets there.  Run alternately, ``runs``
    times each (after the cold starts, which warmed the page cache)."""
    log_path = log_dir / f"{target.name}-floor.log"
    env = runner_env(None, dict(target.env))
    imports = f"import {', '.join(target.floor_imports)}"
    exit_now = "import os; os._exit(0)"
    commands = {"bare": [PY, "-c", exit_now], "imports": [PY, "-c", f"{imports}; {exit_now}"]}
    times: dict[str, list[float]] = {"bare": [], "imports": []}
    for _ in range(runs):
        for key, cmd in commands.items():
            times[key].append(_wall(cmd, target.app_dir, env, log_path, timeout))
    bare, full = statistics.median(times["bare"]) * 1000, statistics.median(times["imports"]) * 1000
    progress(f"  floor: interpreter {bare:.0f} ms, `{imports}` {full:.0f} ms")
    return {
        "interpreter_start_ms": round(bare, 1),
        "imports": imports,
        "imports_wall_ms": round(full, 1),
        "third_party_imports_ms": round(full - bare, 1),
        "runs_ms": {k: [round(x * 1000, 1) for x in v] for k, v in times.items()},
    }


def measure_idle(pid: int, seconds: float) -> dict:
    """CPU % of one core over ``seconds`` (top process, whole tree) and RSS (top, tree)."""
    tree_before = {p: cpu_ticks(p) for p in [pid, *descendants(pid)]}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    tree_after = {p: cpu_ticks(p) for p in [pid, *descendants(pid)]}
    same = [p for p in tree_after if tree_before.get(p) is not None and tree_after[p] is not None]

    def pct(ticks: int) -> float:
        return ticks / CLK_TCK / elapsed * 100

    top_ticks = (tree_after.get(pid) or 0) - (tree_before.get(pid) or 0)
    return {
        "seconds": round(elapsed, 3),
        "cpu_top_pct": round(pct(top_ticks), 2),
        "cpu_tree_pct": round(pct(sum(tree_after[p] - tree_before[p] for p in same)), 2),
        "rss_top_kib": rss_kib(pid),
        "rss_tree_kib": sum(rss_kib(p) for p in tree_after),
        "processes": len(tree_after),
    }


def run_saves(
    target: Target, port: int, proc: subprocess.Popen, last_served: float, args, timeout: float,
    tdev_log: LogFollower | None = None, unnoticed_after: float | None = None,
    before_save: Callable[[int], None] | None = None,
) -> list[dict]:
    """The saves, each timed until its version is served (else missed after ``timeout`` s); ``last_served``:
    when v0 was first served.  ``before_save(port)`` (a case's) runs before each save, not timed.

    With ``tdev_log``: the tdev -v timings logged from the save until the next one go into its record."""
    saves = []
    if tdev_log is not None:
        tdev_log.read()  # skip the first start
    for i in range(1, args.saves + 1):
        atomic = i % 2 == 0  # 1: in place, 2: atomic, ...
        version = f"v{i}-{uuid.uuid4().hex[:8]}"
        if before_save is not None:
            before_save(port)
        target.save(version, atomic)
        t0 = time.monotonic()
        result = poll_until(port, version, t0, timeout, proc, exact=target.exact, unnoticed_after=unnoticed_after)
        record = {
            "save": i,
            "kind": "atomic" if atomic else "in-place",
            "version": version,
            "ms": None if result.seconds is None else round(result.seconds * 1000, 2),
            "failed_requests": result.failed_total,
            "failed_by_kind": result.failed,
            "stale_responses": result.stale,
            "unnoticed": result.unnoticed,  # missed: given up early, the old app kept answering
            # how long after the previous version was first served this save came
            "since_previous_served_ms": round((t0 - last_served) * 1000, 1),
        }
        saves.append(record)
        if result.seconds is not None:
            last_served = t0 + result.seconds
        shown = f"{record['ms']:.0f} ms" if record["ms"] is not None else (
            f"MISSED (old version still served, no failed request, after {unnoticed_after:g} s)"
            if result.unnoticed else "MISSED")
        if proc.poll() is not None:
            progress(f"  save {i} ({record['kind']}): {shown}, {result.failed_total} failed requests")
            raise RuntimeError(f"runner exited with code {proc.returncode}")
        time.sleep(args.settle)
        if tdev_log is not None:
            record["tdev"] = parse_tdev_timings(tdev_log.read())
            t = record["tdev"]
            last = {k: _ms(t[k][-1] if t[k] else None) for k in ("spawn_ms", "running_ms", "serving_ms")}
            kind = "/".join(t["spawn_kind"]) or "no restart logged"
            shown += (f" (tdev, {kind}: spawn {last['spawn_ms']}, app code {last['running_ms']}, serving "
                      f"{last['serving_ms']} ms after the change)")
        progress(f"  save {i} ({record['kind']}): {shown}, {result.failed_total} failed requests")
    if tdev_log is not None and saves:  # a late line belongs to the last save
        late = parse_tdev_timings(tdev_log.read())
        for key in late:
            saves[-1]["tdev"][key] += late[key]
    return saves


def measure_runner(runner: Runner, target: Target, log_dir: Path, args, timeout: float) -> dict:
    """Start the runner, wait for v0, do the saves, measure idle cost; always stops it."""
    port = free_port()
    log_path = log_dir / f"{target.name}-{runner.name}.log"
    err_path = log_dir / f"{target.name}-{runner.name}.stderr.log" if runner.tdev else None
    target.save("v0", atomic=False)
    time.sleep(0.05)
    result: dict = {"how": runner.how, "note": runner.note, "status": "ok"}
    env = runner_env(runner, {**target.env, **target.port_environ(str(port))})

    def tail() -> str:
        return "\n".join(t for t in (log_tail(log_path), err_path and log_tail(err_path)) if t)

    def drive(proc: subprocess.Popen) -> None:
        result["command"] = proc.args
        if target.port_env:
            result["env"] = target.port_environ(str(port))
        first = poll_until(port, "v0", time.monotonic(), START_TIMEOUT, proc, exact=target.exact)
        if first.seconds is None:
            if proc.poll() is not None:
                why = f"exited with code {proc.returncode} before serving v0"
            else:
                why = f"{_never_served('v0', first)} within {START_TIMEOUT:g} s"
            result.update(status="failed to start", reason=why, log=tail())
            return
        result["first_serve_ms"] = round(first.seconds * 1000, 1)
        served_at = time.monotonic()
        time.sleep(WARMUP)
        follower = LogFollower(err_path) if err_path is not None and args.tdev_timings else None
        try:
            result["saves"] = run_saves(target, port, proc, served_at, args, timeout, follower, runner.unnoticed_after,
                                        getattr(args, "before_save", None))
        except RuntimeError as exc:
            result.update(status="failed", reason=str(exc), log=tail())
            return
        time.sleep(BEFORE_IDLE)
        result["idle"] = measure_idle(proc.pid, args.idle_seconds)

    began = time.monotonic()
    with started(runner.command(str(port)), target.app_dir, env, log_path, err_path) as proc:
        drive(proc)
        stopping = time.monotonic()
    result["seconds"] = {"total": round(time.monotonic() - began, 2), "stop": round(time.monotonic() - stopping, 2)}
    return result


# -- summary and report ---------------------------------------------------------------------------


def p90(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def summarize(saves: list[dict], cold_ms: float) -> dict:
    def stats(kind: str | None) -> dict:
        chosen = [s for s in saves if kind is None or s["kind"] == kind]
        ok = [s["ms"] for s in chosen if s["ms"] is not None]
        return {
            "saves": len(chosen),
            "missed": len(chosen) - len(ok),
            "median_ms": round(statistics.median(ok), 1) if ok else None,
            "p90_ms": round(p90(ok), 1) if ok else None,
        }

    ok_saves = [s for s in saves if s["ms"] is not None]
    summary = {"all": stats(None), "in-place": stats("in-place"), "atomic": stats("atomic")}
    if ok_saves:
        summary["median_ratio_vs_cold"] = round(statistics.median(s["ms"] / cold_ms for s in ok_saves), 2)
        summary["failed_requests_per_reload"] = round(statistics.mean(s["failed_requests"] for s in ok_saves), 1)
    if any("tdev" in s for s in saves):
        summary["tdev"] = summarize_tdev(saves)
    return summary


def summarize_tdev(saves: list[dict]) -> dict:
    """Medians of tdev's own -v timings, per save: the last restart of each save (the one that served it)."""
    spawn = [s["tdev"]["spawn_ms"][-1] for s in saves if s.get("tdev", {}).get("spawn_ms")]
    running = [s["tdev"]["running_ms"][-1] for s in saves if s.get("tdev", {}).get("running_ms")]
    serving = [s["tdev"]["serving_ms"][-1] for s in saves if s.get("tdev", {}).get("serving_ms")]
    kinds = [k for s in saves for k in s.get("tdev", {}).get("spawn_kind", [])]
    # a warm restart whose app code ran well after the "go": the standby was still importing (it is rebuilt
    # after each restart, and the next save came before it was ready)
    waited = sum(
        1 for s in saves
        if s.get("tdev", {}).get("spawn_kind") and s["tdev"]["spawn_kind"][-1] == "warm" and s["tdev"]["running_ms"]
        and s["tdev"]["running_ms"][-1] - s["tdev"]["spawn_ms"][-1] > STANDBY_WAIT_MS
    )
    # save -> served, minus tdev's change -> serving: the save -> tdev sees it (+ the last poll) part
    before = [s["ms"] - s["tdev"]["serving_ms"][-1] for s in saves if s["ms"] is not None and s.get("tdev", {}).get("serving_ms")]

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if values else None

    return {
        "restarts_logged": len(kinds),
        "warm_restarts": kinds.count("warm"),
        "warm_waited_for_standby": waited,
        "saves_with_timings": len(serving),
        "spawn_after_change_median_ms": median(spawn),
        "running_after_change_median_ms": median(running),
        "serving_after_change_median_ms": median(serving),
        "save_to_change_median_ms": median(before),
    }


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(heavy: str) -> dict:
    try:
        import devserver

        tdev_version = devserver.__version__
    except ImportError:
        tdev_version = None
    heavy_dists = getattr(importlib.metadata, "packages_distributions", dict)().get(heavy.split(".")[0], [])
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "python_executable": PY,
        "tornado": tornado.version,
        "tdev": tdev_version,
        "versions": {d: _version(d) for d in ("watchdog", "hupper", "watchfiles", "werkzeug", *heavy_dists)},
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _missed_note(saves: list[dict], timeout: float) -> str:
    missed = [s for s in saves if s["ms"] is None]
    if not missed:
        return ""
    gaps = sorted(s["since_previous_served_ms"] for s in missed)
    kinds = sorted({s["kind"] for s in missed})
    early = sum(1 for s in missed if s.get("unnoticed"))
    how = f"new version not served within {timeout:g} s"
    if early:
        how = (f"{early} given up after {TORNADO_UNNOTICED:g} s of old-version answers with no failed request: "
               "not noticed" + (f"; the others: {how}" if early < len(missed) else ""))
    return (
        f" **{len(missed)} missed** saves ({'/'.join(kinds)}; {how}), "
        f"made {gaps[0]:.0f}–{gaps[-1]:.0f} ms after the previous version was first served."
    )


TORNADO_MISS_NOTE = (
    "- Why Tornado misses saves: its autoreload records each file's mtime at its *first* check, one 500 ms "
    "period after the (re-exec'd) process starts it; a save made before that check becomes the baseline and "
    "is never noticed (until a later save). With a short `--settle` (e.g. 0.3 s), a save right after a "
    "Tornado reload lands in that window. Saves alternate, so the one after a successful in-place reload is an atomic one: "
    "the misses are about timing, not about the kind of save (with `--settle 0.7` both kinds reload). "
    f"A Tornado save is counted as missed once the old version has been answered for {TORNADO_UNNOTICED:g} s "
    "(three checks) without a failed request: a noticed change re-execs the process at once, which fails GETs. "
    "Its reload times depend on where in the 500 ms period a save lands, and saves here come at fixed offsets "
    "after the previous reload (`--settle`, or after a miss 1.5 s + `--settle`), so its median is that of one "
    "phase (the successful saves all come right after a miss), not an average over random save times."
)


def render_app(name: str, app: dict, config: dict) -> list[str]:
    cold, floor = app["baseline"], app["floor"]
    cold_ms = cold["median_ms"]
    rest = cold_ms - floor["interpreter_start_ms"] - floor["third_party_imports_ms"]
    out = [
        f"### App `{name}`",
        "",
        f"{app['description']}.",
        "",
        f"- Baseline, cold start `{app['cold_how']}` → first response: median **{cold_ms:.0f} ms** "
        f"(runs: {', '.join(f'{x:.0f}' for x in cold['runs_ms'])}).",
        f"- Physical floor: interpreter start (`python -c pass`) **{floor['interpreter_start_ms']:.0f} ms**; "
        f"third-party imports (`python -c \"{floor['imports']}\"` minus that) **{floor['third_party_imports_ms']:.0f} ms**"
        f"; the rest of the cold start (the app's own modules, event loop, listen, first request) ≈ {rest:.0f} ms "
        "(both commands end with `os._exit(0)`: teardown not counted).",
        "",
    ]
    main_rows, kind_rows, tdev_rows, notes = [], [], [], []
    for runner, r in app["runners"].items():
        if r["status"] == "failed to start":
            main_rows.append([f"**{runner}**", f"`{r['how']}`", "**failed to start**", *["–"] * 8])
            notes.append(f"- **{runner}**: failed to start — {r.get('reason', '')}"
                         + (f": `{r['log'].splitlines()[-1]}`" if r.get("log") else ""))
            continue
        if r["status"] != "ok":
            main_rows.append([f"**{runner}**", f"`{r['how']}`", f"**{r['status']}**", *["–"] * 8])
            notes.append(f"- **{runner}**: {r['status']} — {r.get('reason', '')}")
            continue
        s, idle = r["summary"], r["idle"]
        a = s["all"]
        main_rows.append([
            f"**{runner}**", f"`{r['how']}`", f"{a['saves'] - a['missed']}/{a['saves']}",
            _ms(a["median_ms"]), _ms(a["p90_ms"]),
            "–" if "median_ratio_vs_cold" not in s else f"{s['median_ratio_vs_cold']:.2f}×",
            "–" if "failed_requests_per_reload" not in s else f"{s['failed_requests_per_reload']:.1f}",
            str(a["missed"]),
            f"{idle['cpu_top_pct']:.1f} / {idle['cpu_tree_pct']:.1f}",
            f"{idle['rss_top_kib'] / 1024:.1f} / {idle['rss_tree_kib'] / 1024:.1f}",
            str(idle["processes"]),
        ])
        kind_rows.append([f"**{runner}**"] + [
            f"{_ms(s[k]['median_ms'])} / {_ms(s[k]['p90_ms'])}" + (f" ({s[k]['missed']} missed)" if s[k]["missed"] else "")
            for k in ("in-place", "atomic")
        ])
        if "tdev" in s:
            t = s["tdev"]
            tdev_rows.append([
                f"**{runner}**", f"{t['saves_with_timings']}/{a['saves']}",
                f"{t['restarts_logged']} ({t['warm_restarts']} warm"
                + (f", {t['warm_waited_for_standby']} waited for the standby" if t["warm_waited_for_standby"] else "")
                + ")",
                _ms(t["spawn_after_change_median_ms"]), _ms(t["running_after_change_median_ms"]),
                _ms(t["serving_after_change_median_ms"]), _ms(a["median_ms"]), _ms(t["save_to_change_median_ms"]),
            ])
        notes.append(f"- **{runner}**: {r['note']}." + _missed_note(r["saves"], app["timeout_s"]))
    out.append(markdown_table(
        ["runner", "command", "reloads ok", "median ms", "p90 ms", "median ÷ cold start", "failed req / reload",
         "missed saves", "idle CPU % (supervisor / tree)", "RSS MiB (supervisor / tree)", "procs"],
        main_rows,
    ))
    if kind_rows:
        out += ["", "Save → new response by kind of save, median / p90 ms:", ""]
        out.append(markdown_table(["runner", "in-place write", "atomic (temp + os.replace)"], kind_rows))
    if tdev_rows:
        out += ["", "tdev's own timings (`-v` lines on its stderr; \"the change\" = when tdev got the file event; "
                "*spawn* = a new app process started (cold), *go* = the standby process with the libraries already "
                "imported told to run the app (warm); medians in ms of the restart that served each save; *waited "
                f"for the standby*: a warm restart whose app code ran > {STANDBY_WAIT_MS} ms after the go, the standby "
                "still importing: it is rebuilt after each restart, and the next save here comes `--settle` after "
                "the new version is served):", ""]
        out.append(markdown_table(
            ["runner", "saves with timings", "restarts logged", "spawn (cold) / go (warm) after change",
             "app code running after change", "serving again after change", "save → new response",
             "≈ save → change seen (+ last poll)"],
            tdev_rows,
        ))
    out += ["", "Notes:", *notes, *(f"- **{n}**: skipped — {why}" for n, why in app["skipped"].items())]
    if any(r.get("saves") and _missed_note(r["saves"], 0) for n, r in app["runners"].items() if n.startswith("tornado")):
        out.append(TORNADO_MISS_NOTE)
    return out


def render_report(report: dict) -> str:
    m, config = report["machine"], report["config"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    out = [
        f"## tdev reload benchmark — {report['date']}",
        "",
        f"- Machine: {m['cpu_model'] or 'unknown CPU'}, {m['cpu_count']} cores ({m['cpus_usable']} usable), "
        f"{m['memory_gib']} GiB; {m['platform']}; load average at start {m['loadavg_at_start'][0]}.",
        f"- Python {m['python']}, Tornado {m['tornado']}, tdev {m['tdev']}; {versions}.",
        f"- Saves per runner: {config['saves']} (alternating in-place / atomic), settle {config['settle']} s, "
        f"GET every {POLL_INTERVAL * 1000:g} ms; cold starts and floor runs: {config['cold_runs']} each; "
        f"idle window {config['idle_seconds']:g} s."
        + (f" tdev runners' extra args: `{shlex.join(config['tdev_args'])}`." if config["tdev_args"] else ""),
        "",
    ]
    for name, app in report["apps"].items():
        out += render_app(name, app, config) + [""]
    out += [
        "Columns:",
        "- *median ÷ cold start*: the runner's median save → new response over the app's cold-start median "
        "(same run).",
        "- *failed req / reload*: GETs refused, reset, timed out or non-200 between the save and the new "
        "version, averaged over successful reloads (polling every ~2 ms, so this is a measure of the "
        "downtime window, not of real clients). *missed saves*: not served within the app's timeout ("
        + ", ".join(f"{n}: {a['timeout_s']:g} s" for n, a in report["apps"].items())
        + (", from `--timeout`" if config["timeout"] else ": 1.5 s + 3 × its cold start, at least 3 s; `--timeout`")
        + ").",
        f"- *idle CPU*: `utime+stime` from `/proc/PID/stat` over {config['idle_seconds']:g} s after the "
        "last reload, % of one core; *supervisor* = the process we started, *tree* = it plus its live descendants. "
        "RSS = `VmRSS` from `/proc/PID/status`.",
    ]
    return "\n".join(out)


# -- cases: the ways developers work (--cases) --------------------------------------------------------
#
# Each case is a generated app of its own (the benchmark app, changed as the case needs) and a way of
# saving; tdev's save -> new response is measured as above (``--saves`` saves, in place / atomic
# alternating, ``--settle`` after each unless the case says otherwise), and compared, in the same run,
# with its reference: the ``module-edit`` case (a normal warm restart of the plain app), the
# ``heavy-module-edit`` case (the same on the heavy app), or the case app's own cold start.

HEAVYDEP_MODULES = 200  # the generated dependency: ~0.3 s of imports on a 2-core Xeon (bytecode writing off)


def write_heavydep(libs: Path) -> None:
    """``heavydep``, a generated third-party package in ``libs`` (outside site-packages and the project):
    modules whose import costs compile + exec time."""
    pkg = libs / "heavydep"
    pkg.mkdir(parents=True)
    body = "\n".join(f"def f{i}(x):\n    return [x * {i} + k for k in range(10) if k % 3]\n" for i in range(60))
    body += "\nTABLE = {i: str(i) * 3 for i in range(2000)}\n"
    for m in range(HEAVYDEP_MODULES):
        (pkg / f"m{m}.py").write_text(body)
    (pkg / "__init__.py").write_text("".join(f"from heavydep import m{m}\n" for m in range(HEAVYDEP_MODULES)))


def _case_app(app_dir: Path, name: str, heavy: str | None, description: str, version_in_script: bool = False,
              version_module: str = "version", env: dict[str, str] | None = None) -> Target:
    """The benchmark app in ``app_dir`` (made already), ``heavy`` imported at the top; the version lives in
    ``version_module`` (a module of the project) or, with ``version_in_script``, in app.py itself."""
    app_dir.mkdir(exist_ok=True)
    line = "" if heavy is None else f"import {heavy}  # heavy third-party import\n"

    def script(version: str) -> str:
        text = APP_TEMPLATE.format(debug=False, heavy=line)
        if version_in_script:
            return text.replace("import version\n", f"class version:  # the version, in the script itself\n"
                                f"    VERSION = {version!r}\n")
        return text.replace("import version\n", f"import {version_module} as version\n")

    if version_in_script:
        edit, render = "app.py", script
    else:
        (app_dir / "app.py").write_text(script("v0"))
        edit, render = f"{version_module}.py", (lambda version: f"VERSION = {version!r}\n")
    target = Target(name, app_dir, "app.py", edit, render, exact=True, port_env=None,
                    description=description, floor_imports=FLOOR_IMPORTS + ([heavy] if heavy else []),
                    env=dict(env or {}))
    target.save("v0", atomic=False)
    return target


def _idle_connection() -> Callable[[int], None]:
    """Before each save: a new connection that sends nothing, as the spare one a browser opens when the page
    (re)loads; it is 0.3 s old when the save comes."""
    held: list[socket.socket] = []

    def before_save(port: int) -> None:
        while held:
            held.pop().close()
        held.append(socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT))
        time.sleep(0.3)

    return before_save


def _break_first(target: Target, settle: float) -> Callable[[int], None]:
    """Before each save: a syntax error in the edited file, until the port answers with tdev's error page,
    then ``settle`` s (the developer reads it); the save is the fix."""
    def before_save(port: int) -> None:
        write_file(target.app_dir / target.edit, "VERSION = 'broken\n", atomic=False)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if http_get(port)[0] == 500:
                    break
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(POLL_INTERVAL)
        else:
            raise RuntimeError("the syntax error was never answered with the error page")
        time.sleep(settle)

    return before_save


def _save_first(target: Target) -> Callable[[int], None]:
    """Before each save: another save (atomic), until it is served, then 0.3 s; the save timed is the
    second of two quick saves (the first comes ``--settle`` after the previous pair)."""
    count = iter(range(1_000_000))

    def before_save(port: int) -> None:
        version = f"first{next(count)}"
        target.save(version, atomic=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if http_get(port) == (200, version):
                    break
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(POLL_INTERVAL)
        else:
            raise RuntimeError("the first save of the pair was never served")
        time.sleep(0.3)

    return before_save


@dataclass
class Case:
    name: str
    what: str  # for the report
    reference: str  # "module-edit" / "heavy-module-edit" (that case's median), or "cold" (this app's cold start)
    goal: float | None  # the target ratio (at most), None: shown only
    build: Callable[[Path, str], Target]  # (a new dir, the heavy module) -> the app
    settle: float | None = None  # instead of --settle
    hook: Callable[[Target, argparse.Namespace], Callable[[int], None] | None] = lambda target, args: None


def _with_libs(app_dir: Path, how: str) -> dict[str, str]:
    """``heavydep`` outside the project: on ``PYTHONPATH``, or in a sibling project added by a ``.pth`` file
    (how an editable install puts a project outside site-packages on ``sys.path``; here a ``sitecustomize`` on
    ``PYTHONPATH`` has ``site.addsitedir`` run it, as Python's start-up does for site-packages)."""
    root = app_dir.parent / f"{app_dir.name}-outside"
    libs = root / ("libs" if how == "pythonpath" else "sibling-project")
    write_heavydep(libs)
    if how == "pythonpath":
        return {"PYTHONPATH": str(libs)}
    site_dir, boot = root / "site", root / "boot"
    site_dir.mkdir()
    boot.mkdir()
    (site_dir / "__editable__.sibling.pth").write_text(f"{libs}\n")
    (boot / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({str(site_dir)!r})\n")
    return {"PYTHONPATH": str(boot)}


def _plugin_app(app_dir: Path, _heavy: str) -> Target:
    """A library (``pluginhost``, on PYTHONPATH, with heavydep) imports the project's ``plugin`` module when it
    is imported, as Celery loads a project's modules through an entry point; the saves edit ``plugin.py``."""
    env = _with_libs(app_dir, "pythonpath")
    libs = Path(env["PYTHONPATH"])
    (libs / "pluginhost").mkdir()
    (libs / "pluginhost" / "__init__.py").write_text("import importlib\nimport heavydep\n"
                                                     "PLUGIN = importlib.import_module('plugin')\n")
    target = _case_app(app_dir, "plugin", "pluginhost", "the app imports `pluginhost` (PYTHONPATH), which imports "
                       "heavydep and then the project's `plugin.py`; saves edit `plugin.py`", env=env,
                       version_module="plugin")
    (app_dir / "app.py").write_text((app_dir / "app.py").read_text().replace(
        "import plugin as version\n", "version = pluginhost.PLUGIN\n"))
    return target


def _heavy_name(heavy: str) -> str:
    return "heavydep (generated)" if heavy == "heavydep" else heavy


CASES = [
    Case("module-edit", "plain app, a save of an imported module (`version.py`): a normal warm restart",
         "cold", None, lambda d, h: _case_app(d, "module-edit", None, "the plain benchmark app")),
    Case("idle-connection", "plain app, a connection that sends nothing open at each save (a browser's spare one)",
         "module-edit", 1.2, lambda d, h: _case_app(d, "idle-connection", None, "the plain benchmark app"),
         hook=lambda target, args: _idle_connection()),
    Case("script-edit", "plain app, each save edits the script itself (`app.py`)", "module-edit", 1.5,
         lambda d, h: _case_app(d, "script-edit", None, "the plain app, VERSION in app.py", version_in_script=True)),
    Case("fix-after-error", "plain app, a syntax error saved first (answered with the error page, then "
         "`--settle`), the save timed is the fix", "module-edit", 1.5,
         lambda d, h: _case_app(d, "fix-after-error", None, "the plain benchmark app"),
         hook=lambda target, args: _break_first(target, args.settle)),
    Case("pythonpath-dependency", "a heavy dependency (heavydep, generated, ~0.3 s of imports) on `PYTHONPATH`",
         "cold", 0.1, lambda d, h: _case_app(d, "pythonpath-dependency", "heavydep", "heavydep on PYTHONPATH",
                                             env=_with_libs(d, "pythonpath"))),
    Case("editable-dependency", "the same dependency in a sibling project installed editable (a `.pth` file)",
         "cold", 0.1, lambda d, h: _case_app(d, "editable-dependency", "heavydep", "heavydep via a .pth",
                                             env=_with_libs(d, "pth"))),
    Case("plugin", "plugin-style: a library (with heavydep) imports the project's `plugin.py` at start-up; saves "
         "edit `plugin.py`", "cold", None, _plugin_app),
    Case("heavy-module-edit", "heavy app (`import HEAVY`), a save of `version.py`", "cold", 0.1,
         lambda d, h: _case_app(d, "heavy-module-edit", h, f"the heavy benchmark app (`import {h}`)",
                                env=_with_libs(d, "pythonpath") if h == "heavydep" else None)),
    Case("back-to-back", "heavy app, each save 300 ms after the previous one was served (all in a row)",
         "heavy-module-edit", 1.5,
         lambda d, h: _case_app(d, "back-to-back", h, f"the heavy benchmark app (`import {h}`)",
                                env=_with_libs(d, "pythonpath") if h == "heavydep" else None), settle=0.3),
    Case("second-save", "heavy app, two quick saves: the second (timed) 300 ms after the first was served; "
         "`--settle` between pairs", "heavy-module-edit", 1.5,
         lambda d, h: _case_app(d, "second-save", h, f"the heavy benchmark app (`import {h}`)",
                                env=_with_libs(d, "pythonpath") if h == "heavydep" else None),
         hook=lambda target, args: _save_first(target)),
]
CASE_NAMES = [c.name for c in CASES]


def measure_cases(args, tmp: Path, log_dir: Path) -> dict:
    """Each case in ``args.cases``: its app's cold start, then tdev's saves; ratios against the references."""
    heavy = args.heavy_import if heavy_unavailable(args.heavy_import) is None else "heavydep"
    runner = tdev_runners("app.py", lambda port: [port], args.tdev_args, args.tdev_timings)[0]
    results: dict[str, dict] = {}
    for case in (c for c in CASES if c.name in args.cases):
        target = case.build(tmp / case.name, heavy)
        case_args = argparse.Namespace(**vars(args))
        case_args.settle = args.settle if case.settle is None else case.settle
        case_args.idle_seconds = 0.5
        case_args.before_save = case.hook(target, case_args)
        progress(f"== case {case.name}: {case.what}")
        cold_runs = measure_cold_start(target, log_dir, args.cold_runs, START_TIMEOUT)
        cold_ms = statistics.median(cold_runs) * 1000
        timeout = args.timeout or max(MIN_TIMEOUT, 1.5 + 3 * cold_ms / 1000)
        measured = measure_runner(runner, target, log_dir, case_args, timeout)
        if measured.get("saves"):
            measured["summary"] = summarize(measured["saves"], cold_ms)
        if measured["status"] != "ok":
            progress(f"{case.name}: {measured['status'].upper()}: {measured.get('reason')}\n{measured.get('log', '')}")
        results[case.name] = {"what": case.what.replace("HEAVY", _heavy_name(heavy)), "reference": case.reference,
                              "goal": case.goal, "settle": case_args.settle, "cold_ms": round(cold_ms, 1),
                              "cold_runs_ms": [round(x * 1000, 1) for x in cold_runs], "tdev": measured}
    for result in results.values():
        summary = result["tdev"].get("summary", {})
        median = summary.get("all", {}).get("median_ms")
        ref = result["cold_ms"] if result["reference"] == "cold" else (
            results.get(result["reference"], {}).get("tdev", {}).get("summary", {}).get("all", {}).get("median_ms"))
        result["reference_ms"] = ref
        result["ratio"] = round(median / ref, 2) if median and ref else None
    return {"heavy": heavy, "cases": results}


def render_cases(report: dict) -> str:
    m, config, cases = report["machine"], report["config"], report["cases"]
    out = [
        f"## tdev reload benchmark, cases — {report['date']}",
        "",
        f"- Machine: {m['cpu_model'] or 'unknown CPU'}, {m['cpu_count']} cores; load average at start "
        f"{m['loadavg_at_start'][0]}; Python {m['python']}, Tornado {m['tornado']}, tdev {m['tdev']}.",
        f"- tdev: `tdev run -v app.py PORT`; {config['saves']} saves per case (in place / atomic alternating), "
        f"settle {config['settle']} s unless the case says otherwise; cold starts: {config['cold_runs']} per case app; "
        f"heavy app: `import {_heavy_name(cases['heavy'])}`.",
        "",
    ]
    rows = []
    for name, c in cases["cases"].items():
        summary = c["tdev"].get("summary", {})
        allk, inplace, atomic = (summary.get(k, {}) for k in ("all", "in-place", "atomic"))
        t = summary.get("tdev", {})
        ref = "its cold start" if c["reference"] == "cold" else f"`{c['reference']}`"
        goal = f"≤ {c['goal']:g}×" if c["goal"] else "–"
        met = "" if not (c["goal"] and c["ratio"]) else (" ✓" if c["ratio"] <= c["goal"] else " ✗")
        rows.append([
            f"`{name}`", c["what"], f"{_ms(allk.get('median_ms'))} ({_ms(allk.get('p90_ms'))})",
            f"{_ms(inplace.get('median_ms'))} / {_ms(atomic.get('median_ms'))}",
            f"{ref}: {_ms(c['reference_ms'])}", f"**{c['ratio']}×**{met}" if c["ratio"] else "–", goal,
            f"{_ms(c['cold_ms'])}", f"{t.get('warm_restarts', '–')}/{t.get('restarts_logged', '–')}",
            str(allk.get("missed", "–")),
        ])
    out.append(markdown_table(
        ["case", "what", "save → new response, median (p90) ms", "in place / atomic, median ms", "reference (ms)",
         "ratio", "goal", "case app's cold start ms", "warm / restarts", "missed"], rows))
    out += ["", "Warm / restarts: tdev's `-v` lines, all restarts of the run (the fix-after-error case also "
            "restarts into each syntax error)."]
    return "\n".join(out)


# -- main ----------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


APP_DEFAULTS = {"script": "app.py", "edit": "greeting.py", "var": "GREETING", "port_env": "PORT"}  # examples/hello


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    names, defaults = RUNNER_NAMES, DEFAULT_RUNNER_NAMES
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " (see the module docstring for what is measured, and how)",
        epilog="examples: python scripts/bench_reload.py --apps plain --runners tdev,tdev-cold;  "
        "python scripts/bench_reload.py --app examples/hello --settle 0.7",
    )
    parser.add_argument("--apps", help=f"comma-separated subset of: {','.join(APP_NAMES)} (default: all)")
    parser.add_argument("--heavy-import", default=HEAVY_IMPORT, metavar="MODULE",
                        help=f"the third-party module the heavy app imports (default {HEAVY_IMPORT}, from the "
                        "bench extra)")
    parser.add_argument("--saves", type=int, default=10, help="saves per runner (default 10)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers here")
    parser.add_argument(
        "--runners",
        help=f"comma-separated subset of: {','.join(names)} (default: all but werkzeug-watchdog); with --app: "
        f"{','.join(APP_RUNNER_NAMES)} (default: all)",
    )
    parser.add_argument("--tdev-args", default="", metavar="ARGS",
                        help="extra options for both tdev runners, after `run` (one string, split like a shell does), "
                        "e.g. --tdev-args=--poll (with `=` when it starts with -)")
    parser.add_argument("--no-tdev-timings", dest="tdev_timings", action="store_false",
                        help="run tdev without -v (no spawn / serving timings)")
    parser.add_argument("--cold-runs", type=int, default=5,
                        help="cold starts for the baseline, and runs of each floor command (default 5)")
    parser.add_argument("--settle", type=float, default=1.0, help="pause after each reload, seconds (default 1.0)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="a save not served within this is missed (default: 1.5 s + 3 x the app's cold start, "
                        "at least 3 s)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window (default 10)")
    parser.add_argument("--cases", metavar="NAMES",
                        help=f"measure tdev on these cases instead of comparing reloaders: comma-separated subset of "
                        f"{','.join(CASE_NAMES)}, or 'all'")
    app = parser.add_argument_group(
        "your own app",
        "measure a copy of an existing app instead of the generated ones; the defaults suit examples/hello",
    )
    app.add_argument("--app", metavar="DIR", type=Path, help="the app's directory, e.g. examples/hello")
    app.add_argument("--script", help=f"run as `python SCRIPT` in the copied DIR (default {APP_DEFAULTS['script']})")
    app.add_argument("--edit", metavar="FILE",
                     help=f"each save rewrites one line of this file, relative to DIR (default {APP_DEFAULTS['edit']})")
    app.add_argument("--var", metavar="NAME",
                     help=f'the line rewritten is `NAME = "<new string>"` (default {APP_DEFAULTS["var"]}); '
                     "GET / must answer with a body containing the value")
    app.add_argument("--port-env", metavar="NAME",
                     help=f"pass the port in this environment variable (default {APP_DEFAULTS['port_env']}); "
                     "'' passes it as the script's last argument")
    args = parser.parse_args(argv)
    try:
        args.tdev_args = shlex.split(args.tdev_args)
    except ValueError as exc:
        parser.error(f"--tdev-args: {exc}")
    if args.cases is not None:
        args.cases = CASE_NAMES if args.cases == "all" else [n.strip() for n in args.cases.split(",") if n.strip()]
        unknown = [n for n in args.cases if n not in CASE_NAMES]
        if unknown or not args.cases:
            parser.error(f"--cases: unknown case(s) {', '.join(unknown) or '(none given)'} (known: {', '.join(CASE_NAMES)})")
        if args.app is not None or args.apps is not None:
            parser.error("--cases: not with --app or --apps")
    if args.app is None:
        given = [f"--{k.replace('_', '-')}" for k in APP_DEFAULTS if getattr(args, k) is not None]
        if given:
            parser.error(f"{', '.join(given)}: only with --app DIR")
        args.apps = [n.strip() for n in (args.apps or ",".join(APP_NAMES)).split(",") if n.strip()]
        unknown = [n for n in args.apps if n not in APP_NAMES]
        if unknown or not args.apps:
            parser.error(f"--apps: unknown app(s) {', '.join(unknown) or '(none given)'} (known: {', '.join(APP_NAMES)})")
    else:
        if args.apps is not None:
            parser.error("--apps: not with --app DIR")
        if not args.app.is_dir():
            parser.error(f"--app {args.app}: not a directory")
        for key, default in APP_DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, default)
        args.port_env = args.port_env or None
        names = defaults = APP_RUNNER_NAMES
    wanted = [n.strip() for n in (args.runners or ",".join(defaults)).split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"unknown runner(s): {', '.join(unknown)} (known: {', '.join(names)})")
    if args.saves < 1 or args.cold_runs < 1:
        parser.error("--saves and --cold-runs must be at least 1")
    args.runners = wanted
    return args


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `started` context managers: children are stopped


def heavy_unavailable(module: str) -> str | None:
    """Why the heavy app cannot run here (its module is not importable), or None; checked in a subprocess."""
    try:
        done = subprocess.run([PY, "-c", f"import {module}"], capture_output=True, text=True, timeout=START_TIMEOUT,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return f"`import {module}` took over {START_TIMEOUT:g} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"`import {module}` failed ({last}); install the bench extra: pip install -e '.[bench]'"
    return None


def measure_app(target: Target, runners: list[Runner], log_dir: Path, args) -> dict:
    result = {"description": target.description, "cold_how": target.cold_how, "app_dir": str(target.app_dir),
              "skipped": {}, "runners": {}}
    progress(f"== app {target.name} in {target.app_dir}: {args.cold_runs} cold starts, then the floor")
    cold_runs = measure_cold_start(target, log_dir, args.cold_runs, START_TIMEOUT)
    result["floor"] = measure_floor(target, log_dir, args.cold_runs, START_TIMEOUT)
    cold_ms = statistics.median(cold_runs) * 1000
    result["baseline"] = {"runs_ms": [round(x * 1000, 1) for x in cold_runs], "median_ms": round(cold_ms, 1)}
    timeout = args.timeout or max(MIN_TIMEOUT, 1.5 + 3 * cold_ms / 1000)
    result["timeout_s"] = round(timeout, 1)
    for runner in (r for r in runners if r.name in args.runners):
        reason = unavailable_reason(runner)
        if reason:
            result["skipped"][runner.name] = reason
            progress(f"{target.name} / {runner.name}: skipped, {reason}")
            continue
        progress(f"{target.name} / {runner.name}: {runner.how}")
        measured = measure_runner(runner, target, log_dir, args, timeout)
        if measured.get("saves"):
            measured["summary"] = summarize(measured["saves"], cold_ms)
        if measured["status"] != "ok":
            progress(f"{target.name} / {runner.name}: {measured['status'].upper()}: {measured.get('reason')}\n"
                     f"{measured.get('log', '')}")
        result["runners"][runner.name] = measured
        progress(f"  ({measured['seconds']['total']:.1f} s, of which stopping {measured['seconds']['stop']:.1f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    if not sys.platform.startswith("linux"):
        print("bench_reload.py reads /proc: Linux only", file=sys.stderr)
        return 2
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    began = time.monotonic()
    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(args.heavy_import),
        "config": {k: getattr(args, k) for k in ("saves", "settle", "timeout", "idle_seconds", "cold_runs",
                                                 "tdev_args", "tdev_timings", "runners")},
        "apps": {},
    }
    with tempfile.TemporaryDirectory(prefix="tdev-bench-") as tmp:
        log_dir = Path(tmp) / "logs"  # outside the app dirs: watchfiles restarts on any change in its dir
        log_dir.mkdir()
        if args.cases is not None:
            report["config"].update(cases=args.cases, heavy_import=args.heavy_import)
            report["cases"] = measure_cases(args, Path(tmp), log_dir)
            report["total_seconds"] = round(time.monotonic() - began, 1)
            print(render_cases(report))
            print(f"\nTotal run time: {report['total_seconds']:.0f} s.")
            if args.json:
                Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
                progress(f"raw numbers written to {args.json}")
            return 0 if all(c["tdev"]["status"] == "ok" for c in report["cases"]["cases"].values()) else 1
        if args.app is None:
            report["config"].update(apps=args.apps, heavy_import=args.heavy_import)
            runners = generated_runners(args.tdev_args, args.tdev_timings)
            for name in args.apps:
                heavy = args.heavy_import if name == "heavy" else None
                why = heavy and heavy_unavailable(heavy)
                if why:
                    report["apps"][name] = {"status": "skipped", "reason": why}
                    progress(f"== app {name}: skipped, {why}")
                    continue
                target = write_app(name, Path(tmp) / name, heavy)
                report["apps"][name] = measure_app(target, runners, log_dir, args)
        else:
            app_dir = Path(tmp) / args.app.resolve().name
            try:
                target = copy_app(args.app, app_dir, args.script, args.edit, args.var, args.port_env)
            except ValueError as exc:
                print(f"bench_reload.py: error: {exc}", file=sys.stderr)
                return 2
            target.floor_imports = list(FLOOR_IMPORTS)
            runners = app_runners(target.script, target.port_args, args.tdev_args, args.tdev_timings)
            report["config"].update(app=str(args.app), script=args.script, edit=args.edit, var=args.var,
                                    port_env=args.port_env)
            report["apps"][target.name] = measure_app(target, runners, log_dir, args)
    report["total_seconds"] = round(time.monotonic() - began, 1)
    skipped_apps = {n: a for n, a in report["apps"].items() if a.get("status") == "skipped"}
    measured = {n: a for n, a in report["apps"].items() if n not in skipped_apps}
    print(render_report({**report, "apps": measured}))
    for name, app in skipped_apps.items():
        print(f"\nApp `{name}`: skipped — {app['reason']}.")
    print(f"\nTotal run time: {report['total_seconds']:.0f} s.")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        progress(f"raw numbers written to {args.json}")
    statuses = [r["status"] for a in measured.values() for r in a["runners"].values()]
    return 0 if all(s == "ok" for s in statuses) and not skipped_apps else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: all started processes were stopped", file=sys.stderr)
        sys.exit(130)
