#!/usr/bin/env python3
"""Benchmark: how fast does a save show up in a running Tornado app, per reloader?

Usage::

    python scripts/bench_reload.py [--saves N] [--json out.json] [--runners tdev,tornado-debug,...]
    python scripts/bench_reload.py --app examples/hello [--edit greeting.py] [--var GREETING] [...]

Standard library plus Tornado only; every runner is started with the interpreter
that runs this script (``sys.executable``).  Linux only (reads ``/proc``).
Two modes: a generated app (the default), or a copy of an existing app (``--app``).

What is measured, and how
-------------------------
A small Tornado app is generated in a temp dir: ``app.py PORT`` listens on
127.0.0.1:PORT and answers ``GET /`` with ``version.VERSION``, where
``version.py`` is a separate imported module.  ``app_debug.py`` is the same app
with ``Application(debug=True)`` (Tornado's own in-process autoreload).

* **Cold start (baseline, same run)**: ``python app.py PORT`` from ``Popen`` to
  the first successful ``GET /``; the median of ``--cold-runs`` starts.  Every
  reload time is also reported as a ratio to this number: a reloader cannot
  beat a cold start by much, since it has to start a fresh interpreter too.
* **Save -> new response**, per runner: the runner is started and must serve
  ``v0``; then ``--saves`` saves of ``version.py``, alternating an in-place
  write (open/truncate/write) and an atomic save (temp file + ``os.replace``,
  as vim / JetBrains / many editors do), each with a fresh version string.  The
  clock starts right after the save returns; then ``GET /`` is polled every
  ~2 ms (a fresh connection each time) until the new string is served.
  Refused / reset / timed-out requests and non-200 answers in that window are
  counted as *failed requests*.  After the new version is served the script
  waits ``--settle`` seconds (0.3) so saves do not merge.  A save not served
  within ``--timeout`` seconds (10) counts as *missed*, and the next save goes on.
* **Idle cost**, per runner, after its last reload: CPU time
  (``utime + stime`` from ``/proc/PID/stat``) over ``--idle-seconds``, for the
  runner's top process alone and for its whole process tree (top + live
  descendants), as % of one core; and ``VmRSS`` from ``/proc/PID/status`` of
  the top process (the "supervisor") and of the whole tree.  For the Tornado
  runners there is a single process, so "supervisor" = the app itself.

Runners (generated app)
-----------------------
* ``tdev``: ``python -m devserver run app.py PORT``.
* ``tornado-autoreload``: ``python -m tornado.autoreload app_debug.py PORT``.
  The wrapper by itself only re-runs a script that *exited*; a running server
  is only reloaded when the app turns autoreload on, hence the debug=True app.
* ``tornado-debug``: ``python app_debug.py PORT`` (``Application(debug=True)``).
  Tornado checks mtimes every 500 ms, so expect ~250 ms + a restart on average.
* Optional, only when importable here (never installed by this script):
  ``hupper`` (``hupper -m app PORT``), ``watchfiles``
  (``watchfiles 'python app.py PORT' .``) and ``werkzeug``
  (``werkzeug._reloader.run_with_reloader``, the app in a thread).

Your own app (``--app DIR``)
----------------------------
``--app examples/hello`` measures the bundled example the same way.  ``DIR`` is
copied to a temp dir (without ``__pycache__``); before the baseline and before
each runner, and then once per save (in place / atomic, alternating, as above),
the one top-level line ``VAR = ...`` of ``--edit FILE`` (default ``greeting.py``;
``--var`` default ``GREETING``) is rewritten to ``VAR = "<unique string>"`` and
the rest of the file is kept.  A save counts as served when the body of
``GET /`` *contains* the new string.  The app is started as ``python SCRIPT``
(``--script``, default ``app.py``) in its copied dir and must listen on
127.0.0.1:``$PORT`` (``--port-env``, default ``PORT``; ``--port-env ''`` passes
the port as the script's last argument instead).  Runners in this mode:

* ``tdev``: ``python -m devserver run app.py``.
* ``tornado-autoreload``: ``python -m tornado.autoreload app.py``.
* ``tornado-debug``: ``python app.py``: Tornado's in-process autoreload.

Both Tornado runners only reload an app that turns autoreload on itself
(``Application(debug=True)``, as examples/hello does): for an app without it,
expect every save to be *missed*.  The baseline is the cold start of
``python app.py``.

Runners and the baseline run with ``PYTHONDONTWRITEBYTECODE=1``: two version
strings of the same length saved within one second would otherwise let a stale
``__pycache__/version.*.pyc`` (validated by mtime seconds + size) be served.

Every process is started in a new session and stopped by process group
(SIGTERM, then SIGKILL for the runner's group and the groups of all its
descendants), also on Ctrl-C, SIGTERM and errors.  Only free ports on
127.0.0.1 are used; every wait has a deadline.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import importlib
import importlib.util
import json
import os
import platform
import re
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
STOP_GRACE = 3.0  # SIGTERM -> SIGKILL
CLK_TCK = os.sysconf("SC_CLK_TCK")

APP_TEMPLATE = '''\
"""Benchmark app: GET / returns version.VERSION."""
import asyncio
import sys

import tornado.web

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
"""werkzeug's reloader around the benchmark app (the app runs in a thread)."""
import sys

