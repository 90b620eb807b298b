"""Restarting from the keyboard: Enter, or ``rs`` Enter (as with nodemon), on a terminal only.

tdev and the app share the terminal.  Keys go to the app while it reads the
terminal (``input()``, ``pdb``, ``breakpoint()``, ``sys.stdin``: the app
process says when it starts and stops, see ``child/terminal.py``), and to tdev
otherwise.  Not on a terminal (an IDE console, CI, a pipe), or when tdev runs
in the background of a shell, tdev reads nothing at all.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

RESTART_WORDS = ("", "rs")


def terminal_is_ours(fd: int = 0) -> bool:
    """Standard input is a terminal, and tdev is in its foreground (a background job must not read it)."""
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


class Keyboard:
    def __init__(self, loop: asyncio.AbstractEventLoop, on_restart: Callable[[], None], fd: int = 0) -> None:
        self.loop = loop
        self.on_restart = on_restart
        self.fd = fd
        self.active = False  # tdev reads the terminal at all
        self._reading: set[object] = set()  # app processes reading the terminal now
        self._listening = False
        self._pending = b""

    def start(self) -> bool:
        """Read the terminal if it is tdev's; True if so."""
        self.active = terminal_is_ours(self.fd)
        self._update()
        return self.active

    def app_reading(self, session: object, reading: bool) -> None:
        """An app process starts or stops reading the terminal: keys are the app's meanwhile."""
        if reading:
            self._reading.add(session)
        else:
            self._reading.discard(session)
        self._update()

    def app_gone(self, session: object) -> None:
        self.app_reading(session, False)

    def stop(self) -> None:
        self.active = False
        self._update()

    def _update(self) -> None:
        listen = self.active and not self._reading
        if listen == self._listening:
            return
        self._listening = listen
        if listen:
            self.loop.add_reader(self.fd, self._on_readable)
        else:
            self.loop.remove_reader(self.fd)

    def _on_readable(self) -> None:
        if not terminal_is_ours(self.fd):  # put in the background meanwhile: leave the terminal alone
            self.stop()
            return
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        if not data:  # end of input (Ctrl-D), or the terminal is gone
            self.stop()
            return
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        if any(line.strip().decode("utf-8", "replace") in RESTART_WORDS for line in lines):
            self.on_restart()
