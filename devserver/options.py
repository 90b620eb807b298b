"""tdev's options, declared once: command-line spellings, ``[tool.tdev]`` key, converter, default, help.

``--help``, the defaults of :class:`~devserver.config.RunConfig`, the keys that
``pyproject.toml`` may set and the validation of every value are derived from
:data:`OPTIONS`.  A converter takes the raw value and a :class:`Where`: text
typed on the command line or a typed TOML value; the same code checks both, and
the :class:`Where` words the error for its source.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from devserver.output import NORMAL, QUIET, VERBOSE


class UsageError(Exception):
    """A mistake in what the user typed (or wrote in pyproject.toml): one line on stderr, exit code 2."""


RUN, CHECK, MAIN = "run", "check", "main"  # MAIN: ``tdev`` before a command
BOTH = (RUN, CHECK)

# Where an option's value ends up: RunConfig, CheckOptions, the target (file only), or nowhere (help, version).
CONFIG, CHECK_OPTIONS, TARGET, META = "config", "check", "target", "meta"
SECTIONS = {CONFIG: "[tool.tdev]", TARGET: "[tool.tdev]", CHECK_OPTIONS: "[tool.tdev.check]"}
CHECK_TABLE = "check"  # the [tool.tdev] key that holds [tool.tdev.check]


# -- where a value comes from ---------------------------------------------------------------------------------------
def show(value: object) -> str:
    """A TOML value as the user would recognise it, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (str, int, float)):
        return repr(value)
    return str(value)  # dates and times


@dataclass(frozen=True)
class Where:
    """The source of one value: how to word an error about it, and where its relative paths start.

    Made by :meth:`arg` for text typed on the command line (errors read ``--port 'x': expected ...``)
    and by :meth:`key` for a value of pyproject.toml (``{path}: [tool.tdev] port: expected ..., got 'x'``).
    """

    label: str
    base: str  # the directory relative paths are joined with
    text: bool = False  # command-line text, to be parsed (and already shown in the label)
    parent: Where | None = None  # for an item of a TOML array: the array's key

    @classmethod
    def arg(cls, option: str, text: str, base: str) -> Where:
        return cls(f"{option} {text!r}", base, text=True)

    @classmethod
    def key(cls, path: str, section: str, key: str) -> Where:
        return cls(f"{path}: {section} {key}", os.path.dirname(path))

    def item(self, index: int) -> Where:
        return Where(f"{self.label}[{index}]", self.base, self.text, parent=self)

    def whole(self) -> Where:
        return self.parent or self

    def error(self, message: str) -> UsageError:
        return UsageError(f"{self.label}: {message}")

    def bad(self, value: object, expected: str) -> UsageError:
        """``value`` is not what was ``expected`` (e.g. "expected a port number 0-65535")."""
        if self.text:
            return self.error(expected)
        shown = "an empty string" if value == "" and self.parent is None else show(value)  # items: ''
        return self.error(f"{expected}, got {shown}")


Converter = Callable[[Any, Where], Any]


# -- converters: a raw value (command-line text or TOML value) in, the setting out ----------------------------------
def is_dotted_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


class Number:
    """A finite ``kind`` (int or float) from ``low`` (excluded if ``above``) to ``high``, in ``unit``.

    Every number has a range, shown in ``--help`` and in the error: a value past it (``--debounce
    99999999999999999999``) is a mistake, not a setting.  Command-line text is parsed; from the
    file, only a TOML number will do.
    """

    def __init__(self, kind: type, unit: str, low: float, high: float, above: bool = False, expected: str = ""):
        self.kind, self.unit, self.low, self.high, self.above = kind, unit, low, high, above
        what = "a whole number" if kind is int else "a number"
        self.expected = expected or f"expected {what} {self.range_text()}".replace("  ", " ")

    def range_text(self) -> str:
        low, high = _plain(self.low), _plain(self.high)
        unit = f" {self.unit}" if self.unit else ""
        if self.above:
            return f"of{unit} above {low}, up to {high}"
        return f"of{unit} from {low} to {high}" if unit else f"from {low} to {high}"

    def short_range(self) -> str:
        """For --help: ``0-10000``, or ``> 0, <= 3600``."""
        low, high = _plain(self.low), _plain(self.high)
        return f"> {low}, <= {high}" if self.above else f"{low}-{high}"

    def __call__(self, value: Any, where: Where) -> Any:
        kind = self.kind
        if where.text and isinstance(value, str):
            try:
                result = kind(value)
            except (ValueError, OverflowError):
                raise where.bad(value, self.expected) from None
        elif isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise where.bad(value, self.expected)
        else:
            result = kind(value)
        low_ok = self.low < result if self.above else self.low <= result
        if not (math.isfinite(result) and low_ok and result <= self.high):
            raise where.bad(value, self.expected)
        return result


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def string(what: str, empty_ok: bool = False) -> Converter:
    """A string; blank ones only if ``empty_ok``.  ``what`` names it: "a host name or address"."""

    def convert(value: object, where: Where) -> str:
        if not isinstance(value, str) or not (empty_ok or value.strip()):
            raise where.bad(value, f"expected {what}")
        return value

    return convert


