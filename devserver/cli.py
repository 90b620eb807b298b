"""``tdev`` command line: parse, merge with ``[tool.tdev]``, validate, dispatch.

User mistakes are one line and exit 2.  tdev's options go before the target, and
after it where nothing else could be meant: ``tdev check`` and ``MODULE:ATTR``
targets take them anywhere, with the app's arguments after ``--``.  A script or
``-m`` target keeps python's rule: everything after it is the app's (a hint says
so when an option of tdev's own lands there).
Command-line options override the settings of ``pyproject.toml``.  What the
options are, their defaults, help and validation come from :mod:`devserver.options`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from devserver import __version__
from devserver.config import CheckOptions, RunConfig, UsageError
from devserver.interpreter import Interpreter, choose
from devserver.options import (
    CHECK,
    CHECK_OPTIONS,
    CONFIG,
    MAIN,
    OPTIONS,
    RUN,
    SECTIONS,
    Option,
    Switch,
    for_command,
    keys_help,
    of_group,
    options_help,
)
from devserver.output import printable
from devserver.target import Target, TargetError, classify

if TYPE_CHECKING:
    from devserver.projectfile import ProjectSettings

# option's dest -> (spelling as typed, the text after it or the switch's value), in command-line order
Given = dict[str, list[tuple[str, Any]]]

TARGETS = """targets:
  SCRIPT [ARGS...]      a Python file, run like python SCRIPT ARGS
  -m MODULE [ARGS...]   a module, run like python -m MODULE ARGS
  MODULE:ATTR           a tornado.web.Application, or a function returning one (e.g. app:make_app):
                        tdev listens on --host/--port and runs the IOLoop (no main() needed)
  (none)                the target set in [tool.tdev] of pyproject.toml
"""

RUN_PLACES = """tdev's options go before a SCRIPT or -m MODULE target: everything after it is
the app's, as with python.  After MODULE:ATTR, tdev's options may follow too, and
the app's own arguments go after '--' (tdev run app:make_app --port 8000 -- --x).
"""

CHECK_PLACES = """tdev check's options may go anywhere; the app's arguments go after '--'
(tdev check app.py --path /health -- --port=8000).
"""

SETTINGS = f"""Settings can also live in [tool.tdev] of the nearest pyproject.toml (keys
named like the long options); options given here override them.
{keys_help()}
"""

RUN_HELP = f"""usage: tdev run [OPTIONS] SCRIPT [ARGS...]
       tdev run [OPTIONS] -m MODULE [ARGS...]
       tdev run [OPTIONS] MODULE:ATTR [OPTIONS] [-- ARGS...]
       tdev run [OPTIONS]

Run a Tornado app and restart it whenever a file it uses changes.

{TARGETS}
{RUN_PLACES}
options:
{options_help(RUN)}

Globs without '/' match any path component; globs with '/' match the path
relative to the watched tree.

{SETTINGS}"""

CHECK_HELP = f"""usage: tdev check [OPTIONS] [TARGET] [OPTIONS] [-- ARGS...]

Would the app start and serve?  Compiles every Python file of the project and
reports every syntax error, starts the app once, sends GET to each --path,
stops it cleanly.  Exit status: 0 passed, 1 failed, 2 bad usage.

{TARGETS}
{CHECK_PLACES}
options:
{options_help(CHECK)}

If the port the app asks for is in use (say, by 'tdev run'), the check listens
on a free port instead and says so.

{SETTINGS}"""

MAIN_HELP = f"""usage: tdev COMMAND [OPTIONS] ...

commands:
  run        run a Tornado app, restarting it when its files change
  check      check that the app compiles, starts and serves (for commit hooks and CI)

options:
{options_help(MAIN)}

  tdev run --help     options of tdev run
  tdev check --help   options of tdev check
