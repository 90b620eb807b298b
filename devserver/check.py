"""``tdev check``: would the app compile, start and serve?  (A commit hook's smoke test.)

1. Compile every Python file of the project (default ignores applied) and
   collect *every* syntax error as ``path:line:col: message``.
2. Start the app once under the same child bootstrap as ``tdev run`` (so
   multi-process mode is refused the same way), hand it its sockets, wait
   until it serves, send ``GET`` to each path.
3. Stop it the way ``tdev run`` does (reload hooks run), print a summary.

No watcher, no restarts.  Exit status: 0 passed, 1 failed.
"""

import asyncio
import http.client
import json
import os
import signal
import socket
import stat
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field

from devserver import channel as msg
from devserver.config import RunConfig
from devserver.filters import PathFilter, is_ignored_dir_name
from devserver.output import QUIET, display_path, printable, use_colour
from devserver.process import raise_open_files_limit, unreaped_pids
from devserver.reports import output_lines
from devserver.session import AppSession
from devserver.sockets import HeldSockets, socket_urls
from devserver.strays import become_subreaper, kill_strays


SUMMARY_OUTPUT_LINES = 3  # of the app's last output, under "tdev check failed" (all of them in --json)


@dataclass
class SyntaxProblem:
    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}:{self.col}: {self.message}"


@dataclass
class PathResult:
    path: str
    status: "int | None" = None
    reason: str = ""
    ms: "float | None" = None
    ok: bool = False
    error: "str | None" = None


@dataclass
class CheckResult:
    target: str
    ok: bool = False
    files_compiled: int = 0
    compile_ms: float = 0.0
    syntax_errors: "list[SyntaxProblem]" = field(default_factory=list)
    unreadable: "list[str]" = field(default_factory=list)
    started: bool = False
    startup_ms: "float | None" = None
    listening: "list[str]" = field(default_factory=list)
    notes: "list[str]" = field(default_factory=list)
    paths: "list[PathResult]" = field(default_factory=list)
    stop_ms: "float | None" = None
    failure: "str | None" = None  # why the check failed, one line
    app_error: "str | None" = None  # the app's traceback, when it failed with one
    app_output: "list[str]" = field(default_factory=list)  # its last lines of output, when it exited by itself
    exit_code: int = 1


# -- 1. compiling ----------------------------------------------------------------------------
def python_files(roots: "list[str]", ignore: "tuple[str, ...]" = (), unreadable=None):
    """Every ``*.py`` file under ``roots`` (files are taken as they are), default ignores applied."""
    path_filter = PathFilter(ignore=ignore)
    seen = set()
    for root in roots:
        if os.path.isfile(root):
            if root.endswith(".py") and root not in seen and _is_regular(root):
                seen.add(root)
                yield root
            continue

        def on_error(exc: OSError, root: str = root) -> None:  # bound now: called within this iteration anyway
            if unreadable is not None:
                unreadable.append(f"{display_path(exc.filename or root)}: {exc.strerror or exc}")

        for directory, dirs, files in os.walk(root, onerror=on_error):
            dirs[:] = sorted(
                d for d in dirs
                if not is_ignored_dir_name(d)
                and not path_filter.is_ignored(os.path.join(directory, d), root, is_dir=True)
                and not os.path.isfile(os.path.join(directory, d, "pyvenv.cfg"))
            )
            for name in sorted(files):
                path = os.path.join(directory, name)
                if (name.endswith(".py") and path not in seen and not path_filter.is_ignored(path, root)
                        and _is_regular(path)):
                    seen.add(path)
                    yield path