def boolean(value: object, where: Where) -> bool:
    if not isinstance(value, bool):
        raise where.bad(value, "expected true or false")
    return value


def existing_path(value: object, where: Where) -> str:
    """A file or directory, relative to the working directory or the pyproject.toml; its real path."""
    full = os.path.abspath(os.path.join(where.base, string("a path")(value, where)))
    if not os.path.exists(full):
        raise where.whole().error(f"no such file or directory: {full}")
    return os.path.realpath(full)


def python_path(value: object, where: Where) -> str:
    """``--python PATH`` / ``[tool.tdev] python``: an interpreter's path (relative paths from the working
    directory or the pyproject.toml), or a command name found on PATH.  Not resolved through symlinks:
    a virtualenv's ``bin/python`` is a symlink, and the link is what makes it the virtualenv's."""
    if not isinstance(value, str) or not value.strip():
        raise where.bad(value, "expected the path of a Python interpreter")
    if os.sep not in value and not os.path.exists(os.path.join(where.base, value)):
        found = shutil.which(value)
        if found is None:
            raise where.error(f"no command {value!r} on PATH")
        return os.path.abspath(found)
    full = os.path.abspath(os.path.join(where.base, value))
    if not os.path.isfile(full):
        raise where.whole().error(f"no such file: {full}")
    return full


def url_path(value: object, where: Where) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise where.bad(value, "expected a URL path starting with '/'")
    return value


_STATUS = re.compile(r"[1-5][0-9][0-9]|[1-5]xx")


def status(value: object, where: Where) -> str:
    """A status code (``200``) or class (``2xx``), as text."""
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return str(value)
    if isinstance(value, str) and _STATUS.fullmatch(value.strip().lower()):
        return value.strip().lower()
    raise where.bad(value, "expected a status code 100-599 (200 or '200') or a class like '2xx'")


def target(value: object, where: Where) -> tuple[str, str]:
    """``[tool.tdev] target``: ("app", "module:attr") or ("script", absolute path)."""
    text = string("a script path or module:attr")(value, where)
    if ":" in text and not os.path.isabs(text):
        module, _, attr = text.partition(":")
        if not (is_dotted_name(module) and is_dotted_name(attr)):
            raise where.error(
                f"{text!r} is neither a script path nor module:attr (e.g. 'app.py' or 'myapp.server:app')"
            )
        return ("app", text)
    return ("script", os.path.abspath(os.path.join(where.base, text)))


def module(value: object, where: Where) -> tuple[str, str]:
    """``[tool.tdev] module``: ("module", name)."""
    text = string("a module name")(value, where)
    if not is_dotted_name(text):
        raise where.error(f"{text!r} is not a module name (e.g. 'myapp.server')")
    return ("module", text)


# -- the table ------------------------------------------------------------------------------------------------------
Help = Union[str, "dict[str, str]"]  # one text, or one per command


@dataclass(frozen=True)
class Switch:
    """Command-line spellings that set their option to ``value`` and take no value themselves."""

    names: tuple[str, ...]
    value: Any
    help: Help = ""  # empty: the option's help


