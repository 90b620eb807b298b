"""The watch set in a few words for ``-v``: files grouped by installed package or by directory, with counts.

An app that imports Celery reports some 400 files, most of them in site-packages:
one line per file buries what matters.  ``tornado 98, celery 150, web/ 5`` does not.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from devserver.output import display_path

_INSTALLED = ("site-packages", "dist-packages")
GROUPS_SHOWN = 12  # per line; the rest are counted together


def group_of(path: str) -> str:
    """An installed package's name (``tornado``, ``six``), else the file's directory as shown to the user."""
    parts = path.split(os.sep)
    for i, part in enumerate(parts[:-1]):
        if part in _INSTALLED:
            top = parts[i + 1]
            return top[:-3] if top.endswith(".py") else top
    directory = display_path(os.path.dirname(path))
    return "./" if directory in (".", "") else directory.rstrip(os.sep) + "/"


def grouped(paths: Iterable[str]) -> str:
    """``tornado 98, celery 150, web/ 5, ...``: the biggest groups first, the rest counted together."""
    counts = Counter(group_of(path) for path in paths)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = [f"{name} {count}" for name, count in ranked[:GROUPS_SHOWN]]
    rest = ranked[GROUPS_SHOWN:]
    if rest:
        shown.append(f"{len(rest)} more ({sum(count for _name, count in rest)} files)")
    return ", ".join(shown)


LISTED = 3  # up to this many files are named one by one


def describe(paths: Iterable[str], what: str = "watching") -> str:
    """One line: ``watching 40 files: tornado 38, web/ 2`` (up to 3 files by their paths)."""
    paths = sorted(paths)
    if len(paths) <= LISTED:
        return f"{what} {', '.join(display_path(path) for path in paths)}"
    return f"{what} {len(paths)} files: {grouped(paths)}"
