"""tdev's settings from ``[tool.tdev]`` in the nearest ``pyproject.toml``: find, read, validate.

Keys are named like the long options of ``tdev run`` (``max-open-files`` or
``max_open_files``); which keys exist, and the converter of each value (the one
the command line uses), come from the option table in :mod:`devserver.options`.
Values come back normalised; merging them with the command line is the caller's
job.  Mistakes are one-line :class:`UsageError` messages that name the file and the key.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from devserver.options import CHECK_OPTIONS, CHECK_TABLE, CONFIG, SECTIONS, Option, UsageError, Where, file_keys, show

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
    values: dict[str, Any] = field(default_factory=dict)  # only the [tool.tdev] keys present, normalised
    check: dict[str, Any] = field(default_factory=dict)  # only the [tool.tdev.check] keys present, normalised
    keys: dict[str, str] = field(default_factory=dict)  # [tool.tdev] setting -> its key as written (for errors)


def find_pyproject(start: str) -> str | None:
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


def load(start: str) -> ProjectSettings | None:
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
        raise UsageError(f"{path}: [tool.tdev] must be a table, got {show(table)}")
    settings = ProjectSettings(path=path)
    _read_tdev(path, table, settings)
    return settings


def _parse(path: str) -> dict[str, Any]:
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


def _read_tdev(path: str, table: dict[str, Any], settings: ProjectSettings) -> None:
    """``[tool.tdev]`` into ``settings.values``, its ``check`` table into ``settings.check``."""
    section = SECTIONS[CONFIG]
    known = file_keys(section)
    written = _keys(path, section, table, [*known, CHECK_TABLE])
    _refuse_two_keys_for_one_setting(path, section, known, written)
    for name, key in written.items():
        if name == CHECK_TABLE:
            _read_check(path, key, table[key], settings.check)
        else:
            settings.values[known[name].dest] = known[name].from_file(table[key], Where.key(path, section, key))
            settings.keys[known[name].dest] = key


def _refuse_two_keys_for_one_setting(
    path: str, section: str, known: dict[str, Option], written: dict[str, str]
) -> None:
    """Keys that set the same thing, such as target and module (both name the app)."""
    seen: dict[str, Option] = {}
    for name, option in known.items():
        if name not in written:
            continue
        first = seen.setdefault(option.dest, option)
        if first is not option:
            raise UsageError(
                f"{path}: {section} {written[first.key]} and {written[name]} cannot be used together "
                f"({first.key} is {first.help}, {option.key} is {option.help})"
            )


def _read_check(path: str, key: str, value: object, check: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        raise Where.key(path, SECTIONS[CONFIG], key).bad(value, "expected a table")
    section = SECTIONS[CHECK_OPTIONS]
    known = file_keys(section)
    for name, written in _keys(path, section, value, list(known)).items():
        check[known[name].dest] = known[name].from_file(value[written], Where.key(path, section, written))


def _keys(path: str, section: str, table: dict[str, Any], known: list[str]) -> dict[str, str]:
    """Canonical (dashed) name -> the key as written; unknown or doubled keys are errors."""
    written: dict[str, str] = {}
    for key in table:
        name = key.replace("_", "-")
        if name not in known:
            raise UsageError(f"{path}: {section} unknown key {key!r} (known: {', '.join(sorted(known))})")
        if name in written:
            raise UsageError(f"{path}: {section} {key}: given twice, as {written[name]!r} and {key!r}")
        written[name] = key
    return written
