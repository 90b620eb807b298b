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
# After the app's read returns, the keys stay the app's this long: a debugger reads again at once, and
# what was typed ahead for it (a pasted list of commands, Enter to repeat the last one) stays its own.
HANDBACK_DELAY = 0.5


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
        self._handback: asyncio.TimerHandle | None = None  # keys come back to tdev when it fires

    def start(self) -> bool:
        """Read the terminal if it is tdev's; True if so."""
        self.active = terminal_is_ours(self.fd)
        self._update()
        return self.active

    def app_reading(self, session: object, reading: bool) -> None:
        """An app process starts or stops reading the terminal: keys are the app's meanwhile."""
        if self._handback is not None:
            self._handback.cancel()
            self._handback = None
        if reading:
            self._reading.add(session)
            self._update()
        elif session in self._reading:
            self._reading.discard(session)
            self._handback = self.loop.call_later(HANDBACK_DELAY, self._hand_back)

    def app_gone(self, session: object) -> None:
        """An app process exited: whatever it was reading, the keys are tdev's again at once."""
        self._reading.discard(session)
        self._update()

    def _hand_back(self) -> None:
        self._handback = None
        self._update()

    def stop(self) -> None:
        self.active = False
        if self._handback is not None:
            self._handback.cancel()
            self._handback = None
        self._update()

    def _update(self) -> None:
        listen = self.active and not self._reading and self._handback is None
        if listen == self._listening:
            return
        self._listening = listen
        if listen:
            self.loop.add_reader(self.fd, self._on_readable)
        else:
            self.loop.remove_reader(self.fd)

    def _on_readable(self) -> None:
        if os.isatty(self.fd) and not terminal_is_ours(self.fd):  # put in the background meanwhile
            self.stop()  # leave the terminal alone
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