@dataclass(frozen=True)
class Option:
    dest: str  # field of RunConfig / CheckOptions (group CONFIG / CHECK_OPTIONS), "target", "args", ...
    commands: tuple[str, ...]  # the commands that accept it on the command line
    help: Help
    group: str = CONFIG
    names: tuple[str, ...] = ()  # spellings that take a value: --port 8000, --port=8000
    metavar: str = ""
    switches: tuple[Switch, ...] = ()  # spellings without a value: --poll, -v/--verbose
    convert: Converter | None = None  # validates a value typed after ``names``, or the file's value
    key: str = ""  # the pyproject.toml key (in [tool.tdev.check] for group CHECK_OPTIONS); "" for none
    default: Any = None  # tuples for repeatable options
    repeatable: bool = False  # a list: the option given several times, or a TOML array
    items: str = ""  # repeatable: what the array holds ("paths"), for "expected an array of paths"
    nonempty: str = ""  # repeatable: the error for an empty TOML array; "" if empty arrays are fine
    default_text: str = ""  # how --help shows the default, when not just the value
    env: str = ""  # an environment variable that switches it on
    app_only: bool = False  # only for MODULE:ATTR targets
    tdev_only: bool = False  # an option an app would not define: a hint when typed after a script target

    def help_for(self, command: str, text: Help = "") -> str:
        text = text or self.help
        return text if isinstance(text, str) else text[command]

    def spellings(self) -> tuple[str, ...]:
        return self.names + tuple(name for switch in self.switches for name in switch.names)

    def shown_default(self) -> str:
        """The default as --help shows it; "" when there is none worth showing (off, empty)."""
        if self.default_text or self.default is None or isinstance(self.default, bool) or self.switches:
            return self.default_text
        if isinstance(self.default, tuple):
            return ", ".join(str(item) for item in self.default)
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)

    def from_file(self, value: object, where: Where) -> Any:
        """The value of this option's key in pyproject.toml, validated by the command line's converter."""
        assert self.convert is not None, self.dest
        if not self.repeatable:
            return self.convert(value, where)
        if not isinstance(value, list):
            raise where.bad(value, f"expected an array of {self.items}")
        if not value and self.nonempty:
            raise where.error(f"{self.nonempty}, got an empty array")
        return [self.convert(item, where.item(i)) for i, item in enumerate(value)]

    def from_command_line(self, typed: list[tuple[str, str]], base: str) -> Any:
        """The values typed after ``names`` (each with the spelling used): the last one, or all if repeatable."""
        assert self.convert is not None, self.dest
        if not self.repeatable:
            typed = typed[-1:]
        values = [self.convert(text, Where.arg(spelling, text, base)) for spelling, text in typed]
        return values if self.repeatable else values[0]

    def initial(self) -> Any:
        """A fresh copy of the default (lists for repeatable options)."""
        return list(self.default) if self.repeatable else self.default


_WATCH = "also watch this file or directory"
_IGNORE = "ignore matching paths, e.g. 'data' or '*.log'"
OPTIONS: tuple[Option, ...] = (
    # The target: file only (on the command line it is the first argument that is not an option).
    Option("target", BOTH, "a script path or module:attr", group=TARGET, key="target", convert=target),
    Option("target", BOTH, "a module name", group=TARGET, key="module", convert=module),
    Option("args", BOTH, "the app's arguments", group=TARGET, key="args", convert=string("a string", empty_ok=True),
           repeatable=True, items="strings", default=()),
    # tdev check (listed first in its help)
    Option("paths", (CHECK,), "request this path", group=CHECK_OPTIONS, names=("--path",), metavar="PATH",
           key="paths", convert=url_path, repeatable=True, items="URL paths", default=("/",)),
    Option("expect", (CHECK,), "what counts as success, e.g. 200 or 2xx", group=CHECK_OPTIONS, names=("--expect",),
           metavar="STATUS", key="expect", convert=status, repeatable=True, items="status codes",
           nonempty="expected at least one status code", default=(), default_text="2xx and 3xx"),
    Option("timeout", (CHECK,), "how long the app may take to listen, and each request to answer",
           group=CHECK_OPTIONS, names=("--timeout",), metavar="SECONDS", key="timeout",
           convert=Number(float, "seconds", 0, 3600, above=True), default=20.0),
    Option("json", (CHECK,), "print the result as one JSON object on stdout (the app's output goes to stderr)",
           group=CHECK_OPTIONS, switches=(Switch(("--json",), True),), default=False),
    # watching
    Option("watch", BOTH, {RUN: _WATCH, CHECK: "also compile the Python files under this directory"},
           names=("--watch",), metavar="PATH", key="watch", convert=existing_path, repeatable=True, items="paths",
           default=(), tdev_only=True),
    Option("include", (RUN,), "also watch matching files in the project tree, e.g. '*.toml'", names=("--include",),
           metavar="GLOB", key="include", convert=string("a glob"), repeatable=True, items="globs",
           default=(), tdev_only=True),
    Option("ignore", BOTH, {RUN: _IGNORE, CHECK: "do not compile matching paths"}, names=("--ignore",),
           metavar="GLOB", key="ignore", convert=string("a glob"), repeatable=True, items="globs",
           default=(), tdev_only=True),
    Option("poll", (RUN,), "poll the file system instead of native events", switches=(Switch(("--poll",), True),),
           key="poll", convert=boolean, default=False, env="TDEV_POLL", tdev_only=True),
    Option("debounce_ms", (RUN,), "quiet time that ends a burst of changes", names=("--debounce",), metavar="MS",
           key="debounce", default=10,
           convert=Number(int, "milliseconds", 0, 10000), tdev_only=True),
    # the app process
    Option("grace", BOTH, "how long the app may take to stop before it is killed", names=("--grace",),
           metavar="SECONDS", key="grace", default=5.0,
           convert=Number(float, "seconds", 0, 3600), tdev_only=True),
    Option("reload", (RUN,), "restart the app when its files change",
           switches=(Switch(("--no-reload",), False, "run the app once, exactly as plain python would"),),
           default=True),
    Option("livereload", (RUN,), "inject the browser live-reload script into HTML pages", key="livereload",
           switches=(Switch(("--livereload",), True), Switch(("--no-livereload",), False,
                                                            "do not inject the browser live-reload script")),
           convert=boolean, default=True),
    Option("warm", (RUN,), "keep a standby process with the app's libraries imported, for fast restarts",
           switches=(Switch(("--no-warm",), False,
                            "always cold-start the app (no standby process with its libraries imported)"),),
           key="warm", convert=boolean, default=True),
    Option("watch_reads", (RUN,), "watch the files the app reads (config, data, templates), not only its imports",
           switches=(Switch(("--watch-reads",), True),
                     Switch(("--no-watch-reads",), False, "watch only what the app imports, not the files it reads")),
           key="watch-reads", convert=boolean, default=True, tdev_only=True),
    Option("python", BOTH, "the Python interpreter that runs the app", names=("--python",), metavar="PATH",
           key="python", convert=python_path, default=None,
           default_text="$VIRTUAL_ENV, else .venv beside pyproject.toml, else tdev's own"),
    # MODULE:ATTR targets
    Option("host", BOTH, "MODULE:ATTR targets: address to listen on", names=("--host",), metavar="HOST", key="host",
           convert=string("a host name or address"), default="127.0.0.1", app_only=True),
    Option("port", BOTH, "MODULE:ATTR targets: port to listen on", names=("--port",), metavar="PORT", key="port",
           convert=Number(int, "", 0, 65535, expected="expected a port number 0-65535"), default=8888,
           app_only=True),
    Option("debug", BOTH, "MODULE:ATTR targets: Tornado's debug settings (tdev keeps doing the reloading)",
           switches=(Switch(("--debug",), True),), key="debug", convert=boolean, default=False, app_only=True),
    Option("max_open_files", BOTH, "raise the app's soft open-files limit to N, capped by the hard limit",
           names=("--max-open-files",), metavar="N", key="max-open-files",
           convert=Number(int, "", 1, 2**30), default=50000),  # Tornado's deployment guide; Linux caps at 2**30
    # tdev itself
    Option("verbosity", BOTH, "how much tdev says", default=NORMAL, switches=(
        Switch(("-v", "--verbose"), VERBOSE, {RUN: "say more: the watch set, each change, timings", CHECK: "say more"}),
        Switch(("-q", "--quiet"), QUIET, {RUN: "only warnings and errors", CHECK: "print only failures"}),
    )),
    Option("version", (MAIN,), "print the version", group=META, switches=(Switch(("-V", "--version"), True),)),
    Option("help", (*BOTH, MAIN), "show this help", group=META, switches=(Switch(("-h", "--help"), True),)),
)