"""


def parse_run(argv: list[str], environ: Mapping[str, str] | None = None, cwd: str | None = None) -> RunConfig | None:
    """Parse ``tdev run`` arguments; None means help was printed."""
    return parse(RUN, argv, environ, cwd)


def parse_check(argv: list[str], environ: Mapping[str, str] | None = None, cwd: str | None = None) -> RunConfig | None:
    return parse(CHECK, argv, environ, cwd)


def parse(
    command: str, argv: list[str], environ: Mapping[str, str] | None = None, cwd: str | None = None
) -> RunConfig | None:
    environ = os.environ if environ is None else environ
    given, target, hints = _scan(command, argv)
    if "help" in given:
        print(RUN_HELP if command == RUN else CHECK_HELP, end="")
        return None
    _refuse_contradictions(given)

    from devserver import projectfile

    project = projectfile.load(cwd or os.getcwd())
    if target is None:
        target = _configured_target(command, project)
    if target.kind != "app":
        _refuse_app_options(command, given, project, target)
    settings = {CONFIG: project.values if project else {}, CHECK_OPTIONS: project.check if project else {}}

    def value(option: Option) -> Any:
        return _value(option, given, settings[option.group], environ)

    config = RunConfig(
        target=target,
        config_file=project.path if project else None,
        hints=hints,
        requested={option.dest for option in of_group(CONFIG)
                   if option.dest in given or option.dest in settings[CONFIG]},
        check=CheckOptions(**{option.dest: value(option) for option in of_group(CHECK_OPTIONS)}),
        **{option.dest: value(option) for option in of_group(CONFIG)},
    )
    config.interpreter = _interpreter(config, given, project, environ, cwd or os.getcwd())
    target.python = config.interpreter.executable
    if not config.interpreter.own:
        target.search_path = config.interpreter.path
    try:
        target.validate()
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    return config


def _interpreter(config: RunConfig, given: Given, project: ProjectSettings | None, environ: Mapping[str, str],
                 cwd: str) -> Interpreter:
    """The Python that runs the app: --python, [tool.tdev] python, VIRTUAL_ENV, .venv, tdev's own."""
    if "python" in given:
        how = given["python"][-1][0]
    elif project is not None and "python" in project.keys:
        how = f"{project.path}: {SECTIONS[CONFIG]} {project.keys['python']}"
    else:
        how = ""
    return choose(config.python, how, environ, cwd)


