"""Which paths count as changes: default ignores, include globs, explicit files.

Pure functions and one small class over absolute, normalised paths; no I/O.

Glob rules (one meaning whatever the watch backend): a pattern without ``/``
is matched against each path component (``*.log`` matches files, ``build``
matches a directory and everything below it); a pattern with ``/`` is matched
against the path relative to the watched tree (``*`` may cross ``/``).
"""

import fnmatch
import os
import re
import sys
import sysconfig

# Directories never worth watching: VCS, caches, virtualenvs, installed packages, JS deps, IDE state.
IGNORED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".pytype",
        ".tox", ".nox", ".eggs",
        ".venv", "venv", ".virtualenv", "virtualenv",
        "site-packages", "dist-packages",
        "node_modules", "bower_components",
        ".idea", ".vscode", ".DS_Store",
    }
)

# Editor temp / swap / backup / lock files, compiled files, OS droppings.
_IGNORED_FILE_RE = re.compile(
    r"""(
        \.py[cod]$            # compiled Python
      | \$py\.class$
      | \.sw[a-z]$            # vim swap: .x.swp .x.swo .x.swx ...
      | ^4913$                # vim's write probe
      | ~$                    # vim / emacs / many editors: backup
      | ^\.\#                 # emacs lock (dangling symlink)
      | ^\#.*\#$              # emacs auto-save
      | ___jb_(tmp|old|bak)___$  # JetBrains safe write
      | \.kate-swp$           # kate swap
      | \.goutputstream-      # gedit temp
      | ^\.DS_Store$ | ^Thumbs\.db$
      | ^flycheck_
      | \.(tmp|temp|bak|orig|rej)$
      | \.crswap$             # chrome / vscode web
    )""",
    re.VERBOSE,
)


def is_ignored_file_name(name: str) -> bool:
    return bool(_IGNORED_FILE_RE.search(name))


def is_ignored_dir_name(name: str) -> bool:
    return name in IGNORED_DIRS or name.endswith(".egg-info")


def site_dirs() -> "tuple[str, ...]":
    """Where third-party packages are installed (site-packages of the venv, the user, the base)."""
    dirs = set()
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.realpath(path))
    try:
        import site

        dirs.update(os.path.realpath(p) for p in site.getsitepackages())
        dirs.add(os.path.realpath(site.getusersitepackages()))
    except Exception:  # site may be reduced (-S, embedded interpreters)
        pass
    return tuple(sorted(dirs))


def own_dir() -> str:
    """tdev's own package: its files are imported by the app process, but are not the app."""
    return os.path.dirname(os.path.realpath(__file__))


def system_dirs() -> "tuple[str, ...]":
    """The interpreter's own library directories (stdlib, site-packages) and tdev's: not the project."""
    dirs = set(site_dirs())
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.realpath(path))
    dirs.add(os.path.realpath(os.path.join(sys.base_prefix, "lib")))
    dirs.add(own_dir())
    return tuple(sorted(dirs))


def file_on_disk(path: str) -> str:
    """The file that holds a module's code: ``path`` itself, or the zip archive it lies in (a module
    imported by ``zipimport`` has a path inside the archive, ``/x/lib.zip/pkg/mod.py``)."""
    if os.path.exists(path):
        return path
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent):
        if os.path.isfile(parent):
            return parent
        if os.path.isdir(parent):
            return path
        parent = os.path.dirname(parent)
    return path


INSTALLED_DIR_NAMES = ("site-packages", "dist-packages")
# What Python can import code from: source, bytecode and extension modules, and the archives zipimport reads.
_MODULE_SUFFIXES = (".py", ".pyc", ".pyw", ".so", ".pyd", ".zip", ".egg", ".whl")


def is_module_file(path: str) -> bool:
    """A file Python may import code from (not a config file, a template, ...)."""
    return path.endswith(_MODULE_SUFFIXES)


def is_under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def matches_glob(relpath: str, pattern: str) -> bool:
    """``pattern`` against a path relative to its tree (see the module docstring)."""
    if "/" in pattern:
        return fnmatch.fnmatchcase(relpath.replace(os.sep, "/"), pattern.strip("/"))
    return any(fnmatch.fnmatchcase(part, pattern) for part in relpath.split(os.sep))