from werkzeug._reloader import run_with_reloader

import app

run_with_reloader(lambda: app.serve(int(sys.argv[1])))
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

    app_dir: Path
    script: str  # ``python SCRIPT`` is the cold-start baseline
    edit: str  # the file each save rewrites, relative to app_dir
    render: Callable[[str], str]  # value -> the whole new text of the edit file
    exact: bool  # a save is served when the body == value (else: when the body contains it)
    port_env: str | None  # the port goes in this environment variable; None: as the last argument
    description: str  # for the report

    def save(self, value: str, atomic: bool) -> None:
        write_file(self.app_dir / self.edit, self.render(value), atomic)

    def port_args(self, port: str) -> list[str]:
        return [] if self.port_env else [port]

    def port_environ(self, port: str) -> dict[str, str]:
        return {self.port_env: port} if self.port_env else {}

    @property
    def cold_how(self) -> str:
        return f"python {self.script}" + ("" if self.port_env else " PORT")


def write_app(app_dir: Path) -> Target:
    """The default mode: generate the benchmark app in ``app_dir``, serving ``v0``."""
    (app_dir / "app.py").write_text(APP_TEMPLATE.format(debug=False))
    (app_dir / "app_debug.py").write_text(APP_TEMPLATE.format(debug=True))
    (app_dir / "werkzeug_app.py").write_text(WERKZEUG_TEMPLATE)
    target = Target(
        app_dir, "app.py", "version.py", lambda version: f"VERSION = {version!r}\n", exact=True, port_env=None,
        description="generated app: `app.py PORT` answers `GET /` with `version.VERSION`; each save rewrites "
        "`version.py`, served = body equal to the new version",
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
        app_dir, script, edit, render, exact=False, port_env=port_env,
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

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


def poll_until(
    port: int, expected: str, started: float, timeout: float, proc: subprocess.Popen | None = None, exact: bool = True
) -> PollResult:
    """GET / every POLL_INTERVAL until the body is ``expected`` (or, unless ``exact``, contains it).

    Time is measured from ``started``.  Gives up at the deadline, or as soon as ``proc`` (if given) has exited."""
    result = PollResult(seconds=None)
    deadline = started + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
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
def started(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` in a new session, output to ``log_path``; stopped by process group on exit."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
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


# -- runners ----------------------------------------------------------------------------------


@dataclass
class Runner:
    name: str
    how: str  # the command, as a user would type it (for the table)
    command: Callable[[str], list[str]]  # port -> argv
    needs: str | None = None  # module that must be importable
    note: str = ""


def _tdev_env() -> dict[str, str]:
    """tdev is found as ``python -m devserver``; from this checkout when not installed."""
    if importlib.util.find_spec("devserver") is not None:
        return {}
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(REPO_ROOT) + (os.pathsep + path if path else "")}


RUNNERS = [
    Runner("tdev", "tdev run app.py PORT", lambda port: [PY, "-m", "devserver", "run", "app.py", port],
           note="top process = tdev supervisor; the app is its child (own session)"),
    Runner("tornado-autoreload", "python -m tornado.autoreload app_debug.py PORT",
           lambda port: [PY, "-m", "tornado.autoreload", "app_debug.py", port],
           note="needs the debug=True app: the wrapper alone does not reload a running server; "
           "single process (re-execs itself), so top process = the app"),
    Runner("tornado-debug", "python app_debug.py PORT  (debug=True)", lambda port: [PY, "app_debug.py", port],
           note="Tornado's in-process autoreload, mtime poll every 500 ms; single process = the app"),
    Runner("hupper", "hupper -m app PORT", lambda port: [*console_script("hupper", HUPPER_MAIN), "-m", "app", port],
           needs="hupper", note="top process = hupper monitor; the app is its worker child"),
    Runner("watchfiles", "watchfiles 'python app.py PORT' .",
           lambda port: [*console_script("watchfiles", WATCHFILES_MAIN),
                         "--target-type", "command", f"{shlex.quote(PY)} app.py {port}", "."],
           needs="watchfiles", note="top process = watchfiles; the app is a child"),
    Runner("werkzeug", "werkzeug run_with_reloader(app.serve)", lambda port: [PY, "werkzeug_app.py", port],
           needs="werkzeug._reloader", note="top process = werkzeug's restarter; the app runs in a thread of its child"),
]


def app_runners(script: str, port_args: Callable[[str], list[str]]) -> list[Runner]:
    """The runners of ``--app`` mode: the app's own script, unchanged (so its own ``debug=True``)."""
    port_hint = " PORT" if port_args("PORT") else ""
    return [
        Runner("tdev", f"tdev run {script}{port_hint}",
               lambda port: [PY, "-m", "devserver", "run", script, *port_args(port)],
               note="top process = tdev supervisor; the app is its child (own session)"),
        Runner("tornado-autoreload", f"python -m tornado.autoreload {script}{port_hint}",
               lambda port: [PY, "-m", "tornado.autoreload", script, *port_args(port)],
               note="reloads only if the app turns autoreload on itself, as debug=True does (the wrapper alone does "
               "not reload a running server); single process (re-execs itself), so top process = the app"),
        Runner("tornado-debug", f"python {script}{port_hint}  (app's debug=True)",
               lambda port: [PY, script, *port_args(port)],
               note="Tornado's in-process autoreload (only if the app sets debug=True), mtime poll every 500 ms; "
               "single process = the app"),
    ]


APP_RUNNER_NAMES = [r.name for r in app_runners("app.py", lambda port: [])]


def unavailable_reason(runner: Runner) -> str | None:
    if runner.needs is None:
        return None
    try:
        importlib.import_module(runner.needs)
    except Exception as exc:  # ImportError, or a broken install
        return f"not installed ({type(exc).__name__}: {exc})"
    return None


def runner_env(runner: Runner | None, extra: dict[str, str]) -> dict[str, str]:
    """This environment for a runner (``None``: the cold-start baseline), plus ``extra`` (the port)."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if runner is not None and runner.name == "tdev":
        env.update(_tdev_env())
    env.update(extra)
    return env


# -- measurements -------------------------------------------------------------------------------


def _never_served(what: str, result: PollResult) -> str:
    seen = "" if result.last_body is None else f", last body {result.last_body[:200]!r}"
    return f"never served {what} ({result.stale} other answers{seen})"


def measure_cold_start(target: Target, log_dir: Path, runs: int, timeout: float) -> list[float]:
    """Seconds from Popen of ``python app.py [PORT]`` to the first GET that serves v0, ``runs`` times."""
    log_path = log_dir / "cold.log"
    times = []
    for i in range(runs):
        port = str(free_port())
        env = runner_env(None, target.port_environ(port))
        t0 = time.monotonic()
        with started([PY, target.script, *target.port_args(port)], target.app_dir, env, log_path) as proc:
            result = poll_until(int(port), "v0", t0, timeout, proc, exact=target.exact)
            if result.seconds is None:
                why = _never_served("v0", result)
                raise RuntimeError(f"cold start {why} (exit code {proc.poll()}):\n{log_tail(log_path)}")
        times.append(result.seconds)
        progress(f"  cold start {i + 1}/{runs}: {result.seconds * 1000:.0f} ms")
    return times


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


def run_saves(target: Target, port: int, proc: subprocess.Popen, last_served: float, args) -> list[dict]:
    """The saves, each timed until its version is served; ``last_served``: when v0 was first served."""
    saves = []
    for i in range(1, args.saves + 1):
        atomic = i % 2 == 0  # 1: in place, 2: atomic, ...
        version = f"v{i}-{uuid.uuid4().hex[:8]}"
        target.save(version, atomic)
        t0 = time.monotonic()
        result = poll_until(port, version, t0, args.timeout, proc, exact=target.exact)
        record = {
            "save": i,
            "kind": "atomic" if atomic else "in-place",
            "version": version,
            "ms": None if result.seconds is None else round(result.seconds * 1000, 2),
            "failed_requests": result.failed_total,
            "failed_by_kind": result.failed,
            "stale_responses": result.stale,
            # how long after the previous version was first served this save came
            "since_previous_served_ms": round((t0 - last_served) * 1000, 1),
        }
        saves.append(record)
        if result.seconds is not None:
            last_served = t0 + result.seconds
        shown = "MISSED" if record["ms"] is None else f"{record['ms']:.0f} ms"
        progress(f"  save {i} ({record['kind']}): {shown}, {result.failed_total} failed requests")
        if proc.poll() is not None:
            raise RuntimeError(f"runner exited with code {proc.returncode}")
        time.sleep(args.settle)
    return saves


def measure_runner(runner: Runner, target: Target, log_dir: Path, args) -> dict:
    """Start the runner, wait for v0, do the saves, measure idle cost; always stops it."""
    port = free_port()
    log_path = log_dir / f"{runner.name}.log"
    target.save("v0", atomic=False)
    time.sleep(0.05)
    result: dict = {"how": runner.how, "note": runner.note, "status": "ok"}
    env = runner_env(runner, target.port_environ(str(port)))
    with started(runner.command(str(port)), target.app_dir, env, log_path) as proc:
        result["command"] = proc.args
        if target.port_env:
            result["env"] = target.port_environ(str(port))
        first = poll_until(port, "v0", time.monotonic(), START_TIMEOUT, proc, exact=target.exact)
        if first.seconds is None:
            why = f"exited with code {proc.returncode}" if proc.poll() is not None else f"not within {START_TIMEOUT:g} s"
            result.update(status="failed", reason=f"{_never_served('v0', first)}, {why}", log=log_tail(log_path))
            return result
        result["first_serve_ms"] = round(first.seconds * 1000, 1)
        served_at = time.monotonic()
        time.sleep(WARMUP)
        try:
            result["saves"] = run_saves(target, port, proc, served_at, args)
        except RuntimeError as exc:
            result.update(status="failed", reason=str(exc), log=log_tail(log_path))
            return result
        time.sleep(1.0)
        result["idle"] = measure_idle(proc.pid, args.idle_seconds)
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
    return summary


def machine_info() -> dict:
    try:
        import devserver

        tdev_version = devserver.__version__
    except ImportError:
        tdev_version = None
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "python_executable": PY,
        "tornado": tornado.version,
        "tdev": tdev_version,
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
    return (
        f" **{len(missed)} missed** saves ({'/'.join(kinds)}; new version not served within {timeout:g} s), "
        f"made {gaps[0]:.0f}–{gaps[-1]:.0f} ms after the previous version was first served."
    )


TORNADO_MISS_NOTE = (
    "- Why Tornado misses saves: its autoreload records each file's mtime at its *first* check, one 500 ms "
    "period after the (re-exec'd) process starts it; a save made before that check becomes the baseline and "
    "is never noticed (until a later save). With the default `--settle 0.3`, a save right after a Tornado reload "
    "lands in that window. Saves alternate, so the one after a successful in-place reload is an atomic one: "
    "the misses are about timing, not about the kind of save (with `--settle 0.7` both kinds reload)."
)


def render_report(report: dict) -> str:
    m = report["machine"]
    cold = report["baseline"]
    out = [
        f"## tdev reload benchmark — {report['date']}",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, Python {m['python']}, Tornado {m['tornado']}, "
        f"tdev {m['tdev']}; load average at start {m['loadavg_at_start'][0]}.",
        f"App: {report['app']['description']}.",
        f"Saves per runner: {report['config']['saves']} (alternating in-place / atomic), settle "
        f"{report['config']['settle']} s, GET every {POLL_INTERVAL * 1000:g} ms.",
        f"Baseline, cold start `{report['app']['cold_how']}` → first response: median **{cold['median_ms']:.0f} ms** "
        f"(runs: {', '.join(f'{x:.0f}' for x in cold['runs_ms'])}).",
        "",
    ]
    main_rows, kind_rows, notes = [], [], []
    for name, r in report["runners"].items():
        if r["status"] != "ok":
            notes.append(f"- **{name}**: {r['status']} — {r.get('reason', '')}")
            continue
        s, idle = r["summary"], r["idle"]
        a = s["all"]
        main_rows.append([
            f"**{name}**", f"`{r['how']}`", f"{a['saves'] - a['missed']}/{a['saves']}",
            _ms(a["median_ms"]), _ms(a["p90_ms"]),
            "–" if "median_ratio_vs_cold" not in s else f"{s['median_ratio_vs_cold']:.2f}×",
            "–" if "failed_requests_per_reload" not in s else f"{s['failed_requests_per_reload']:.1f}",
            f"{idle['cpu_top_pct']:.1f} / {idle['cpu_tree_pct']:.1f}",
            f"{idle['rss_top_kib'] / 1024:.1f} / {idle['rss_tree_kib'] / 1024:.1f}",
            str(idle["processes"]),
        ])
        kind_rows.append([f"**{name}**"] + [
            f"{_ms(s[k]['median_ms'])} / {_ms(s[k]['p90_ms'])}" + (f" ({s[k]['missed']} missed)" if s[k]["missed"] else "")
            for k in ("in-place", "atomic")
        ])
        notes.append(f"- **{name}**: {r['note']}." + _missed_note(r["saves"], report["config"]["timeout"]))
    out.append(markdown_table(
        ["runner", "command", "reloads ok", "median ms", "p90 ms", "median ÷ cold start",
         "failed req / reload", "idle CPU % (top / tree)", "RSS MiB (top / tree)", "procs"],
        main_rows,
    ))
    out += ["", "Save → new response by kind of save, median / p90 ms:", ""]
    out.append(markdown_table(["runner", "in-place write", "atomic (temp + os.replace)"], kind_rows))
    out += ["", "Notes:", *notes, *(f"- **{n}**: skipped — {why}" for n, why in report["skipped"].items())]
    if any(r.get("saves") and _missed_note(r["saves"], 0) for n, r in report["runners"].items() if n.startswith("tornado")):
        out.append(TORNADO_MISS_NOTE)
    out += [
        "- *failed req / reload*: GETs refused, reset, timed out or non-200 between the save and the new "
        "version, averaged over successful reloads (polling every ~2 ms, so this is a measure of the "
        "downtime window, not of real clients).",
        f"- *idle CPU*: `utime+stime` from `/proc/PID/stat` over {report['config']['idle_seconds']:g} s after the "
        "last reload, % of one core; *top* = the process we started, *tree* = it plus its live descendants. "
        "RSS = `VmRSS` from `/proc/PID/status`.",
    ]
    return "\n".join(out)


# -- main ----------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


APP_DEFAULTS = {"script": "app.py", "edit": "greeting.py", "var": "GREETING", "port_env": "PORT"}  # examples/hello


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    names = [r.name for r in RUNNERS]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " (see the module docstring for what is measured, and how)",
        epilog="examples: python scripts/bench_reload.py --saves 4 --runners tdev;  "
        "python scripts/bench_reload.py --app examples/hello --settle 0.7",
    )
    parser.add_argument("--saves", type=int, default=10, help="saves per runner (default 10)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers here")
    parser.add_argument(
        "--runners",
        help=f"comma-separated subset of: {','.join(names)} (default: all); with --app: {','.join(APP_RUNNER_NAMES)}",
    )
    parser.add_argument("--cold-runs", type=int, default=5, help="cold starts for the baseline (default 5)")
    parser.add_argument("--settle", type=float, default=0.3, help="pause after each reload, seconds (default 0.3)")
    parser.add_argument("--timeout", type=float, default=10.0, help="a save not served within this is missed (default 10)")
    parser.add_argument("--idle-seconds", type=float, default=4.0, help="idle CPU window (default 4)")
    app = parser.add_argument_group(
        "your own app",
        "measure a copy of an existing app instead of the generated one; the defaults suit examples/hello",
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
    if args.app is None:
        given = [f"--{k.replace('_', '-')}" for k in APP_DEFAULTS if getattr(args, k) is not None]
        if given:
            parser.error(f"{', '.join(given)}: only with --app DIR")
    else:
        if not args.app.is_dir():
            parser.error(f"--app {args.app}: not a directory")
        for key, default in APP_DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, default)
        args.port_env = args.port_env or None
        names = APP_RUNNER_NAMES
    wanted = [n.strip() for n in (args.runners or ",".join(names)).split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"unknown runner(s): {', '.join(unknown)} (known: {', '.join(names)})")
    if args.saves < 1 or args.cold_runs < 1:
        parser.error("--saves and --cold-runs must be at least 1")
    args.runners = wanted
    return args


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `started` context managers: children are stopped


def main(argv: list[str] | None = None) -> int:
    if not sys.platform.startswith("linux"):
        print("bench_reload.py reads /proc: Linux only", file=sys.stderr)
        return 2
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {k: getattr(args, k) for k in ("saves", "settle", "timeout", "idle_seconds", "cold_runs")},
        "skipped": {},
        "runners": {},
    }
    with tempfile.TemporaryDirectory(prefix="tdev-bench-") as tmp:
        if args.app is None:
            log_dir = app_dir = Path(tmp)
            target = write_app(app_dir)
            runners = RUNNERS
        else:
            log_dir, app_dir = Path(tmp), Path(tmp) / args.app.resolve().name
            try:
                target = copy_app(args.app, app_dir, args.script, args.edit, args.var, args.port_env)
            except ValueError as exc:
                print(f"bench_reload.py: error: {exc}", file=sys.stderr)
                return 2
            runners = app_runners(target.script, target.port_args)
            report["config"].update(app=str(args.app), script=args.script, edit=args.edit, var=args.var,
                                    port_env=args.port_env)
        report["app"] = {"description": target.description, "cold_how": target.cold_how}
        progress(f"app in {app_dir}; baseline: {args.cold_runs} cold starts")
        cold_runs = measure_cold_start(target, log_dir, args.cold_runs, START_TIMEOUT)
        cold_ms = statistics.median(cold_runs) * 1000
        report["baseline"] = {"runs_ms": [round(x * 1000, 1) for x in cold_runs], "median_ms": round(cold_ms, 1)}
        for runner in (r for r in runners if r.name in args.runners):
            reason = unavailable_reason(runner)
            if reason:
                report["skipped"][runner.name] = reason
                progress(f"{runner.name}: skipped, {reason}")
                continue
            progress(f"{runner.name}: {runner.how}")
            result = measure_runner(runner, target, log_dir, args)
            if result.get("saves"):
                result["summary"] = summarize(result["saves"], cold_ms)
            if result["status"] != "ok":
                progress(f"{runner.name}: FAILED: {result.get('reason')}\n{result.get('log', '')}")
            report["runners"][runner.name] = result
    print(render_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        progress(f"raw numbers written to {args.json}")
    return 0 if all(r["status"] == "ok" for r in report["runners"].values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: all started processes were stopped", file=sys.stderr)
        sys.exit(130)
