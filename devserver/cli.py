"""``tdev`` command line: parse, merge with ``[tool.tdev]``, validate, dispatch.

User mistakes are one line and exit 2.  Options go before the target, as with
``python`` itself: everything after the target is passed to the app untouched.
Command-line options override the settings of ``pyproject.toml``.
"""

import math
import os
import sys

from devserver import __version__
from devserver.config import CheckOptions, RunConfig, UsageError
from devserver.output import NORMAL, QUIET, VERBOSE
from devserver.target import Target, TargetError, classify

RUN, CHECK = "run", "check"

TARGETS = """targets:
  SCRIPT [ARGS...]      a Python file, run like python SCRIPT ARGS
  -m MODULE [ARGS...]   a module, run like python -m MODULE ARGS
  MODULE:ATTR [ARGS...] a tornado.web.Application, or a function returning one (e.g. app:make_app):
                        tdev listens on --host/--port and runs the IOLoop (no main() needed)
  (none)                the target set in [tool.tdev] of pyproject.toml
"""

APP_OPTIONS = """  --host HOST        MODULE:ATTR targets: address to listen on (default 127.0.0.1)
  --port PORT        MODULE:ATTR targets: port to listen on (default 8888)
  --debug            MODULE:ATTR targets: Tornado's debug settings (tdev keeps doing the reloading)
  --max-open-files N raise the app's soft open-files limit to N (default 50000; capped by the hard limit)
"""

RUN_HELP = f"""usage: tdev run [OPTIONS] [TARGET [ARGS...]]

Run a Tornado app and restart it whenever a file it uses changes.

{TARGETS}
options:
  --watch PATH       also watch this file or directory (repeatable)
  --include GLOB     also watch matching files in the project tree, e.g. '*.toml' (repeatable)
  --ignore GLOB      ignore matching paths, e.g. 'data' or '*.log' (repeatable)
  --poll             poll the file system instead of native events (also: TDEV_POLL=1)
  --debounce MS      quiet time that ends a burst of changes (default 10)
  --grace SECONDS    how long the app may take to stop before it is killed (default 5)
  --no-reload        run the app once, exactly as plain python would
  --no-livereload    do not inject the browser live-reload script (on by default)
  --no-warm          always cold-start the app (no standby process with its libraries imported)
{APP_OPTIONS}  -v, --verbose      say more: the watch set, each change, timings
  -q, --quiet        only warnings and errors
  -h, --help         show this help

Globs without '/' match any path component; globs with '/' match the path
relative to the watched tree.  Settings can also live in [tool.tdev] of the
nearest pyproject.toml (keys named like the long options); options given here
override them.
"""

CHECK_HELP = f"""usage: tdev check [OPTIONS] [TARGET [ARGS...]]

Would the app start and serve?  Compiles every Python file of the project and
reports every syntax error, starts the app once, sends GET to each --path,
stops it cleanly.  Exit status: 0 passed, 1 failed, 2 bad usage.

{TARGETS}
options:
  --path PATH        request this path (repeatable; default /)
  --expect STATUS    what counts as success, e.g. 200 or 2xx (repeatable; default: any status below 500)
  --timeout SECONDS  how long the app may take to listen, and each request to answer (default 20)
  --json             print the result as one JSON object on stdout (the app's output goes to stderr)
  --watch PATH       also compile the Python files under this directory (repeatable)
  --ignore GLOB      do not compile matching paths (repeatable)
  --grace SECONDS    how long the app may take to stop before it is killed (default 5)
{APP_OPTIONS}  -v, --verbose      say more
  -q, --quiet        print only failures
  -h, --help         show this help

If the port the app asks for is in use (say, by 'tdev run'), the check listens
on a free port instead and says so.
"""

MAIN_HELP = """usage: tdev COMMAND [OPTIONS] ...

commands:
  run        run a Tornado app, restarting it when its files change
  check      check that the app compiles, starts and serves (for commit hooks and CI)

  tdev run --help     options of tdev run
  tdev check --help   options of tdev check
  tdev --version      print the version
"""

