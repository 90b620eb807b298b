#!/usr/bin/env python3
"""Benchmark: what watching the files the app reads costs the app (the audit hook of ``child/reads.py``).

Usage::

    python scripts/bench_reads.py [--runs N] [--heavy-import MODULE] [--json out.json]

Standard library plus Tornado (and the heavy import, scikit-learn from the ``bench`` extra; without it
the heavy rows are skipped).  Linux; every interpreter is the one running this script.  Three parts,
each comparing the same work with the hook installed (as tdev installs it in the app process, with
a project tree of its own and a channel that sends nothing), with a hook that does nothing (what any
audit hook costs: CPython builds the event's arguments and calls it) and without any, alternating:

* **Per call** (a fresh interpreter per variant and run; best of 5 loops of 20 000 calls each, ns per
  call): ``open()`` + ``close()`` of a file in the project that was read before (the hook's common
  case: one dict look-up), of a file outside the project, of a log opened for appending (a written
  file, said once), and ``sys._getframe()`` (an audit event other than ``open``, as ``logging`` raises
  for every record: the cost of the hook being called at all).  Also the first read of a new file in
  the project (2 000 files, once each: the hook's slow path, which reports it).
* **Imports**: ``import tornado.web, tornado.httpserver`` (and the heavy import) in a fresh
  interpreter, timed inside it (every import raises several audit events); median and minimum of
  ``--runs`` (the minimum: the run least disturbed by whatever else the machine does), and how many
  audit events those imports raise.
* **Start-up under tdev**: ``tdev run --no-warm`` from its start to the first answer to ``GET /``,
  with and without ``--no-watch-reads``, for examples/hello and a generated heavy app (``GET /`` of
  an app that also imports the heavy module); median and minimum of ``--runs``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TDEV = [sys.executable, "-m", "devserver"]

# Every variant imports the same modules before it measures; only the hook differs.
SETUP = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    project = {project!r}
    from devserver.child import imports, reads

    class Quiet:
        def send(self, kind, **fields):
            return True

    imports._channel = Quiet()
    if {hook!r} == "tdev":
        reads.install([project])
    elif {hook!r} == "empty":
        sys.addaudithook(lambda event, args: None)
""")
VARIANTS = ("without", "empty", "tdev")  # no hook; a hook that does nothing (CPython's own cost); tdev's

PER_CALL = SETUP + textwrap.dedent("""
    inside = os.path.join(project, "config.json")
    outside = {outside!r}
    log = os.path.join(project, "app.log")

    def best(fn, n=20000):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            times.append((time.perf_counter() - start) / n)
        return min(times) * 1e9

    def read_inside():
        open(inside).close()

    def read_outside():
        open(outside).close()

    def append_log():
        open(log, "a").close()

    getframe = sys._getframe
    result = {{"read in project": best(read_inside), "read outside": best(read_outside),
              "append to a log": best(append_log), "sys._getframe": best(getframe, 200000)}}
    names = [os.path.join(project, "many", f"f{{i}}.txt") for i in range(2000)]
    start = time.perf_counter()
    for name in names:
        open(name).close()
    result["first read of a new file"] = (time.perf_counter() - start) / len(names) * 1e9
    print(result)
""")

IMPORTS = SETUP + textwrap.dedent("""
    if {hook!r} == "count":
        counts = {{}}

        def count(event, args):
            counts[event] = counts.get(event, 0) + 1

        sys.addaudithook(count)
    start = time.perf_counter()
    import tornado.web, tornado.httpserver
    {heavy}
    elapsed = (time.perf_counter() - start) * 1000
    print(repr(counts) if {hook!r} == "count" else elapsed)
    os._exit(0)
""")

HEAVY_APP = textwrap.dedent("""
    import asyncio
    import os

    import tornado.web
    import {heavy}


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write("ok")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(os.environ["PORT"]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
""")


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def per_call(project: str, outside: str, runs: int) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {variant: {} for variant in VARIANTS}
    for _ in range(runs):
        for variant in VARIANTS:
            code = PER_CALL.format(root=str(ROOT), project=project, hook=variant, outside=outside)
            for name, value in eval(run_python(code)).items():  # (a dict literal we printed)
                samples[variant].setdefault(name, []).append(value)
    return {variant: {name: statistics.median(values) for name, values in by_name.items()}
            for variant, by_name in samples.items()}


