"""Which Python runs the app: the project's, not necessarily tdev's own.

tdev installed once as a tool (``pipx``, ``uv tool``, ``uvx``) lives in an
environment of its own, without the project's dependencies.  The app runs with,
in order: ``--python PATH`` or ``python`` in ``[tool.tdev]``; the active
virtualenv (``VIRTUAL_ENV``); a ``.venv`` beside the nearest ``pyproject.toml``;
else tdev's own interpreter.  An interpreter other than tdev's own is asked
once, in a subprocess with the app's flags and environment, for its version and
where its standard library, installed packages and bytecode cache go: the
watcher and the bytecode clean-up must use those, not tdev's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from devserver.options import UsageError

OLDEST = (3, 9)  # what the app-process code of tdev runs on

# Runs under the candidate interpreter: Python 2 must get as far as printing its version.
_PROBE = """
import json, sys, sysconfig
paths = sysconfig.get_paths()
try:
    import site
    sites = list(site.getsitepackages()) + [site.getusersitepackages()]
except Exception:
    sites = []
sys.stdout.write(json.dumps({
    "version": list(sys.version_info[:3]),
    "stdlib": [paths.get(k) for k in ("stdlib", "platstdlib")],
    "site": [paths.get(k) for k in ("purelib", "platlib")] + sites,
    "base": sys.base_prefix if hasattr(sys, "base_prefix") else sys.prefix,
    "cache_tag": getattr(sys.implementation, "cache_tag", None) if hasattr(sys, "implementation") else None,
    "path": sys.path[1:],
}))
"""


@dataclass
class Interpreter:
    executable: str
    how: str  # why this one: "tdev's own", "VIRTUAL_ENV", ".venv beside pyproject.toml", "--python", ...
    version: tuple[int, ...] = tuple(sys.version_info[:3])
    stdlib: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    cache_tag: str | None = sys.implementation.cache_tag
    path: list[str] = field(default_factory=list)  # its sys.path after the first entry (the script's directory)

    @property
    def own(self) -> bool:
        return self.executable == sys.executable

    def describe(self) -> str:
        """For the banner: ``python 3.12.1 (.venv/bin/python, .venv beside pyproject.toml)``."""
        from devserver.output import display_path

        version = ".".join(str(part) for part in self.version)
        if self.own:
            return f"python {version} (tdev's own)"
        return f"python {version} ({display_path(self.executable)}, {self.how})"


def own() -> Interpreter:
    return Interpreter(sys.executable, "tdev's own")


def choose(explicit: str | None, how_explicit: str, environ: Mapping[str, str], start: str) -> Interpreter:
    """The interpreter for the app (see the module docstring); raises UsageError for one tdev cannot drive."""
    if explicit:
        return _probed(explicit, how_explicit, environ)
    candidates = []
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        candidates.append((venv, "VIRTUAL_ENV"))
    from devserver.projectfile import find_pyproject

    pyproject = find_pyproject(start)
    if pyproject:
        candidates.append((os.path.join(os.path.dirname(pyproject), ".venv"), ".venv beside pyproject.toml"))
    for prefix, how in candidates:
        executable = _venv_python(prefix)
        if executable is None:
            continue
        if _same_environment(prefix):
            return own()
        return _probed(executable, how, environ)
    return own()


def _venv_python(prefix: str) -> str | None:
    for name in ("python", "python3"):
        candidate = os.path.join(prefix, "Scripts" if os.name == "nt" else "bin", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _same_environment(prefix: str) -> bool:
    try:
        return os.path.samefile(prefix, sys.prefix)
    except OSError:
        return False


def _probed(executable: str, how: str, environ: Mapping[str, str]) -> Interpreter:
    """Ask ``executable`` what it is; a clear one-line error if it is not a Python tdev can drive."""
    if os.path.abspath(executable) == sys.executable:
        return own()
    from devserver.process import interpreter_flags

    what = f"{how} {executable}" if how.startswith("--") else f"{executable} ({how})"
    env = {key: value for key, value in environ.items() if key != "PYTHONSTARTUP"}
    try:
        done = subprocess.run([executable, *interpreter_flags(), "-c", _PROBE], env=env, capture_output=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UsageError(f"{what}: no such file") from None
    except PermissionError:
        raise UsageError(f"{what}: not executable") from None
    except OSError as exc:
        raise UsageError(f"{what}: cannot run it: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{what}: no answer within 30 s: is it a Python interpreter?") from None
    try:
        info = json.loads(done.stdout.decode("utf-8", "replace"))
        version = tuple(int(part) for part in info["version"])
    except (ValueError, KeyError, TypeError):
        info, version = None, ()
    if done.returncode != 0 or info is None:
        raise UsageError(f"{what} is not a Python interpreter tdev can run the app with (Python 3.9 or newer)")
    if version < OLDEST:
        shown = ".".join(str(part) for part in version)
        raise UsageError(f"{what} is Python {shown}: tdev runs apps on Python 3.9 or newer")
    return Interpreter(
        executable=os.path.abspath(executable),
        how=how,
        version=version,
        stdlib=_real([*info.get("stdlib", []), os.path.join(str(info.get("base", "")), "lib")]),
        site=_real(info.get("site", [])),
        cache_tag=info.get("cache_tag"),
        path=[p for p in info.get("path", []) if isinstance(p, str)],
    )


def _real(paths: list) -> tuple[str, ...]:
    return tuple(sorted({os.path.realpath(p) for p in paths if isinstance(p, str) and p}))