def _value(option: Option, given: Given, settings: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """The command line's value, else the environment's, else pyproject.toml's, else the default."""
    typed = given.get(option.dest)
    if typed:
        return option.from_command_line(typed, os.getcwd()) if option.names else typed[-1][1]
    if option.env and environ.get(option.env, "") not in ("", "0", "false", "no"):
        return True
    return settings[option.dest] if option.dest in settings else option.initial()


def _file_target_kind(project: ProjectSettings) -> str | None:
    target = project.values.get("target")
    return target[0] if target else None


def _configured_target(command: str, project: ProjectSettings | None) -> Target:
    values = project.values if project else {}
    if "target" not in values:
        where = f" and {project.path} sets no target" if project else ""
        raise UsageError(f"missing TARGET: a SCRIPT, -m MODULE or MODULE:ATTR{where} (see 'tdev {command} --help')")
    kind, value = values["target"]
    return Target(kind, value, list(values.get("args", [])))


def _refuse_contradictions(given: Given) -> None:
    """Two switches of one option that set different values: --verbose and --quiet."""
    for option in OPTIONS:
        values = {value for _spelling, value in given.get(option.dest, [])} if option.switches else set()
        if len(values) > 1:
            names = [switch.names[-1] for switch in option.switches if switch.value in values]
            raise UsageError(f"{names[0]} and {names[1]} cannot be used together")


def _refuse_app_options(command: str, given: Given, project: ProjectSettings | None, target: Target) -> None:
    """--host / --port / --debug, typed or in pyproject.toml, with a script or module target: one rule."""
    for option in OPTIONS:
        if not option.app_only:
            continue
        if option.dest in given:
            spelling, value = given[option.dest][0]
            typed = spelling if option.switches else f"{spelling}={value}"  # as tornado.options reads it
            rest = f"-- {typed}" if command == CHECK else typed
            raise UsageError(
                f"{spelling} only applies to a MODULE:ATTR target (a script or module listens where it likes); "
                f"to pass it to the app: tdev {command} {target.label} {rest}"
            )
        if project is not None and option.dest in project.keys and _file_target_kind(project) != "app":
            # A file that names a MODULE:ATTR target may set its port: a script typed instead does not
            # use them. A file with a script target, or none, may not.
            what = f"{project.path}: {SECTIONS[CONFIG]} {project.keys[option.dest]}"
            raise UsageError(f"{what} only applies to a MODULE:ATTR target (a script or module listens where it likes)")


def _spellings(command: str) -> dict[str, tuple[Option, Switch | None]]:
    """Every spelling the command accepts: the option, and the switch for spellings without a value."""
    known: dict[str, tuple[Option, Switch | None]] = {}
    for option in for_command(command):
        known.update((name, (option, None)) for name in option.names)
        known.update((name, (option, switch)) for switch in option.switches for name in switch.names)
    return known


def _scan(command: str, argv: list[str]) -> tuple[Given, Target | None, list[str]]:
    """Options (as typed, not validated yet), the target with its arguments, and hints to show.

    Before the target, every argument is one of tdev's options.  After it: ``tdev check`` and
    ``MODULE:ATTR`` targets keep reading tdev's options and take the app's arguments after ``--``;
    a script or ``-m`` target keeps python's rule (everything after it is the app's), with one hint
    when what follows it looks like one of tdev's own options."""
    known = _spellings(command)
    given: Given = {}
    i = 0
    while i < len(argv):
        found = _target_at(argv, i)
        if found is not None:
            target, end = found
            if end is not None and (command == CHECK or target.kind == "app"):
                target.args = []
                return given, _options_after(command, known, argv[end:], given, target), []
            # python's rule: the rest is the app's
            return given, target, [] if target.kind == "app" else _misplaced_hint(command, target)
        i = _take_option(command, known, argv, i, given)
    return given, None, []


def _take_option(command: str, known: dict[str, tuple[Option, Switch | None]], argv: list[str], i: int,
                 given: Given, target: Target | None = None) -> int:
    """Record the option at ``argv[i]`` (with its value); the index after it."""
    arg = argv[i]
    spelling, has_value, inline = arg.partition("=")
    if spelling not in known:
        other = RUN if command == CHECK else CHECK
        hint = f" (it is an option of 'tdev {other}')" if spelling in _spellings(other) else ""
        if target is not None and not hint:
            hint = f" (arguments for the app go after '--': {_example(command, target, arg)})"
        raise UsageError(f"unknown option {arg!r} for 'tdev {command}'{hint} (see 'tdev {command} --help')")
    option, switch = known[spelling]
    if switch is not None:
        if has_value:
            raise UsageError(f"{arg!r}: {spelling} takes no value")
        value: Any = switch.value
    elif has_value:
        value = inline
    elif i + 1 < len(argv):
        i += 1
        value = argv[i]
    else:
        raise UsageError(f"{spelling} needs a value")
    given.setdefault(option.dest, []).append((spelling, value))
    return i + 1


def _options_after(command: str, known: dict[str, tuple[Option, Switch | None]], rest: list[str], given: Given,
                   target: Target) -> Target:
    """tdev's options after the target, up to ``--``; what follows ``--`` is the app's."""
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            target.args = rest[i + 1 :]
            return target
        if not arg.startswith("-") or arg == "-":
            raise UsageError(
                f"unexpected argument {arg!r} after {target.label}: arguments for the app go after '--' "
                f"({_example(command, target, arg)})"
            )
        i = _take_option(command, known, rest, i, given, target)
    return target


def _example(command: str, target: Target, arg: str) -> str:
    return f"tdev {command} {target.label} -- {arg}"


def _misplaced_hint(command: str, target: Target) -> list[str]:
    """One line when an argument after a script or ``-m`` target is an option of tdev that an app would
    not define (``--watch``, ``--poll``, ``--no-reload``, ...): python's rule gave it to the app."""
    known = _spellings(command)
    names: list[str] = []
    typed: list[str] = []
    args = target.args
    for i, arg in enumerate(args):
        spelling, has_value, _ = arg.partition("=")
        if spelling not in known:
            continue
        option, switch = known[spelling]
        if not (option.tdev_only or spelling.startswith("--no-")):
            continue
        names.append(spelling)
        typed.append(arg if switch is not None or has_value or i + 1 >= len(args) else f"{arg} {args[i + 1]}")
    if not names:
        return []
    listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    verb = "go" if len(names) > 1 else "goes"
    return [
        f"hint: {listed} after {target.label} {verb} to the app, as with python; "
        f"tdev's own options go before the target: tdev {command} {' '.join(typed)} {target.label} ..."
    ]


def _target_at(argv: list[str], i: int) -> tuple[Target, int | None] | None:
    """The target if it starts at ``argv[i]`` (python's rule: the first argument that is not an option),
    and where tdev's options may go on after it: None when the rest of the line is the app's (a script or
    ``-m`` target under ``tdev run``, anything after a ``--`` before the target)."""
    arg = argv[i]
    if arg == "--":
        if i + 1 >= len(argv):
            raise UsageError("missing TARGET after '--'")
        return _positional_target(argv[i + 1], argv[i + 2 :]), None
    if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
        name = arg[2:] if arg != "-m" else (argv[i + 1] if i + 1 < len(argv) else None)
        if not name:
            raise UsageError("-m needs a module name")
        end = i + 1 if arg != "-m" else i + 2
        return Target("module", name, argv[end:]), end
    if not arg.startswith("-") or arg == "-":
        return _positional_target(arg, argv[i + 1 :]), i + 1
    return None


def _positional_target(text: str, args: list[str]) -> Target:
    try:
        return classify(text, args)
    except TargetError as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(argv)
    except UsageError as exc:
        print(f"tdev: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _show_hints(config: RunConfig) -> None:
    from devserver.output import Output

    output = Output(config.verbosity)
    for hint in config.hints:
        output.info(hint)


def _dispatch(argv: list[str]) -> int:
    spellings = _spellings(MAIN)
    first = spellings[argv[0]][0].dest if argv and argv[0] in spellings else None
    if not argv or argv[0] == "help" or first == "help":
        print(MAIN_HELP, end="")
        return 0 if argv else 2
    if first == "version":
        print(f"tdev {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == RUN:
        config = parse_run(rest)
        if config is None:
            return 0
        _show_hints(config)
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