def for_command(command: str) -> list[Option]:
    return [option for option in OPTIONS if command in option.commands]


def of_group(group: str) -> list[Option]:
    return [option for option in OPTIONS if option.group == group]


def default(dest: str) -> Any:
    """The default of the option that sets ``dest`` (a fresh list for repeatable options)."""
    for option in OPTIONS:
        if option.dest == dest and option.group in (CONFIG, CHECK_OPTIONS):
            return option.initial()
    raise KeyError(dest)


def file_keys(section: str) -> dict[str, Option]:
    """The keys of ``[tool.tdev]`` or ``[tool.tdev.check]`` (dashed, as in the table) and their options."""
    return {option.key: option for option in OPTIONS if option.key and SECTIONS[option.group] == section}


# -- --help -----------------------------------------------------------------------------------------------------------
def options_help(command: str) -> str:
    """One line per spelling group of the command's options: ``  --port PORT        ... (default 8888)``."""
    lines = []
    for option in for_command(command):
        if option.names:
            notes = ["repeatable"] if option.repeatable else []
            if isinstance(option.convert, Number):
                notes.append(option.convert.short_range())
            if option.shown_default():
                notes.append(f"default {option.shown_default()}")
            lines.append(_line(f"{', '.join(option.names)} {option.metavar}", option.help_for(command), notes))
        for switch in option.switches:
            notes = ["default"] if switch.value == option.default else []
            if option.env:
                notes.append(f"also: {option.env}=1")
            lines.append(_line(", ".join(switch.names), option.help_for(command, switch.help), notes))
    return "\n".join(lines)


def _line(spelling: str, text: str, notes: list[str]) -> str:
    note = f" ({'; '.join(notes)})" if notes else ""
    return f"  {spelling:<18} {text}{note}"


def keys_help() -> str:
    """Which keys pyproject.toml may set, wrapped for --help."""
    tdev = ", ".join([*file_keys(SECTIONS[CONFIG]), CHECK_TABLE])
    check = ", ".join(file_keys(SECTIONS[CHECK_OPTIONS]))
    text = f"{SECTIONS[CONFIG]} keys: {tdev}; {SECTIONS[CHECK_OPTIONS]} keys: {check}."
    return textwrap.fill(text, width=79, break_on_hyphens=False)