def _is_regular(path: str) -> bool:
    """A regular file (through symlinks): a FIFO or a socket named ``*.py`` would block ``open``."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # let compile_file report why it cannot be read


def compile_file(path: str) -> "SyntaxProblem | str | None":
    """None when ``path`` compiles; a SyntaxProblem; or a line saying it could not be read."""
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        return f"{display_path(path)}: cannot read: {exc.strerror or exc}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings are not failures
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return SyntaxProblem(path, exc.lineno or 1, exc.offset or 1, _syntax_message(exc))
        except ValueError as exc:  # null bytes (before 3.12)
            return SyntaxProblem(path, 1, 1, str(exc).replace("source code string", "source code"))
    return None


def _syntax_message(exc: SyntaxError) -> str:
    name = type(exc).__name__
    message = exc.msg or "invalid syntax"
    return message if name == "SyntaxError" else f"{name}: {message}"


def compile_project(config: RunConfig, result: CheckResult) -> None:
    started = time.monotonic()
    root = config.target.project_root()
    roots = [] if os.path.dirname(root) == root else [root]  # never the whole file system
    if not roots:
        result.notes.append(f"the project directory is {root}: compiling only --watch paths")
    roots += [p for p in config.watch if p not in roots]
    script = config.target.script_path()
    if script and script not in roots:
        roots.append(script)
    paths = list(python_files(roots, tuple(config.ignore), result.unreadable))
    if config.interpreter.own:
        problems = [compile_file(path) for path in paths]
    else:  # the syntax of the Python that runs the app, not tdev's own
        problems = compile_with(config.interpreter.executable, paths)
    for problem in problems:
        if isinstance(problem, SyntaxProblem):
            result.syntax_errors.append(problem)
        elif problem is not None:
            result.unreadable.append(problem)
    result.files_compiled = len(paths)
    result.compile_ms = (time.monotonic() - started) * 1000


# Runs under the app's interpreter: compile each file named on stdin (JSON), report what fails (JSON).
_COMPILE = """
import json, sys, warnings
out = []
for path in json.load(sys.stdin):
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        out.append([path, "unreadable", exc.strerror or str(exc)])
        continue
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            out.append([path, "syntax", exc.lineno or 1, exc.offset or 1, type(exc).__name__, exc.msg or ""])
        except ValueError as exc:
            out.append([path, "syntax", 1, 1, "SyntaxError", str(exc).replace("source code string", "source code")])
