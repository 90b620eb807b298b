"""``tdev`` command line: parse, validate, dispatch.  User mistakes are one line and exit 2.

Options go before the target, as with ``python`` itself: everything after
``SCRIPT`` (or ``-m MODULE``) is passed to the app untouched.
"""

import os
import sys

from devserver import __version__
from devserver.config import RunConfig, UsageError
from devserver.output import NORMAL, QUIET, VERBOSE
from devserver.target import Target, TargetError

USAGE = "usage: tdev run [OPTIONS] SCRIPT [ARGS...]\n       tdev run [OPTIONS] -m MODULE [ARGS...]"

HELP = f"""{USAGE}

Run a Tornado app and restart it whenever a file it uses changes.

options:
  -m MODULE          run a module, like python -m (the rest goes to the app)
  --watch PATH       also watch this file or directory (repeatable)
  --include GLOB     also watch matching files in the project tree, e.g. '*.toml' (repeatable)
  --ignore GLOB      ignore matching paths, e.g. 'data' or '*.log' (repeatable)
  --poll             poll the file system instead of native events (also: TDEV_POLL=1)
  --debounce MS      quiet time that ends a burst of changes (default 10)
  --grace SECONDS    how long the app may take to stop before it is killed (default 5)
  --no-reload        run the app once, exactly as plain python would
  --no-livereload    do not inject the browser live-reload script (on by default)
  -v, --verbose      say more: the watch set, each change, timings
  -q, --quiet        only warnings and errors
  -h, --help         show this help

Globs without '/' match any path component; globs with '/' match the path
relative to the watched tree.
"""

MAIN_HELP = f"""usage: tdev COMMAND [OPTIONS] ...

commands:
  run        run a Tornado app, restarting it when its files change

  tdev run --help     options of tdev run
  tdev --version      print the version
"""

# option -> (config attribute, kind)
_VALUE_OPTIONS = {
    "--watch": "watch",
    "--include": "include",
    "--ignore": "ignore",
    "--debounce": "debounce_ms",
    "--grace": "grace",
}
_FLAG_OPTIONS = {
    "--poll", "--no-reload", "--livereload", "--no-livereload", "-v", "--verbose", "-q", "--quiet", "-h", "--help",
}


def parse_run(argv: "list[str]", environ=None) -> "RunConfig | None":
    """Parse ``tdev run`` arguments; None means help was printed."""
    environ = os.environ if environ is None else environ
    values: "dict[str, list[str]]" = {"watch": [], "include": [], "ignore": [], "debounce_ms": [], "grace": []}
    flags: "set[str]" = set()
    target = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            if i + 1 >= len(argv):
                raise UsageError("missing SCRIPT after '--'")
            target = Target("script", argv[i + 1], argv[i + 2 :])
            break
        if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            name = arg[2:] if arg != "-m" else (argv[i + 1] if i + 1 < len(argv) else None)
            if not name:
                raise UsageError("-m needs a module name")
            rest = argv[i + 1 :] if arg != "-m" else argv[i + 2 :]
            target = Target("module", name, rest)
            break
        if arg.startswith("-") and arg != "-":
            option, has_value, inline = arg.partition("=")
            if option in _VALUE_OPTIONS:
                if has_value:
                    value = inline
                elif i + 1 < len(argv):
                    i += 1
                    value = argv[i]
                else:
                    raise UsageError(f"{option} needs a value")
                values[_VALUE_OPTIONS[option]].append(value)
            elif option in _FLAG_OPTIONS and not has_value:
                flags.add(option)
            else:
                raise UsageError(f"unknown option {arg!r} (see 'tdev run --help')")
            i += 1
            continue
        target = Target("script", arg, argv[i + 1 :])
        break

    if flags & {"-h", "--help"}:
        print(HELP, end="")
        return None
    if target is None:
        raise UsageError("missing SCRIPT or -m MODULE (see 'tdev run --help')")
    if flags & {"-v", "--verbose"} and flags & {"-q", "--quiet"}:
        raise UsageError("--verbose and --quiet cannot be used together")

    config = RunConfig(target=target)
    config.include = values["include"]
    config.ignore = values["ignore"]
    config.watch = [_existing_path(p) for p in values["watch"]]
    if values["debounce_ms"]:
        config.debounce_ms = _number("--debounce", values["debounce_ms"][-1], int, "milliseconds")
    if values["grace"]:
        config.grace = _number("--grace", values["grace"][-1], float, "seconds")
    config.poll = "--poll" in flags or environ.get("TDEV_POLL", "") not in ("", "0", "false", "no")
    config.reload = "--no-reload" not in flags
    if {"--livereload", "--no-livereload"} <= flags:
        raise UsageError("--livereload and --no-livereload cannot be used together")
    config.livereload = "--no-livereload" not in flags
    if flags & {"-v", "--verbose"}:
        config.verbosity = VERBOSE
    elif flags & {"-q", "--quiet"}:
        config.verbosity = QUIET
    else:
        config.verbosity = NORMAL
    try:
        target.validate()
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    return config


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
    if value < 0 or value != value or value == float("inf"):
        raise UsageError(f"{option} {text!r}: must be a finite number >= 0")
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
    if command == "run":
        config = parse_run(rest)
        if config is None:
            return 0
        if not config.reload:
            from devserver.process import exec_plain

            return exec_plain(config.target)
        from devserver.supervisor import run_supervisor

        return run_supervisor(config)
    raise UsageError(f"unknown command {command!r} (try 'tdev run SCRIPT')")
