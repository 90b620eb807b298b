"""tdev's settings from ``[tool.tdev]`` in the nearest ``pyproject.toml``: find, read, validate.

Keys are named like the long options of ``tdev run`` (``max-open-files`` or
``max_open_files``).  Values come back normalised; merging them with the command
line is the caller's job.  Mistakes are one-line :class:`UsageError` messages
that name the file and the key.
"""

import math
import os
import re
import sys
from dataclasses import dataclass, field

from devserver.config import UsageError

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - depends on the interpreter
    try:
        import tomli as _toml
    except ImportError:
        _toml = None

FILENAME = "pyproject.toml"


@dataclass
class ProjectSettings:
    path: str  # absolute path of the pyproject.toml
    values: dict = field(default_factory=dict)  # only the [tool.tdev] keys present, normalised
    check: dict = field(default_factory=dict)  # only the [tool.tdev.check] keys present, normalised


def find_pyproject(start: str) -> "str | None":
    """The nearest ``pyproject.toml`` in ``start`` or its parents (real paths), or None."""
    directory = os.path.realpath(start)
    while True:
        candidate = os.path.join(directory, FILENAME)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def load(start: str) -> "ProjectSettings | None":
    """Settings from the nearest ``pyproject.toml``; None if there is none or it has no ``[tool.tdev]``.

    The nearest file is the project boundary: a parent's ``[tool.tdev]`` is never used.
    """
    path = find_pyproject(start)
    if path is None:
        return None
    data = _parse(path)
    tool = data.get("tool")
    if not isinstance(tool, dict) or "tdev" not in tool:
        return None
    table = tool["tdev"]
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.tdev] must be a table, got {_show(table)}")
    settings = ProjectSettings(path=path)
    _Reader(path, "[tool.tdev]", settings.values).read_tdev(table, settings.check)
    return settings


def _parse(path: str) -> dict:
    if _toml is None:
        raise UsageError(f"{path}: reading it on Python < 3.11 needs the tomli package: pip install tomli")
    try:
        with open(path, "rb") as f:
            return _toml.load(f)
    except _toml.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: invalid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def _show(value) -> str:
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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_dotted_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


_STATUS = re.compile(r"[1-5][0-9][0-9]|[1-5]xx")


