"""The app to run: a script path or ``-m module``, validated without running user code."""

import importlib.machinery
import importlib.util
import os
import sys
from dataclasses import dataclass, field


class TargetError(Exception):
    """The target cannot be run; the message is one line for the user."""


@dataclass
class Target:
    kind: str  # "script" or "module"
    value: str  # the script path as typed, or the module name
    args: "list[str]" = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.value if self.kind == "script" else f"-m {self.value}"

    def script_path(self) -> "str | None":
        return os.path.realpath(self.value) if self.kind == "script" else None

    def project_root(self) -> str:
        """The tree whose ``*.py`` files are watched: the script's directory, or the cwd for ``-m``."""
        if self.kind == "script":
            return os.path.dirname(os.path.realpath(self.value))
        return os.path.realpath(os.getcwd())

    def python_argv(self) -> "list[str]":
        """What follows ``python [flags]`` to run this target plainly."""
        if self.kind == "script":
            return [self.value, *self.args]
        return ["-m", self.value, *self.args]

    def validate(self) -> None:
        if self.kind == "script":
            _validate_script(self.value)
        else:
            _validate_module(self.value)


def _validate_script(path: str) -> None:
    if not path:
        raise TargetError("the script path is empty")
    if not os.path.exists(path):
        raise TargetError(f"no such file: {path}")
    if os.path.isdir(path):
        raise TargetError(f"{path} is a directory, not a script (give the .py file, or use -m for a package)")
    if not os.access(path, os.R_OK):
        raise TargetError(f"cannot read {path}: permission denied")


def _validate_module(name: str) -> None:
    if not name:
        raise TargetError("-m needs a module name")
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        raise TargetError(f"not a valid module name: {name!r}")
    if find_module(name) is None:
        raise TargetError(f"no module named {name!r} (looked in the working directory and sys.path)")


def find_module(name: str):
    """Find ``name``'s spec the way ``python -m`` would, without executing any package code."""
    search_path = [os.getcwd(), *sys.path[1:]]
    top, *rest = name.split(".")
    saved = sys.path[:]
    sys.path[:] = search_path
    try:
        spec = importlib.util.find_spec(top) if top not in sys.modules else _path_spec(top, search_path)
    except (ImportError, ValueError):
        spec = None
    finally:
        sys.path[:] = saved
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(
            f"{spec.name}.{part}", list(spec.submodule_search_locations)
        )
    return spec


def _path_spec(name: str, search_path: "list[str]"):
    # Already imported here (e.g. ``devserver`` itself): look it up on the path instead.
    return importlib.machinery.PathFinder.find_spec(name, search_path) or importlib.util.find_spec(name)