json.dump(out, sys.stdout)
"""


def compile_with(python: str, paths: "list[str]") -> "list[SyntaxProblem | str | None]":
    """``compile_file`` for each path, done by ``python`` (one process for all); tdev's own compile
    if that interpreter cannot be asked."""
    import subprocess

    try:
        done = subprocess.run([python, "-I", "-c", _COMPILE], input=json.dumps(paths).encode(), capture_output=True,
                              timeout=600)
        found = {item[0]: item for item in json.loads(done.stdout.decode("utf-8", "replace"))}
    except (OSError, ValueError, TypeError, IndexError, subprocess.TimeoutExpired):
        return [compile_file(path) for path in paths]
    problems: list[SyntaxProblem | str | None] = []
    for path in paths:
        item = found.get(path)
        if item is None:
            problems.append(None)
        elif item[1] == "unreadable":
            problems.append(f"{display_path(path)}: cannot read: {item[2]}")
        else:
            name, message = item[4], item[5] or "invalid syntax"
            problems.append(SyntaxProblem(path, int(item[2]), int(item[3]),
                                          message if name == "SyntaxError" else f"{name}: {message}"))
    return problems


# -- 2. starting and asking ------------------------------------------------------------------
class AppRun:
    """The app started once (an ``AppSession``) and what ``tdev check`` waits for: serving, or its exit."""

    def __init__(self, config: RunConfig, result: CheckResult) -> None:
        self.config = config
        self.result = result
        self.loop = asyncio.get_running_loop()
        self.sockets = HeldSockets(free_port_fallback=True)
        self.serving = self.loop.create_future()
        self.exited = self.loop.create_future()
        self.session: AppSession | None = None
        self._handlers = {msg.SERVING: self._on_serving, msg.ERROR: self._on_error, msg.OUTPUT: self._on_output}

    def start(self) -> None:
        stdout = sys.stderr if self.config.check.json else None  # stdout carries the JSON alone
        self.session = AppSession.start(self.config.target, self.config.child_options(), self.loop, self.sockets,
                                        self._handlers, self._on_exit, stdout=stdout)

    def _on_serving(self, _session: AppSession, _message: dict) -> None:
        if not self.serving.done():
            self.serving.set_result(time.monotonic())

    def _on_error(self, _session: AppSession, message: dict) -> None:
        self.result.app_error = str(message.get("traceback") or message.get("summary") or "")
        self.result.failure = f"the app failed: {message.get('summary', '')}"

    def _on_output(self, _session: AppSession, message: dict) -> None:
        self.result.app_output = output_lines(message)

    def _on_exit(self, session: AppSession) -> None:
        if not self.exited.done():
            self.exited.set_result(session.returncode)

    async def stop(self, grace: float) -> None:
        session = self.session
        if session is None or self.exited.done():
            return
        started = time.monotonic()
        session.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), grace)
        except asyncio.TimeoutError:
            self.result.notes.append(f"the app did not stop within {grace:g} s of being told to: killed")
            session.kill()
            await asyncio.wait_for(asyncio.shield(self.exited), 5)
        self.result.stop_ms = (time.monotonic() - started) * 1000

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.sockets.close_all()


async def start_and_ask(config: RunConfig, result: CheckResult) -> None:
    check = config.check
    app = AppRun(config, result)
    note = raise_open_files_limit(config.max_open_files)
    if note and config.open_files_note_wanted():
        result.notes.append(note)
    started = time.monotonic()
    try:
        try:
            app.start()
        except OSError as exc:
            result.failure = f"cannot start the app: {exc}"
            return
        result.started = True
        # Binding the app's sockets uses Tornado's netutil: import it while the app starts, not when
        # the app's bind request is already waiting for the answer.
        import tornado.netutil  # noqa: F401

        await asyncio.wait({app.serving, app.exited}, timeout=check.timeout, return_when=asyncio.FIRST_COMPLETED)
        result.notes.extend(app.sockets.moved)
        if not app.serving.done():
            if app.exited.done():
                code = app.exited.result()
                if result.failure is None:
                    how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
                    result.failure = f"the app {how} before it listened"
            else:
                result.failure = f"the app did not listen within {check.timeout:g} s"
            return
        result.startup_ms = (app.serving.result() - started) * 1000
        socks = app.sockets.sockets()
        result.listening = socket_urls(socks)
        target = _request_target(socks)
        for path in check.paths:
            outcome = PathResult(path)
            result.paths.append(outcome)
            if app.exited.done():
                outcome.error = "the app exited"
                continue
            t0 = time.monotonic()
            try:
                status, reason = await app.loop.run_in_executor(None, _get, target, path, check.timeout)
            except (OSError, http.client.HTTPException) as exc:
                outcome.error = _describe_request_error(exc, check.timeout)
            else:
                outcome.status, outcome.reason = status, reason
                outcome.ok = _expected(status, check.expect)
            outcome.ms = (time.monotonic() - t0) * 1000
        bad = [p for p in result.paths if not p.ok]
        if bad and result.failure is None:
            first = bad[0]
            what = first.error or f"{first.status} {first.reason}".strip()
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            result.failure = f"GET {first.path}: {what}{more}" + _how_to_accept(first, check.expect, len(check.paths))
        if app.exited.done() and result.failure is None:
            result.failure = f"the app exited while it was checked (code {app.exited.result()})"
    finally:
        try:
            await app.stop(config.grace)
        finally:
            app.close()
            kill_strays(unreaped_pids())  # what the app started outside its group: it must not hold our stdout


def _request_target(socks) -> "tuple":
    """Where to send requests: the first TCP socket (IPv4 preferred), else a unix socket."""
    tcp = [s for s in socks if s.family in (socket.AF_INET, socket.AF_INET6)]
    tcp.sort(key=lambda s: s.family != socket.AF_INET)
    if tcp:
        host, port = tcp[0].getsockname()[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return ("tcp", host, port)
    return ("unix", socks[0].getsockname(), None)


def _get(target, path: str, timeout: float) -> "tuple[int, str]":
    kind, host, port = target
    if kind == "unix":
        conn = http.client.HTTPConnection("localhost", timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(host)
        conn.sock = sock
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "tdev-check", "Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status, response.reason
    finally:
        conn.close()


def _describe_request_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, http.client.RemoteDisconnected)):
        return "connection closed without an answer"
    return str(exc) or type(exc).__name__


def _how_to_accept(outcome: PathResult, expect: "list[str]", paths: int) -> str:
    """After an unexpected status: what was expected, and how to accept it too (the statuses that
    passed before stay accepted when other paths are checked)."""
    if outcome.status is None:
        return ""
    accepted = expect or ["2xx", "3xx"]
    statuses = [*accepted, str(outcome.status)] if paths > 1 else [str(outcome.status)]
    flags = " ".join(f"--expect {status}" for status in statuses)
    key = ", ".join(f'"{status}"' for status in statuses)
    return f" — expected {' or '.join(accepted)}; to accept it: {flags} (or expect = [{key}] in [tool.tdev.check])"


def _expected(status: int, expect: "list[str]") -> bool:
    if not expect:
        return 200 <= status < 400
    code = str(status)
    return any(e == code or (e.endswith("xx") and e[0] == code[0]) for e in expect)


# -- 3. the whole check ----------------------------------------------------------------------
def check(config: RunConfig) -> CheckResult:
    result = CheckResult(target=config.target.label)
    if not config.interpreter.own:
        result.notes.append(f"the app runs with {config.interpreter.describe()}")
    compile_project(config, result)
    if result.syntax_errors:
        count = len(result.syntax_errors)
        result.failure = f"{count} syntax error{'s' * (count != 1)}: the app was not started"
    elif result.unreadable and any(": cannot read:" in line for line in result.unreadable):
        result.failure = "a Python file of the project cannot be read"
    else:
        become_subreaper()  # orphans the app leaves come to us, and are stopped with it
        _run_on_loop(start_and_ask(config, result))
    result.ok = result.failure is None
    result.exit_code = 0 if result.ok else 1
    return result


def _run_on_loop(coroutine) -> None:
    """Run with SIGINT/SIGTERM turned into a clean stop of the app (not an orphan, not a traceback)."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def run_check(config: RunConfig) -> int:
    result = check(config)
    if config.check.json:
        print(json.dumps(to_json(result), indent=2))
    else:
        print_summary(result, config.verbosity)
    return result.exit_code


