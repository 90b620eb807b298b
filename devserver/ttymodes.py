"""The terminal's modes (echo, line editing) as tdev found them, put back when an app leaves them changed.

An app stopped or killed while it had the terminal in another mode (pdb's
prompt under readline, a curses screen, ``getpass``) would leave the user's
shell with echo off.  tdev saves the modes at start and, after each app
process ends, restores them if they differ.  Only when standard input is a
terminal and tdev is in its foreground (a background job that touches the
terminal is stopped by the kernel with SIGTTOU).
"""

from __future__ import annotations

import os
import sys

try:
    import termios
except ImportError:  # not POSIX
    termios = None  # type: ignore[assignment]


class TerminalModes:
    def __init__(self, stream=None) -> None:
        self.fd: int | None = None
        self.saved: list | None = None
        stream = sys.stdin if stream is None else stream
        if termios is None or stream is None:
            return
        try:
            fd = stream.fileno()
            if os.isatty(fd) and self._foreground(fd):
                self.saved = termios.tcgetattr(fd)
                self.fd = fd
        except (OSError, ValueError, termios.error):
            pass

    @staticmethod
    def _foreground(fd: int) -> bool:
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            return False

    def restore(self) -> bool:
        """Put the saved modes back if they changed; True if they had."""
        if self.fd is None or self.saved is None or termios is None or not self._foreground(self.fd):
            return False
        try:
            if termios.tcgetattr(self.fd) == self.saved:
                return False
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            return True
        except (OSError, termios.error):
            return False