class PathFilter:
    """Decides whether a changed path should restart the app.

    ``trees`` maps a directory watched recursively to the file globs that count
    in it (``("*.py", ...)`` for the project tree, ``("*",)`` for a ``--watch``
    directory).  ``files`` are single files that count wherever they are
    (imported modules, ``autoreload.watch`` files, ``--watch`` files); ignores
    never apply to them.  Never watched: the standard library and tdev's own
    package (``system`` minus ``site``, plus ``own``); installed third-party
    packages the app imports are watched, so editing or upgrading one restarts it.
    Never counted, wherever they are and however they came in: the files the app
    itself writes (``written``).
    """

    def __init__(self, ignore: "tuple[str, ...]" = (), system: "tuple[str, ...]" = (),
                 site: "tuple[str, ...]" = (), own: "tuple[str, ...]" = (),
                 project: "tuple[str, ...]" = ()) -> None:
        self.trees: dict[str, tuple[str, ...]] = {}
        self.files: set[str] = set()
        self.ignore = tuple(ignore)
        self.system = tuple(system)
        self.site = tuple(site)
        self.own = tuple(own)
        self.project = tuple(project)  # the project trees (``RunConfig.project_trees``); none: all is project
        self.ignored_dirs: set[str] = set()  # e.g. virtualenvs found by their pyvenv.cfg
        self.assets: dict[str, bool] = {}  # template/static dir -> read live by the app (no restart needed)
        self.written: set[str] = set()  # files the app opened for writing (logs, databases...): never a change
        self.read_live: set[str] = set()  # files the current app reads afresh while serving: no restart needed
        self.read_at_start: set[str] = set()  # files the current app read before it served: a change restarts

    def add_tree(self, root: str, patterns: "tuple[str, ...]") -> None:
        old = self.trees.get(root, ())
        self.trees[root] = tuple(dict.fromkeys(old + tuple(patterns)))

    def ignore_dir(self, path: str) -> None:
        """Never watch below ``path`` (e.g. a virtualenv found by its ``pyvenv.cfg``)."""
        self.ignored_dirs.add(path)

    def add_file(self, path: str) -> bool:
        """Add an explicit file; False when it is not worth watching (stdlib, site-packages, known)."""
        if path in self.files or path in self.written or self.is_system(path):
            return False
        self.files.add(path)
        return True

    def is_system(self, path: str) -> bool:
        """Never watched: the standard library and tdev itself (installed packages are watched)."""
        if any(is_under(path, d) for d in self.own):
            return True
        return any(is_under(path, d) for d in self.system) and not any(is_under(path, d) for d in self.site)

    def is_library(self, path: str) -> bool:
        """Not the project's code: a file outside every project tree (wherever it is: ``PYTHONPATH``, a
        ``.pth`` or editable install, a zip archive), or the standard library, installed packages or tdev
        (also when they lie inside a project tree, as a ``.venv`` does)."""
        if any(is_under(path, d) for d in self.system):
            return True
        if self.project and not any(is_under(path, d) for d in self.project):
            return True
        return any(part in INSTALLED_DIR_NAMES for part in path.split(os.sep))

    def add_assets(self, root: str, live: bool) -> None:
        """A template or static directory: every file in it counts; ``live`` ones need no restart."""
        self.add_tree(root, ("*",))
        self.assets[root] = live

    def is_live_asset(self, path: str) -> bool:
        """A change that needs no restart, only a browser reload: the app reads the file afresh.  A file
        it read at start-up never is; in a Tornado template / static directory, the app's settings say
        (a cached ``static_url`` hash would go stale); elsewhere, how the app reads it while serving."""
        if path in self.read_at_start:
            return False
        roots = [live for root, live in self.assets.items() if is_under(path, root)]
        if roots:
            return any(roots)
        return path in self.read_live

    def tree_of(self, path: str) -> "str | None":
        best = None
        for root in self.trees:
            if is_under(path, root) and (best is None or len(root) > len(best)):
                best = root
        return best

    def is_ignored(self, path: str, root: str, is_dir: bool = False) -> bool:
        """Ignored inside tree ``root``: default ignores and ``--ignore`` globs."""
        rel = os.path.relpath(path, root)
        if rel == ".":
            return False
        parts = rel.split(os.sep)
        dirs = parts if is_dir else parts[:-1]
        if any(is_ignored_dir_name(p) for p in dirs):
            return True
        if not is_dir and is_ignored_file_name(parts[-1]):
            return True
        if any(is_under(path, d) for d in self.ignored_dirs):
            return True
        return any(matches_glob(rel, pattern) for pattern in self.ignore)

    def is_ignored_dir(self, path: str) -> bool:
        """A directory that should not be walked or watched."""
        root = self.tree_of(path)
        if is_ignored_dir_name(os.path.basename(path)):
            return True
        return root is not None and self.is_ignored(path, root, is_dir=True)

    def matches(self, path: str, is_directory: bool = False) -> bool:
        """Does a change at ``path`` count?"""
        if path in self.written:
            return False
        if path in self.files:
            return True
        root = self.tree_of(path)
        if root is None or self.is_ignored(path, root, is_directory):
            return False
        if is_directory:
            # A directory deleted or moved may take watched files with it.
            return True
        name = os.path.basename(path)
        rel = os.path.relpath(path, root)
        return any(
            matches_glob(rel, p) if "/" in p else fnmatch.fnmatchcase(name, p)
            for p in self.trees[root]
        )