class _Reader:
    """Validates one table's keys into ``values``; every error names the file, table and key."""

    def __init__(self, path: str, section: str, values: dict):
        self.path = path
        self.section = section
        self.values = values
        self.base = os.path.dirname(path)

    def fail(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.path}: {self.section} {key}: {message}")

    def _keys(self, table: dict, known) -> "dict[str, str]":
        """Canonical (dashed) name -> the key as written; unknown or doubled keys are errors."""
        written: "dict[str, str]" = {}
        for key in table:
            name = key.replace("_", "-")
            if name not in known:
                raise UsageError(
                    f"{self.path}: {self.section} unknown key {key!r} (known: {', '.join(sorted(known))})"
                )
            if name in written:
                raise self.fail(key, f"given twice, as {written[name]!r} and {key!r}")
            written[name] = key
        return written

    # -- [tool.tdev] ----------------------------------------------------------------
    def read_tdev(self, table: dict, check: dict) -> None:
        written = self._keys(table, _TDEV_KEYS)
        if "target" in written and "module" in written:
            raise UsageError(
                f"{self.path}: {self.section} {written['target']} and {written['module']} cannot be used together "
                "(target is a script path or module:attr, module is a module name)"
            )
        for name, key in written.items():
            if name == "check":
                self.check_table(key, table[key], check)
            else:
                getattr(self, _TDEV_KEYS[name])(key, table[key])

    def string(self, key: str, value, what: str = "a string") -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected {what}, got {_show(value)}")
        if not value:
            raise self.fail(key, f"expected {what}, got an empty string")
        return value

    def strings(self, key: str, value, what: str, whats: str, allow_empty: bool = False) -> "list[str]":
        """A list of strings; ``what`` names one item ("a path") and ``whats`` several ("paths")."""
        if not isinstance(value, list):
            raise self.fail(key, f"expected an array of {whats}, got {_show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not (item or allow_empty):
                raise self.fail(f"{key}[{i}]", f"expected {what}, got {_show(item)}")
        return list(value)

    def target(self, key: str, value) -> None:
        text = self.string(key, value, "a script path or module:attr")
        if ":" in text and not os.path.isabs(text):
            module, _, attr = text.partition(":")
            if not (_is_dotted_name(module) and _is_dotted_name(attr)):
                raise self.fail(
                    key, f"{text!r} is neither a script path nor module:attr (e.g. 'app.py' or 'myapp.server:app')"
                )
            self.values["target"] = ("app", text)
        else:
            self.values["target"] = ("script", os.path.abspath(os.path.join(self.base, text)))

    def module(self, key: str, value) -> None:
        text = self.string(key, value, "a module name")
        if not _is_dotted_name(text):
            raise self.fail(key, f"{text!r} is not a module name (e.g. 'myapp.server')")
        self.values["target"] = ("module", text)

    def args(self, key: str, value) -> None:
        self.values["args"] = self.strings(key, value, "a string", "strings", allow_empty=True)

    def watch(self, key: str, value) -> None:
        paths = []
        for path in self.strings(key, value, "a path", "paths"):
            full = os.path.abspath(os.path.join(self.base, path))
            if not os.path.exists(full):
                raise self.fail(key, f"no such file or directory: {full}")
            paths.append(os.path.realpath(full))  # as --watch does
        self.values["watch"] = paths

    def globs(self, key: str, value) -> None:
        self.values[key.replace("-", "_")] = self.strings(key, value, "a glob", "globs")

    def debounce(self, key: str, value) -> None:
        if not _is_int(value):
            raise self.fail(key, f"expected an integer number of milliseconds, got {_show(value)}")
        if value < 0:
            raise self.fail(key, f"must be >= 0 milliseconds, got {value}")
        self.values["debounce_ms"] = value

    def grace(self, key: str, value) -> None:
        if not _is_number(value):
            raise self.fail(key, f"expected a number of seconds, got {_show(value)}")
        if not math.isfinite(value) or value < 0:
            raise self.fail(key, f"must be a finite number of seconds >= 0, got {_show(value)}")
        self.values["grace"] = float(value)

    def flag(self, key: str, value) -> None:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_show(value)}")
        self.values[key.replace("-", "_")] = value

    def host(self, key: str, value) -> None:
        self.values["host"] = self.string(key, value, "a host name or address")

    def port(self, key: str, value) -> None:
        if not _is_int(value) or not 0 <= value <= 65535:
            raise self.fail(key, f"expected a port number 0-65535, got {_show(value)}")
        self.values["port"] = value

    def max_open_files(self, key: str, value) -> None:
        if not _is_int(value) or value < 1:
            raise self.fail(key, f"expected an integer >= 1, got {_show(value)}")
        self.values["max_open_files"] = value

    # -- [tool.tdev.check] ----------------------------------------------------------
    def check_table(self, key: str, value, check: dict) -> None:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_show(value)}")
        reader = _Reader(self.path, "[tool.tdev.check]", check)
        for name, written in reader._keys(value, _CHECK_KEYS).items():
            getattr(reader, _CHECK_KEYS[name])(written, value[written])

    def check_paths(self, key: str, value) -> None:
        paths = self.strings(key, value, "a URL path starting with '/'", "URL paths")
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                raise self.fail(f"{key}[{i}]", f"expected a URL path starting with '/', got {path!r}")
        self.values["paths"] = paths

    def check_expect(self, key: str, value) -> None:
        if not isinstance(value, list):
            raise self.fail(key, f"expected an array of status codes, got {_show(value)}")
        if not value:
            raise self.fail(key, "expected at least one status code, got an empty array")
        codes = []
        for i, item in enumerate(value):
            if _is_int(item) and 100 <= item <= 599:
                codes.append(str(item))
            elif isinstance(item, str) and _STATUS.fullmatch(item):
                codes.append(item)
            else:
                raise self.fail(
                    f"{key}[{i}]",
                    f"expected a status code 100-599 (200 or '200') or a class like '2xx', got {_show(item)}",
                )
        self.values["expect"] = codes

    def check_timeout(self, key: str, value) -> None:
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise self.fail(key, f"expected a finite number of seconds > 0, got {_show(value)}")
        self.values["timeout"] = float(value)


# canonical key -> _Reader method
_TDEV_KEYS = {
    "args": "args",
    "check": "check_table",
    "debounce": "debounce",
    "debug": "flag",
    "grace": "grace",
    "host": "host",
    "ignore": "globs",
    "include": "globs",
    "livereload": "flag",
    "max-open-files": "max_open_files",
    "module": "module",
    "poll": "flag",
    "port": "port",
    "target": "target",
    "warm": "flag",
    "watch": "watch",
}
_CHECK_KEYS = {"expect": "check_expect", "paths": "check_paths", "timeout": "check_timeout"}