BOTH = (RUN, CHECK)
# option -> (setting, takes a value, commands)
OPTIONS = {
    "--watch": ("watch", True, BOTH),
    "--include": ("include", True, (RUN,)),
    "--ignore": ("ignore", True, BOTH),
    "--poll": ("poll", False, (RUN,)),
    "--debounce": ("debounce_ms", True, (RUN,)),
    "--grace": ("grace", True, BOTH),
    "--no-reload": ("no_reload", False, (RUN,)),
    "--livereload": ("livereload", False, (RUN,)),
    "--no-livereload": ("no_livereload", False, (RUN,)),
    "--no-warm": ("no_warm", False, (RUN,)),
    "--host": ("host", True, BOTH),
    "--port": ("port", True, BOTH),
    "--debug": ("debug", False, BOTH),
    "--max-open-files": ("max_open_files", True, BOTH),
    "--path": ("paths", True, (CHECK,)),
    "--expect": ("expect", True, (CHECK,)),
    "--timeout": ("timeout", True, (CHECK,)),
    "--json": ("json", False, (CHECK,)),
    "-v": ("verbose", False, BOTH),
    "--verbose": ("verbose", False, BOTH),
    "-q": ("quiet", False, BOTH),
    "--quiet": ("quiet", False, BOTH),
    "-h": ("help", False, BOTH),
    "--help": ("help", False, BOTH),
}
REPEATABLE = {"watch", "include", "ignore", "paths", "expect"}
APP_ONLY = ("host", "port", "debug")


def parse_run(argv: "list[str]", environ=None, cwd: "str | None" = None) -> "RunConfig | None":
    """Parse ``tdev run`` arguments; None means help was printed."""
    return parse(RUN, argv, environ, cwd)


def parse_check(argv: "list[str]", environ=None, cwd: "str | None" = None) -> "RunConfig | None":
    return parse(CHECK, argv, environ, cwd)


def parse(command: str, argv: "list[str]", environ=None, cwd: "str | None" = None) -> "RunConfig | None":
    environ = os.environ if environ is None else environ
    given, target = _scan(command, argv)
    if given.get("help"):
        print(RUN_HELP if command == RUN else CHECK_HELP, end="")
        return None
    if given.get("verbose") and given.get("quiet"):
        raise UsageError("--verbose and --quiet cannot be used together")
    if given.get("livereload") and given.get("no_livereload"):
        raise UsageError("--livereload and --no-livereload cannot be used together")

    from devserver import projectfile

    project = projectfile.load(cwd or os.getcwd())
    settings = dict(project.values) if project else {}
    check_settings = dict(project.check) if project else {}
    if target is None:
        if "target" not in settings:
            where = f" and {project.path} sets no target" if project else ""
            raise UsageError(f"missing TARGET: a SCRIPT, -m MODULE or MODULE:ATTR{where} (see 'tdev {command} --help')")
        kind, value = settings["target"]
        target = Target(kind, value, list(settings.get("args", [])))
    if target.kind != "app":
        for name in APP_ONLY:
            if name in given:
                raise UsageError(f"--{name} only applies to a MODULE:ATTR target (a script or module listens where it likes)")

    config = RunConfig(target=target, config_file=project.path if project else None)

    def setting(name, default, convert=lambda value: value):
        if name in given:
            return convert(given[name])
        return settings.get(name, default)

    config.watch = setting("watch", [], lambda paths: [_existing_path(p) for p in paths])
    config.include = setting("include", [])
    config.ignore = setting("ignore", [])
    config.debounce_ms = setting("debounce_ms", config.debounce_ms, lambda v: _number("--debounce", v, int, "milliseconds"))
    config.grace = setting("grace", config.grace, lambda v: _number("--grace", v, float, "seconds"))
    poll_env = environ.get("TDEV_POLL", "") not in ("", "0", "false", "no")
    config.poll = bool(given.get("poll")) or poll_env or bool(settings.get("poll", False))
    config.reload = not given.get("no_reload")
    if given.get("livereload") or given.get("no_livereload"):
        config.livereload = not given.get("no_livereload")
    else:
        config.livereload = settings.get("livereload", True)
    config.warm = not given.get("no_warm") and bool(settings.get("warm", True))
    config.host = setting("host", config.host, _host)
    config.port = setting("port", config.port, _port)
    config.debug = bool(given.get("debug")) or bool(settings.get("debug", False))
    config.max_open_files = setting("max_open_files", config.max_open_files, _max_open_files)
    config.verbosity = VERBOSE if given.get("verbose") else QUIET if given.get("quiet") else NORMAL

    check = CheckOptions()
    check.paths = [_url_path(p) for p in given["paths"]] if "paths" in given else check_settings.get("paths", check.paths)
    check.expect = [_expectation(e) for e in given["expect"]] if "expect" in given else check_settings.get("expect", [])
    check.timeout = _timeout(given["timeout"]) if "timeout" in given else check_settings.get("timeout", check.timeout)
    check.json = bool(given.get("json"))
    config.check = check
    try:
        target.validate()
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    return config