def to_json(result: CheckResult) -> dict:
    data = asdict(result)
    for problem in data["syntax_errors"]:
        problem["path"] = display_path(problem["path"])
    return data


_COLOURS = ("\033[31;1m", "\033[32m", "\033[2m", "\033[0m")


def _printable_line(line: str) -> str:
    """A summary line with control characters (from file names) escaped; our own colour codes kept."""
    line = printable(line)
    for code in _COLOURS:
        line = line.replace(printable(code), code)
    return line


def _last_output(result: CheckResult) -> list[str]:
    """Under a failure without a traceback: what the app printed last may say why (a CLI's "Error: ...")."""
    if result.app_error is not None:
        return []
    shown = result.app_output[-SUMMARY_OUTPUT_LINES:]
    return [f"{'  last output:' if number == 0 else ' ' * 14} {line[:160]}" for number, line in enumerate(shown)]


def print_summary(result: CheckResult, verbosity: int) -> None:
    colour = use_colour(sys.stdout)
    red, green, dim, reset = _COLOURS if colour else ("", "", "", "")
    lines = []
    quiet = verbosity <= QUIET
    for problem in result.syntax_errors:
        lines.append(f"{red}{problem}{reset}")
    for line in result.unreadable:
        lines.append(f"{red}{line}{reset}")
    if not quiet:
        lines.insert(0, f"tdev check {result.target}")
        plural = "s" * (result.files_compiled != 1)
        errors = len(result.syntax_errors)
        lines.append(f"  compiled {result.files_compiled} Python file{plural} in {result.compile_ms:.0f} ms: "
                     + (f"{errors} syntax error{'s' * (errors != 1)}" if errors else "no syntax errors"))
        for note in result.notes:
            lines.append(f"  {dim}{note}{reset}")
        if result.startup_ms is not None:
            lines.append(f"  app listening on {', '.join(result.listening)} after {result.startup_ms:.0f} ms")
        width = max((len(p.path) for p in result.paths), default=0)
        for p in result.paths:
            answer = f"{p.status} {p.reason}".strip() if p.status is not None else p.error
            timing = f" ({p.ms:.0f} ms)" if p.ms is not None else ""
            mark = green if p.ok else red
            lines.append(f"  GET {p.path:<{width}}  {mark}{answer}{reset}{timing}")
        if result.stop_ms is not None:
            lines.append(f"  stopped in {result.stop_ms:.0f} ms")
    if result.ok:
        if not quiet:
            lines.append(f"{green}passed{reset}")
    else:
        lines.append(f"{red}tdev check failed: {result.failure}{reset}")
        lines.extend(f"{dim}{line}{reset}" for line in _last_output(result))
    if lines:
        sys.stdout.write("\n".join(_printable_line(line) for line in lines) + "\n")
        sys.stdout.flush()

