"""tdev's own lines: ``[tdev] ...`` on stderr, coloured only for a terminal.

``NO_COLOR`` (any non-empty value) turns colour off, ``FORCE_COLOR`` (any value
but ``0``/``false``) forces it on; otherwise colour follows ``isatty()``.
"""

import os
import re
import sys

QUIET, NORMAL, VERBOSE = 0, 1, 2

# C0 and C1 control characters: a file name with a newline or an escape sequence must not split
# tdev's one-line messages or reach the terminal as a command.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\n``, ``\\x1b``), on one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


# Terminal escape sequences (colours, cursor moves): CSI ... final byte, and OSC ... BEL / ST.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def plain(text: str) -> str:
    """A line the app printed, as text: its colours dropped, tabs as spaces, other control characters escaped."""
    return printable(_ESCAPES.sub("", text).expandtabs(4))


def display_path(path: str) -> str:
    """Relative to the working directory when below it, else absolute (also when the working
    directory itself was removed)."""
    try:
        rel = os.path.relpath(path)
    except (ValueError, OSError):  # another drive; or the cwd no longer exists
        return path
    return path if rel.startswith("..") else rel


def use_colour(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force is not None and force.lower() not in ("0", "false", "no"):
        return True
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Output:
    def __init__(self, verbosity: int = NORMAL, stream=None) -> None:
        self.verbosity = verbosity
        self.stream = stream if stream is not None else sys.stderr  # None: stderr closed (2>&-)
        self.colour = use_colour(self.stream)
        self._styles = {}
        if self.colour:
            import colorama

            if os.name == "nt":
                colorama.just_fix_windows_console()
            fore, style = colorama.Fore, colorama.Style
            self._styles = {
                "prefix": style.DIM,
                "info": "",
                "ok": fore.GREEN,
                "change": fore.YELLOW,
                "warn": fore.YELLOW + style.BRIGHT,
                "error": fore.RED + style.BRIGHT,
                "debug": style.DIM,
                "reset": style.RESET_ALL,
            }

    def _write(self, kind: str, message: str) -> None:
        if self.stream is None:
            return  # nowhere to write: dropped
        message = printable(message)
        if self.colour:
            s = self._styles
            line = f"{s['prefix']}[tdev]{s['reset']} {s[kind]}{message}{s['reset']}"
        else:
            line = f"[tdev] {message}"
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not kill the supervisor
            pass

    def info(self, message: str) -> None:
        if self.verbosity >= NORMAL:
            self._write("info", message)

    def ok(self, message: str) -> None:
        if self.verbosity >= NORMAL:
            self._write("ok", message)

    def change(self, message: str) -> None:
        if self.verbosity >= NORMAL:
            self._write("change", message)

    def warn(self, message: str) -> None:
        self._write("warn", message)

    def error(self, message: str) -> None:
        self._write("error", message)

    def detail(self, message: str) -> None:
        """More about the error just reported (shown as errors are, at every verbosity)."""
        self._write("info", message)

    def debug(self, message: str) -> None:
        if self.verbosity >= VERBOSE:
            self._write("debug", message)
