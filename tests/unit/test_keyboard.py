"""The keyboard's rule, on a real event loop and a pipe standing in for the terminal."""

import asyncio
import os

from devserver.keyboard import HANDBACK_DELAY, Keyboard, terminal_is_ours


def run_for(loop, seconds):
    loop.run_until_complete(asyncio.sleep(seconds))


def test_enter_and_rs_restart_and_keys_are_the_apps_while_it_reads():
    loop = asyncio.new_event_loop()
    read_end, write_end = os.pipe()
    restarts = []
    keyboard = Keyboard(loop, lambda: restarts.append(1), fd=read_end)
    keyboard.active = True  # start() asks for a terminal in the foreground; a pipe is neither
    try:
        keyboard._update()
        for typed, expected in ((b"\n", 1), (b"rs\n", 2), (b"hello\n", 2), (b"r", 2), (b"s\n", 3)):
            os.write(write_end, typed)
            run_for(loop, 0.05)
            assert len(restarts) == expected, typed
        app = object()
        keyboard.app_reading(app, True)
        os.write(write_end, b"\n")  # the app's (it would read it): tdev leaves it alone
        run_for(loop, 0.05)
        keyboard.app_reading(app, False)
        run_for(loop, HANDBACK_DELAY / 2)
        assert len(restarts) == 3  # still the app's: a debugger reads again at once
        keyboard.app_reading(app, True)
        keyboard.app_reading(app, False)
        run_for(loop, HANDBACK_DELAY + 0.1)
        assert len(restarts) == 4  # handed back: the Enter left unread is tdev's now
        keyboard.app_reading(app, True)
        keyboard.app_gone(app)  # an app that exits while reading gives the keys back at once
        os.write(write_end, b"\n")
        run_for(loop, 0.05)
        assert len(restarts) == 5
        os.close(write_end)  # end of input: tdev stops reading
        run_for(loop, 0.05)
        assert not keyboard._listening
    finally:
        keyboard.stop()
        loop.close()
        os.close(read_end)


def test_not_a_terminal_is_not_read():
    read_end, write_end = os.pipe()
    try:
        assert not terminal_is_ours(read_end)
        loop = asyncio.new_event_loop()
        keyboard = Keyboard(loop, lambda: None, fd=read_end)
        assert keyboard.start() is False and not keyboard._listening
        loop.close()
    finally:
        os.close(read_end)
        os.close(write_end)
