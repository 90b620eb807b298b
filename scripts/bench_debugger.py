#!/usr/bin/env python3
"""Benchmark: a warm reload under a debugger (debugpy, as VS Code runs it) against the same without one.

Usage::

    pip install -e '.[test]'      # debugpy comes with the test extra
    python scripts/bench_debugger.py [--saves 8] [--runs 3]

Both cases run the same small Tornado app (``app.py PORT`` answering ``GET /`` with
``version.VERSION``) in a temp dir, ``--runs`` times each, alternating:

* **plain**: ``tdev run app.py PORT``;
* **debugpy**: ``python -m debugpy --listen 127.0.0.1:P --wait-for-client -m devserver run app.py PORT``
  with a Debug Adapter Protocol client attached the way VS Code attaches (``subProcess``: every app
  process tdev starts is announced and attached to; ``tests/dap.py``), one breakpoint set in a
  function that is never called (so the debugger traces, as it does in a real session).

Per run: wait until ``v0`` is served and the standby had time to get ready, then ``--saves`` in-place
saves of ``version.py``, each timed from the save to the first ``GET /`` that answers the new
version (polled every ~3 ms), 1.5 s apart.  Reported: the median over all saves of each case, and
the ratio debugpy / plain (the issue's target: within 3x).  Linux only (the adapter is found by the
port it listens on, in /proc).
"""

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dap import DebugSession, listener_pid  # noqa: E402

APP = """\
import asyncio
import sys

import tornado.web

import version


def never_called():
    return 1


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write(version.VERSION)


async def main():
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main())
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        return ""
    finally:
        conn.close()


def wait_for(port: int, body: str, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if get(port) == body:
            return (time.monotonic() - start) * 1000
        time.sleep(0.003)
    raise SystemExit(f"{body!r} not served within {timeout} s")


def one_run(debug: bool, saves: int) -> "list[float]":
    app_dir = Path(tempfile.mkdtemp(prefix="tdev-bench-dbg-"))
    (app_dir / "app.py").write_text(APP)
    (app_dir / "version.py").write_text('VERSION = "v0"\n')
    port = free_port()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "devserver", "run", "app.py", str(port)]
    session = adapter = None
    if debug:
        debug_port = free_port()
        command[1:3] = ["-m", "debugpy", "--listen", f"127.0.0.1:{debug_port}", "--wait-for-client", "-m", "devserver"]
    proc = subprocess.Popen(command, cwd=app_dir, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if debug:
            line = APP.splitlines().index("    return 1") + 1
            session = DebugSession(debug_port, {app_dir / "app.py": [line]})
            adapter = listener_pid(debug_port)
        wait_for(port, "v0", 30)
        time.sleep(2.0)  # the standby gets ready
        times = []
        for n in range(1, saves + 1):
            (app_dir / "version.py").write_text(f'VERSION = "v{n}"\n')
            times.append(wait_for(port, f"v{n}", 20))
            time.sleep(1.5)
        return times
    finally:
        if session is not None:
            session.close()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for pid in [adapter] if adapter else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: "dict[str, list[float]]" = {"plain": [], "debugpy": []}
    for _ in range(args.runs):
        for case in ("plain", "debugpy"):
            results[case] += one_run(case == "debugpy", args.saves)
    plain, debug = statistics.median(results["plain"]), statistics.median(results["debugpy"])
    print(f"warm reload, median of {len(results['plain'])} saves each:")
    print(f"  plain tdev:          {plain:6.1f} ms")
    print(f"  tdev under debugpy:  {debug:6.1f} ms  ({debug / plain:.2f}x plain)")


if __name__ == "__main__":
    main()