def imports(project: str, heavy: str | None, runs: int) -> dict:
    """Medians and minimums (the least disturbed run: this machine may be busy) per variant, and how many
    audit events the imports raise (how often any hook is called)."""
    samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    line = f"import {heavy}" if heavy else ""
    for _ in range(runs):
        for variant in VARIANTS:
            code = IMPORTS.format(root=str(ROOT), project=project, hook=variant, heavy=line)
            samples[variant].append(float(run_python(code)))
    counts = eval(run_python(IMPORTS.format(root=str(ROOT), project=project, hook="count", heavy=line)))
    result: dict = {variant: statistics.median(values) for variant, values in samples.items()}
    result["min"] = {variant: min(values) for variant, values in samples.items()}
    result["events"] = sum(counts.values())
    result["opens"] = counts.get("open", 0)
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_answer(args: list[str], cwd: Path, port: int, timeout: float = 30.0) -> float:
    """Seconds from starting ``tdev run ARGS`` to the first 200 on ``GET /``."""
    env = dict(os.environ, PORT=str(port))
    env.pop("VIRTUAL_ENV", None)
    start = time.monotonic()
    proc = subprocess.Popen([*TDEV, "run", "-q", "--no-warm", *args], cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - start < timeout:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    return time.monotonic() - start
            except (OSError, http.client.HTTPException):
                time.sleep(0.002)
            finally:
                conn.close()
        raise RuntimeError(f"no answer within {timeout} s: {args}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def start_up(app: Path, runs: int) -> dict:
    samples: dict[str, list[float]] = {"without": [], "tdev": []}
    for _ in range(runs):
        for variant, extra in (("without", ["--no-watch-reads"]), ("tdev", [])):
            samples[variant].append(first_answer([*extra, app.name], app.parent, free_port()) * 1000)
    result: dict = {variant: statistics.median(values) for variant, values in samples.items()}
    result["min"] = {variant: min(values) for variant, values in samples.items()}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--heavy-import", default="sklearn")
    parser.add_argument("--json")
    options = parser.parse_args()
    try:
        __import__(options.heavy_import)
        heavy: str | None = options.heavy_import
    except ImportError:
        print(f"({options.heavy_import} is not installed: the heavy rows are skipped)")
        heavy = None
    results: dict = {"python": sys.version.split()[0], "runs": options.runs}
    with tempfile.TemporaryDirectory() as tmp:
        project = os.path.join(tmp, "project")
        os.makedirs(os.path.join(project, "many"))
        for i in range(2000):
            Path(project, "many", f"f{i}.txt").write_text("x")
        Path(project, "config.json").write_text("{}")
        outside = os.path.join(tmp, "outside.txt")
        Path(outside).write_text("x")

        results["per_call_ns"] = calls = per_call(project, outside, max(3, options.runs // 3))
        print("per call (ns, median of runs; each the best of 5 loops): no hook, an empty hook, tdev's")
        for name in calls["without"]:
            without, empty, tdev = (calls[variant][name] for variant in VARIANTS)
            print(f"  {name:26} {without:8.0f} {empty:8.0f} {tdev:8.0f}  (tdev: {tdev - without:+.0f} ns, "
                  f"of which the empty hook {empty - without:+.0f})")

        results["imports_ms"] = {"plain": imports(project, None, options.runs)}
        if heavy:
            results["imports_ms"]["heavy"] = imports(project, heavy, options.runs)
        print("imports in a fresh interpreter (ms; median, then minimum): no hook, an empty hook, tdev's")
        for name, value in results["imports_ms"].items():
            low = value["min"]
            print(f"  {name:8} median {value['without']:7.1f} {value['empty']:7.1f} {value['tdev']:7.1f}  "
                  f"(tdev: {value['tdev'] - value['without']:+.1f} ms); minimum {low['without']:7.1f} "
                  f"{low['empty']:7.1f} {low['tdev']:7.1f} (tdev: {low['tdev'] - low['without']:+.1f} ms); "
                  f"{value['events']} audit events, {value['opens']} of them open")

        results["start_up_ms"] = {"examples/hello": start_up(ROOT / "examples" / "hello" / "app.py", options.runs)}
        if heavy:
            heavy_app = Path(tmp, "heavy", "app.py")
            heavy_app.parent.mkdir()
            heavy_app.write_text(HEAVY_APP.format(heavy=heavy))
            results["start_up_ms"]["heavy"] = start_up(heavy_app, options.runs)
        print("tdev run --no-warm: start to first answer (ms; median, then minimum):")
        for name, value in results["start_up_ms"].items():
            low = value["min"]
            print(f"  {name:15} median {value['without']:7.1f} (--no-watch-reads) -> {value['tdev']:7.1f} "
                  f"({value['tdev'] - value['without']:+.1f} ms); minimum {low['without']:7.1f} -> "
                  f"{low['tdev']:7.1f} ({low['tdev'] - low['without']:+.1f} ms)")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
