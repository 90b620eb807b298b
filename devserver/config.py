"""What ``tdev run`` / ``tdev check`` were asked to do, after parsing and validation.

The defaults are those of the option table (:mod:`devserver.options`), which also
sets the fields from the command line and ``[tool.tdev]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from devserver.interpreter import Interpreter, own
from devserver.options import UsageError, default
from devserver.output import VERBOSE
from devserver.target import Target

__all__ = ["DEFAULT_HOST", "DEFAULT_MAX_OPEN_FILES", "DEFAULT_PORT", "CheckOptions", "RunConfig", "UsageError"]

DEFAULT_HOST: str = default("host")
DEFAULT_PORT: int = default("port")
DEFAULT_MAX_OPEN_FILES: int = default("max_open_files")  # Tornado's deployment guide: raise "Too many open files"


@dataclass
class CheckOptions:
    paths: list[str] = field(default_factory=lambda: default("paths"))
    expect: list[str] = field(default_factory=lambda: default("expect"))  # "200", "2xx"; empty: 2xx and 3xx
    timeout: float = default("timeout")
    json: bool = default("json")


@dataclass
class RunConfig:
    target: Target
    watch: list[str] = field(default_factory=lambda: default("watch"))  # absolute paths, files or directories
    include: list[str] = field(default_factory=lambda: default("include"))
    ignore: list[str] = field(default_factory=lambda: default("ignore"))
    poll: bool = default("poll")
    debounce_ms: int = default("debounce_ms")
    grace: float = default("grace")
    reload: bool = default("reload")
    livereload: bool = default("livereload")
    verbosity: int = default("verbosity")
    host: str = DEFAULT_HOST  # module:attr targets only
    port: int = DEFAULT_PORT
    debug: bool = default("debug")
    max_open_files: int = DEFAULT_MAX_OPEN_FILES
    python: str | None = default("python")  # --python / [tool.tdev] python: the interpreter asked for
    watch_reads: bool = default("watch_reads")  # the files the app reads count (an audit hook in the app)
    warm: bool = default("warm")  # warm restarts: a standby process with the app's libraries already imported
    config_file: str | None = None  # the pyproject.toml that contributed settings
    hints: list[str] = field(default_factory=list)  # lines about the command line to show before starting
    requested: set[str] = field(default_factory=set)  # the fields set on the command line or in [tool.tdev]
    interpreter: Interpreter = field(default_factory=own)  # what runs the app (chosen by the command line)

    def open_files_note_wanted(self) -> bool:
        """Say that the open-files limit fell short only when the user asked for one, or under -v."""
        return "max_open_files" in self.requested or self.verbosity >= VERBOSE
    check: CheckOptions = field(default_factory=CheckOptions)

    def project_trees(self) -> list[str]:
        """The project's own code, defined here only: the target's tree (the script's directory; the working
        directory for ``-m`` and ``module:attr`` targets) and each ``--watch`` directory.  A module whose
        file lies anywhere else — the standard library, site-packages, ``PYTHONPATH``, a ``.pth`` or
        editable install of another project, a zip archive — or in an installed-packages directory inside
        one of them, is a library: warm restarts import it ahead of time (``PathFilter.is_library``)."""
        trees = [self.target.project_root()]
        trees += [os.path.realpath(p) for p in self.watch if os.path.isdir(p)]
        return list(dict.fromkeys(trees))

    def child_options(self) -> dict[str, Any]:
        """What the app process needs to know besides the target (sent as JSON)."""
        if self.target.kind == "app":
            return {"app": {"host": self.host, "port": self.port, "debug": self.debug}}
        return {}
