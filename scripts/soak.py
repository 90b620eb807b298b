#!/usr/bin/env python3
"""Soak: many consecutive reloads of a Tornado app under tdev, with connections held open.

Usage::

    python scripts/soak.py [--reloads N] [--longpoll-timeout S] [--json out.json]

A small Tornado app is generated in a temp dir and run as ``tdev run app.py PORT``
(``python -m devserver``, with the interpreter that runs this script).  The app
serves ``version.VERSION`` at ``/``, a long-poll at ``/longpoll`` (the handler
awaits forever, until the client goes away) and a WebSocket at ``/ws`` (sends the
version when it opens, echoes messages).  While it runs:

* a long-poll client thread keeps one ``GET /longpoll`` open at all times: it
  gives up after ``--longpoll-timeout`` seconds (0.2) and issues the next one at
  once.  (A restart lets in-flight requests finish for up to 3 s: a long-poll
  that never ends would cost every reload 3 s, so the client's timeout bounds it);
* a WebSocket client thread stays connected to ``/ws`` and reconnects as soon as
  the connection closes (each restart closes it);
* the main thread makes ``--reloads`` saves of ``version.py``, one at a time: each
  save writes a new version string (temp file + rename, as most editors save) and
  waits until ``GET /`` serves it (polled every 5 ms, fresh connection each time)
  *and* the WebSocket client has been greeted with it by the new app.  The time
  from the save to the new ``GET /`` answer is the reload time.  A refused or
  reset ``GET`` is a failed request.

The supervisor (the ``tdev`` process) is measured after reload 10 and after the
last one: open descriptors (``/proc/PID/fd``), threads and ``VmRSS``
(``/proc/PID/status``); at the end, zombie processes whose parent is tdev, and
the restarts and tracebacks in tdev's output.  The exit status is 1 when fds or
threads moved by more than 2, RSS grew by more than 10 MiB, a zombie, a failed
request or a traceback was seen, or the restarts do not match the saves.
Everything is stopped by process group (tdev's and the app's: the app runs in a
session of its own) and the temp dir is removed, also after Ctrl-C or SIGTERM.

Standard library plus Tornado only.  Linux only (reads ``/proc``).  The pieces
(app, clients, measurements) are imported by ``tests/e2e/test_soak.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

APP = '''
import asyncio
import sys

import tornado.web
import tornado.websocket

import version


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write(version.VERSION)


class LongPoll(tornado.web.RequestHandler):
    """Never answers by itself: it waits until the client goes away."""

    async def get(self):
        self.gone = asyncio.Event()
        await self.gone.wait()

    def on_connection_close(self):
        gone = getattr(self, "gone", None)
        if gone is not None:
            gone.set()


class Socket(tornado.websocket.WebSocketHandler):
    def open(self):
        self.write_message("version " + version.VERSION)

    def on_message(self, message):
        self.write_message("echo " + message)


async def main():
    app = tornado.web.Application([(r"/", Main), (r"/longpoll", LongPoll), (r"/ws", Socket)])
    app.listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
'''

LONGPOLL_TIMEOUT = 0.2  # seconds a long-poll client waits before it gives up and asks again
RELOAD_TIMEOUT = 15.0  # a save not served within this fails the soak


def write_app(directory: Path, version: str) -> None:
    (directory / "app.py").write_text(textwrap.dedent(APP).lstrip(), encoding="utf-8")
    write_version(directory, version)


def write_version(directory: Path, version: str) -> None:
    """Save version.py the way most editors do: write a temp file, rename it over the original.

    (An in-place save is a truncate and a write: a writer descheduled between the two for longer
    than the debounce window would make two restarts of one save, and the soak counts restarts.)"""
    tmp = directory / "version.py.tmp"
    tmp.write_text(f"VERSION = {version!r}\n", encoding="utf-8")
    os.replace(tmp, directory / "version.py")


def tdev_env() -> dict:
    """The environment for tdev: this checkout importable, bytecode writing on (as users run), no colour."""
    env = dict(os.environ)
    # Versions of equal length are saved within one second: tdev must serve each one anyway.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    env.pop("TDEV_POLL", None)
    if importlib.util.find_spec("devserver") is None:
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    return env


# -- HTTP ---------------------------------------------------------------------------------------


def http_get(port: int, path: str = "/", timeout: float = 2.0) -> "tuple[int, str]":
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class FailedRequests:
    """GETs of ``/`` that were refused or reset (timeouts are counted apart)."""

    def __init__(self) -> None:
        self.errors: "list[str]" = []
        self.timeouts = 0


def wait_served(port: int, body: str, timeout: float, failed: "FailedRequests | None" = None) -> bool:
    """Poll ``GET /`` every ~5 ms until it answers 200 ``body``; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, text = http_get(port, "/", timeout=min(2.0, max(0.05, deadline - time.monotonic())))
            if status == 200 and text == body:
                return True
        except socket.timeout:
            if failed is not None:
                failed.timeouts += 1
        except (OSError, http.client.HTTPException) as exc:
            if failed is not None:
                failed.errors.append(type(exc).__name__)
        time.sleep(0.005)
    return False