def _scan(command: str, argv: "list[str]") -> "tuple[dict, Target | None]":
    """Options (as typed, not validated yet) and the target with its arguments."""
    given: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            if i + 1 >= len(argv):
                raise UsageError("missing TARGET after '--'")
            return given, _positional_target(argv[i + 1], argv[i + 2 :])
        if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            name = arg[2:] if arg != "-m" else (argv[i + 1] if i + 1 < len(argv) else None)
            if not name:
                raise UsageError("-m needs a module name")
            rest = argv[i + 1 :] if arg != "-m" else argv[i + 2 :]
            return given, Target("module", name, rest)
        if not arg.startswith("-") or arg == "-":
            return given, _positional_target(arg, argv[i + 1 :])
        option, has_value, inline = arg.partition("=")
        spec = OPTIONS.get(option)
        if spec is None or command not in spec[2]:
            other = f" (it is an option of 'tdev {RUN if command == CHECK else CHECK}')" if spec else ""
            raise UsageError(f"unknown option {arg!r} for 'tdev {command}'{other} (see 'tdev {command} --help')")
        name, takes_value, _commands = spec
        if not takes_value:
            if has_value:
                raise UsageError(f"{arg!r}: {option} takes no value")
            given[name] = True
        else:
            if has_value:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise UsageError(f"{option} needs a value")
            if name in REPEATABLE:
                given.setdefault(name, []).append(value)
            else:
                given[name] = value
        i += 1
    return given, None


def _positional_target(text: str, args: "list[str]") -> Target:
    try:
        return classify(text, args)
    except TargetError as exc:
        raise UsageError(str(exc)) from None


def _existing_path(path: str) -> str:
    if not path:
        raise UsageError("--watch needs a path")
    if not os.path.exists(path):
        raise UsageError(f"--watch {path}: no such file or directory")
    return os.path.realpath(path)


def _number(option: str, text: str, kind, unit: str):
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected a number of {unit}") from None
    if value < 0 or not math.isfinite(value):
        raise UsageError(f"{option} {text!r}: must be a finite number >= 0")
    return value


def _host(text: str) -> str:
    if not text.strip():
        raise UsageError("--host needs an address, e.g. 127.0.0.1 or 0.0.0.0")
    return text


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {text!r}: expected a port number from 0 to 65535")
    return port


def _max_open_files(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"--max-open-files {text!r}: expected a whole number >= 1")
    return value


def _url_path(text: str) -> str:
    if not text.startswith("/"):
        raise UsageError(f"--path {text!r}: must start with '/', e.g. /health")
    return text


def _expectation(text: str) -> str:
    text = text.strip().lower()
    if len(text) == 3 and ((text.isdigit() and 100 <= int(text) <= 599) or (text[0] in "12345" and text[1:] == "xx")):
        return text
    raise UsageError(f"--expect {text!r}: expected a status like 200 or a class like 2xx")


def _timeout(text: str) -> float:
    value = _number("--timeout", text, float, "seconds")
    if value == 0:
        raise UsageError("--timeout must be more than 0 seconds")
    return value


def main(argv: "list[str] | None" = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(argv)
    except UsageError as exc:
        print(f"tdev: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(argv: "list[str]") -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(MAIN_HELP, end="")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"tdev {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == RUN:
        config = parse_run(rest)
        if config is None:
            return 0
        if not config.reload:
            from devserver.process import exec_plain

            return exec_plain(config)
        from devserver.supervisor import run_supervisor

        return run_supervisor(config)
    if command == CHECK:
        config = parse_check(rest)
        if config is None:
            return 0
        from devserver.check import run_check

        return run_check(config)
    raise UsageError(f"unknown command {command!r} (try 'tdev run SCRIPT' or 'tdev check')")
