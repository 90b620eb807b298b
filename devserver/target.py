"""The app to run: a script path, ``-m module`` or ``module:attr``, validated without running user code."""

import importlib.machinery
import importlib.util
import os
import sys
from dataclasses import dataclass, field


class TargetError(Exception):
    """The target cannot be run; the message is one line for the user."""


@dataclass
class Target:
    kind: str  # "script", "module" or "app" (a ``module:attr`` Application or factory)
    value: str  # the script path as typed, the module name, or "module:attr"
    args: "list[str]" = field(default_factory=list)
    python: str = sys.executable  # the interpreter that runs it
    search_path: "list[str] | None" = None  # that interpreter's sys.path[1:], when it is not tdev's own

    @property
    def label(self) -> str:
        return f"-m {self.value}" if self.kind == "module" else self.value

    def script_path(self) -> "str | None":
        return os.path.realpath(self.value) if self.kind == "script" else None

    def project_root(self) -> str:
        """The tree whose ``*.py`` files are watched: the script's directory, else the cwd."""
        if self.kind == "script":
            return os.path.dirname(os.path.realpath(self.value))
        return os.path.realpath(os.getcwd())

    def python_argv(self) -> "list[str]":
        """What follows ``python [flags]`` to run this target plainly."""
        if self.kind == "script":
            # python reads a script named "-x.py" as an option unless "--" ends its options first.
            return ["--", self.value, *self.args] if self.value.startswith("-") else [self.value, *self.args]
        if self.kind == "module":
            return ["-m", self.value, *self.args]
        raise ValueError("a module:attr target has no plain python command line")

    def shown_argv(self) -> "list[str]":
        """What ``ps`` shows after ``python [flags]``: the plain command line, or ``module:attr ARGS``."""
        return [self.value, *self.args] if self.kind == "app" else self.python_argv()

    def validate(self) -> None:
        if self.kind == "script":
            _validate_script(self.value)
        elif self.kind == "module":
            _validate_module(self.value, search_path=self.search_path)
        else:
            _validate_module(self.value.partition(":")[0], what=self.value, search_path=self.search_path)


def _dotted(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def classify(text: str, args: "list[str] | None" = None) -> Target:
    """A target typed without ``-m``: a script path, or ``module:attr`` (an app object or factory)."""
    args = list(args or [])
    if os.path.exists(text) or ":" not in text:
        if os.path.isfile(f"{text}.py") and not os.path.exists(text):
            raise TargetError(f"no such file: {text} (did you mean {text}.py?)")
        if not os.path.exists(text) and _dotted(text) and not text.endswith(".py") and find_module(text):
            raise TargetError(
                f"no such file: {text} (to run module {text!r} use -m {text}; "
                f"for an Application object or factory use {text}:NAME)"
            )
        return Target("script", text, args)
    module, _, attr = text.partition(":")
    looks_like_file = module.endswith(".py") and (os.path.isfile(module) or not find_module(module))
    if _dotted(module) and _dotted(attr) and not looks_like_file:
        return Target("app", text, args)
    if looks_like_file and _dotted(attr):
        raise TargetError(f"{text}: put a module name before ':', not a file (e.g. {module_name_of(module)}:{attr})")
    raise TargetError(f"{text}: not a script, and not module:attr (e.g. app:make_app)")


def module_name_of(path: str) -> str:
    """The dotted name ``python -m`` would import ``path`` (a ``.py`` file) by, from the working directory:
    ``thumbor/server.py`` -> ``thumbor.server``; a file outside it, or in a directory that is no name,
    by its own name."""
    stem = os.path.splitext(path)[0]
    relative = os.path.relpath(os.path.abspath(stem))
    parts = relative.split(os.sep)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    dotted = ".".join(parts)
    return dotted if _dotted(dotted) else os.path.basename(stem)


def _directory_hint(path: str) -> str:
    """What the user may have meant by a directory: a script beside it or inside it, or ``-m``."""
    name = os.path.basename(os.path.normpath(path))
    for candidate in (f"{os.path.normpath(path)}.py", os.path.join(path, f"{name}.py")):
        if os.path.isfile(candidate):
            return f"did you mean {candidate}?"
    package = module_name_of(os.path.join(path, "__init__.py"))
    if os.path.isfile(os.path.join(path, "__main__.py")) and _dotted(package):
        return f"did you mean -m {package}?"
    return "give the .py file, or use -m for a package"


def _validate_script(path: str) -> None:
    if not path:
        raise TargetError("the script path is empty")
    if not os.path.exists(path):
        raise TargetError(f"no such file: {path}")
    if os.path.isdir(path):
        raise TargetError(f"{path} is a directory, not a script ({_directory_hint(path)})")
    if not os.access(path, os.R_OK):
        raise TargetError(f"cannot read {path}: permission denied")


def _validate_module(name: str, what: "str | None" = None, search_path: "list[str] | None" = None) -> None:
    if not name:
        raise TargetError("-m needs a module name")
    if not _dotted(name):
        raise TargetError(f"not a valid module name: {name!r}")
    if find_module(name, search_path) is None:
        prefix = f"{what}: " if what else ""
        raise TargetError(f"{prefix}no module named {name!r} (looked in the working directory and sys.path)")


def find_module(name: str, interpreter_path: "list[str] | None" = None):
    """Find ``name``'s spec the way ``python -m`` would, without executing any package code.

    ``interpreter_path``: the ``sys.path[1:]`` of the interpreter that runs the app, if not tdev's."""
    search_path = [os.getcwd(), *(sys.path[1:] if interpreter_path is None else interpreter_path)]
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