# -- clients that hold connections open ---------------------------------------------------------


class LongPollClient(threading.Thread):
    """Keeps one ``GET /longpoll`` open at all times; re-issues it whenever it ends."""

    def __init__(self, port: int, timeout: float = LONGPOLL_TIMEOUT) -> None:
        super().__init__(name="soak-longpoll", daemon=True)
        self.port = port
        self.timeout = timeout
        self.issued = 0
        self.timeouts = 0
        self.answered = 0
        self.errors = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.issued += 1
            try:
                http_get(self.port, "/longpoll", timeout=self.timeout)
                self.answered += 1  # only when the app drops it (never expected)
            except socket.timeout:
                self.timeouts += 1
            except (OSError, http.client.HTTPException):
                self.errors += 1
                self._halt.wait(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


class WebSocketClient(threading.Thread):
    """Stays connected to ``/ws``; reconnects after every close. ``versions`` lists the greetings."""

    def __init__(self, port: int) -> None:
        super().__init__(name="soak-websocket", daemon=True)
        self.url = f"ws://127.0.0.1:{port}/ws"
        self.connects = 0
        self.failures = 0
        self.echoes = 0
        self.versions: "list[str]" = []
        self._cond = threading.Condition()
        self._loop: "asyncio.AbstractEventLoop | None" = None
        self._conn = None
        self._stopping = False

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        from tornado.websocket import websocket_connect

        while not self._stopping:
            try:
                conn = await websocket_connect(self.url, connect_timeout=5)
            except Exception:
                self.failures += 1
                await asyncio.sleep(0.01)
                continue
            self._conn = conn
            self.connects += 1
            try:
                conn.write_message("hello")
            except Exception:  # closed already (a restart right now): read_message says so
                pass
            while True:
                message = await conn.read_message()
                if message is None:
                    break
                if message.startswith("version "):
                    with self._cond:
                        self.versions.append(message[len("version "):])
                        self._cond.notify_all()
                elif message.startswith("echo "):
                    self.echoes += 1
            self._conn = None

    @property
    def latest(self) -> "str | None":
        with self._cond:
            return self.versions[-1] if self.versions else None

    def wait_version(self, version: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self.versions and self.versions[-1] == version):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self) -> None:
        self._stopping = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            def close() -> None:
                if self._conn is not None:
                    self._conn.close()

            try:
                loop.call_soon_threadsafe(close)
            except RuntimeError:  # the loop closed meanwhile
                pass
        self.join(timeout=5)


# -- /proc ----------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> "list[bytes] | None":
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def snapshot(pid: int) -> dict:
    """Open descriptors, threads and resident memory (KiB) of one process."""
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return {
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
        "rss_kib": int(status["VmRSS"].split()[0]),
    }


