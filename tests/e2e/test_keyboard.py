"""Restarting from the keyboard, through a real pseudo-terminal: Enter and ``rs`` Enter restart the app;
while the app itself reads the terminal (``input()``), what is typed is the app's."""

import os
import pty

import pytest

from tests.conftest import wait_for_body, write

pytestmark = pytest.mark.e2e

APP = """
    import asyncio
    import os
    import sys
    import threading

    import tornado.web


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(f"up {os.getpid()}")


    def ask():
        answer = input("name? ")
        print(f"got: {answer}", flush=True)


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
        if os.path.exists("ask"):
            threading.Thread(target=ask, daemon=True).start()
        await asyncio.Event().wait()


    asyncio.run(main())
"""

KEYBOARD = r"restart asked for from the keyboard — restarting"


def served_pid(port, other_than=None):
    """The pid of the app that answers, once it is not ``other_than``."""
    while True:
        pid = int(wait_for_body(port, "up").split()[1])
        if pid != other_than:
            return pid


def test_enter_and_rs_restart_and_the_apps_own_input_is_the_apps(tdev, tmp_path, port):
    write(tmp_path / "app.py", APP)
    master, slave = pty.openpty()
    try:
        t = tdev(["run", "-v", "app.py", str(port)], cwd=tmp_path, terminal=slave)
        os.close(slave)
        first = served_pid(port)
        assert "(restarts on changes or Enter, Ctrl-C quits)" in t.wait_for(r"running app\.py")

        os.write(master, b"\n")
        second = served_pid(port, other_than=first)
        t.wait_for(KEYBOARD)
        os.write(master, b"rs\n")
        third = served_pid(port, other_than=second)
        t.wait_for(KEYBOARD, count=2)
        os.write(master, b"something else\n")  # not a restart

        # The next app reads the terminal itself: the line typed is its answer, not a restart.
        write(tmp_path / "ask", "")
        os.write(master, b"\n")
        served_pid(port, other_than=third)
        t.wait_for(r"the app reads the terminal: keys go to it")
        os.write(master, b"\n")  # an empty answer: Enter while the app reads is the app's
        t.wait_for(r"got: $", stream="out")  # after the prompt "name? " (same line)
        t.wait_for(r"the app no longer reads the terminal")
        assert t.count(KEYBOARD) == 3, t.err
        os.write(master, b"\n")  # and now tdev's again
        t.wait_for(KEYBOARD, count=4)
    finally:
        os.close(master)


def test_not_on_a_terminal_tdev_reads_nothing(tdev, hello_app, port):
    # standard input is /dev/null here (as in an IDE console, CI, a pipe)
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    assert "(restarts on changes, Ctrl-C quits)" in t.wait_for(r"running app\.py")
    assert os.readlink(f"/proc/{t.pid}/fd/0") == "/dev/null"