def zombies(parent: int) -> "list[int]":
    """Processes in state Z whose parent is ``parent``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[0] == b"Z" and int(fields[1]) == parent:
                found.append(int(entry))
    return found


def descendants(pid: int) -> "list[int]":
    children: "dict[int, list[int]]" = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for kid in children.get(stack.pop(), []):
            found.append(kid)
            stack.append(kid)
    return found


def p90(values: "list[float]") -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


# -- the soak -------------------------------------------------------------------------------------


class Soak:
    """Reloads one by one and measures; the caller starts and stops tdev."""

    def __init__(self, directory: Path, port: int, tdev_pid: int, ws: WebSocketClient) -> None:
        self.directory = directory
        self.port = port
        self.tdev_pid = tdev_pid
        self.ws = ws
        self.failed = FailedRequests()
        self.times: "list[float]" = []
        self.snapshots: "dict[int, dict]" = {}

    @staticmethod
    def version(n: int) -> str:
        return f"r{n:06d}"  # one length: a reload never changes the size of version.py

    def reload(self, n: int) -> float:
        """Save version ``n``; wait until GET / serves it and the WebSocket was greeted with it."""
        version = self.version(n)
        started = time.monotonic()
        write_version(self.directory, version)
        if not wait_served(self.port, version, RELOAD_TIMEOUT, self.failed):
            raise SoakFailure(f"reload {n}: {version!r} not served within {RELOAD_TIMEOUT:g} s")
        elapsed = time.monotonic() - started
        if not self.ws.wait_version(version, RELOAD_TIMEOUT):
            raise SoakFailure(f"reload {n}: the WebSocket client was not greeted by {version!r} "
                              f"(latest: {self.ws.latest!r})")
        self.times.append(elapsed)
        return elapsed

    def measure(self, n: int, samples: int = 10, interval: float = 0.05) -> dict:
        """The supervisor's resources after reload ``n``: the least of a few samples for each, so a
        standby being started at that instant (its pipe, its socket, its waiting thread, for a few
        milliseconds) does not count as a leak; a real leak raises every sample."""
        taken = []
        for i in range(samples):
            if i:
                time.sleep(interval)
            taken.append(snapshot(self.tdev_pid))
        self.snapshots[n] = {key: min(s[key] for s in taken) for key in taken[0]}
        return self.snapshots[n]


# Bounds between the snapshot after reload 10 and the one after the last reload.
FD_SLACK, THREAD_SLACK, RSS_SLACK_KIB = 2, 2, 10 * 1024


def verdict(base: dict, end: dict, zombie_pids: "list[int]", failed_requests: int) -> "list[str]":
    """What went wrong, in words (an empty list: nothing)."""
    problems = []
    if abs(end["fds"] - base["fds"]) > FD_SLACK:
        problems.append(f"open fds {base['fds']} -> {end['fds']}")
    if abs(end["threads"] - base["threads"]) > THREAD_SLACK:
        problems.append(f"threads {base['threads']} -> {end['threads']}")
    if end["rss_kib"] - base["rss_kib"] > RSS_SLACK_KIB:
        problems.append(f"VmRSS {_mib(base['rss_kib'])} -> {_mib(end['rss_kib'])}")
    if zombie_pids:
        problems.append(f"zombies {zombie_pids}")
    if failed_requests:
        problems.append(f"{failed_requests} refused/reset requests")
    return problems


class SoakFailure(AssertionError):
    pass


def start_tdev(directory: Path, port: int, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [PY, "-m", "devserver", "run", "app.py", str(port)],
            cwd=directory, env=tdev_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_tree(proc: subprocess.Popen) -> None:
    """SIGTERM tdev's group; then SIGKILL its group and the groups of everything below it."""
    groups = {proc.pid}
    for pid in descendants(proc.pid):  # the app has a session of its own
        fields = _stat_fields(pid)
        if fields is not None:
            groups.add(int(fields[2]))
    groups.discard(os.getpgrp())
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        print(f"warning: tdev ({proc.pid}) survived SIGKILL", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: everything is stopped


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reloads", type=int, default=1000, help="consecutive reloads (default 1000)")
    parser.add_argument("--longpoll-timeout", type=float, default=LONGPOLL_TIMEOUT,
                        help=f"seconds the long-poll client waits before asking again (default {LONGPOLL_TIMEOUT})")
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers here")
    args = parser.parse_args(argv)
    if args.reloads < 11:
        parser.error("--reloads must be at least 11 (the baseline is taken after reload 10)")
    if not sys.platform.startswith("linux"):
        print("soak.py reads /proc: Linux only", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)

    directory = Path(tempfile.mkdtemp(prefix="tdev-soak-"))
    log_path = directory.parent / (directory.name + ".log")
    port = free_port()
    proc = longpoll = ws = None
    code = 1
    try:
        write_app(directory, Soak.version(0))
        proc = start_tdev(directory, port, log_path)
        print(f"tdev pid {proc.pid}, app in {directory}, port {port}", flush=True)
        if not wait_served(port, Soak.version(0), 30):
            raise SoakFailure("the app never served its first version")
        longpoll = LongPollClient(port, args.longpoll_timeout)
        ws = WebSocketClient(port)
        longpoll.start()
        ws.start()
        if not ws.wait_version(Soak.version(0), 10):
            raise SoakFailure("the WebSocket client never connected")
        soak = Soak(directory, port, proc.pid, ws)
        began = time.monotonic()
        for n in range(1, args.reloads + 1):
            soak.reload(n)
            if proc.poll() is not None:
                raise SoakFailure(f"tdev exited with code {proc.returncode} after reload {n}")
            if n == 10:
                soak.measure(n)
            if n % 50 == 0 or n == args.reloads:
                print(f"  {n} reloads, median {statistics.median(soak.times) * 1000:.0f} ms", flush=True)
        total = time.monotonic() - began
        end = soak.measure(args.reloads)
        base = soak.snapshots[10]
        leftover = zombies(proc.pid)
        times_ms = [t * 1000 for t in soak.times]
        report = {
            "reloads": args.reloads,
            "seconds": round(total, 1),
            "reload_ms": {"median": round(statistics.median(times_ms), 1), "p90": round(p90(times_ms), 1),
                          "max": round(max(times_ms), 1), "min": round(min(times_ms), 1)},
            "after_reload_10": base,
            f"after_reload_{args.reloads}": end,
            "zombies": leftover,
            "failed_requests": len(soak.failed.errors),
            "timed_out_requests": soak.failed.timeouts,
            "longpoll": {"issued": longpoll.issued, "gave_up": longpoll.timeouts, "answered": longpoll.answered,
                         "errors": longpoll.errors},
            "websocket": {"connects": ws.connects, "failed_connects": ws.failures, "echoes": ws.echoes},
        }
        print()
        print(f"{args.reloads} reloads in {total:.1f} s (tdev {proc.pid})")
        print(f"reload time (save -> new GET / answer): median {report['reload_ms']['median']:.0f} ms, "
              f"p90 {report['reload_ms']['p90']:.0f} ms, min {report['reload_ms']['min']:.0f} ms, "
              f"max {report['reload_ms']['max']:.0f} ms")
        print(f"{'supervisor':<20}{'open fds':>10}{'threads':>10}{'VmRSS':>12}")
        for label, snap in (("after reload 10", base), (f"after reload {args.reloads}", end)):
            print(f"{label:<20}{snap['fds']:>10}{snap['threads']:>10}{_mib(snap['rss_kib']):>12}")
        print(f"{'difference':<20}{end['fds'] - base['fds']:>+10}{end['threads'] - base['threads']:>+10}"
              f"{(end['rss_kib'] - base['rss_kib']) / 1024:>+8.1f} MiB")
        print(f"zombies under tdev: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
        print(f"GET / during reloads: {len(soak.failed.errors)} refused/reset, {soak.failed.timeouts} timed out")
        print(f"long-poll: {longpoll.issued} issued, {longpoll.timeouts} gave up after "
              f"{args.longpoll_timeout:g} s, {longpoll.answered} answered, {longpoll.errors} errors")
        print(f"WebSocket: {ws.connects} connections, {ws.failures} failed connects, {ws.echoes} echoes")
        log = log_path.read_text(errors="replace")
        restarts = log.count("changed — restarting")
        tracebacks = log.count("Traceback (most recent call last)")
        print(f"tdev output: {restarts} restarts for {args.reloads} saves, {tracebacks} tracebacks")
        problems = verdict(base, end, leftover, len(soak.failed.errors))
        if restarts != args.reloads:
            problems.append(f"{restarts} restarts for {args.reloads} saves")
        if tracebacks:
            problems.append(f"{tracebacks} tracebacks in tdev's output")
        report.update(restarts=restarts, tracebacks=tracebacks, problems=problems)
        print("verdict: " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        code = 0 if not problems else 1
    except SoakFailure as exc:
        print(f"soak failed: {exc}", file=sys.stderr)
        try:
            print("--- last lines of the tdev log ---\n" + "\n".join(
                log_path.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
        except OSError:
            pass
    finally:
        # Each step on its own: a failing one must not leave tdev and the app running.
        for step in (getattr(longpoll, "stop", None), getattr(ws, "stop", None),
                     (lambda: stop_tree(proc)) if proc is not None else None):
            if step is not None:
                try:
                    step()
                except Exception as exc:
                    print(f"warning: clean-up step failed: {exc!r}", file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
        try:
            log_path.unlink()
        except OSError:
            pass
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: all started processes were stopped", file=sys.stderr)
        sys.exit(130)
