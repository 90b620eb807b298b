"""The code that runs after a restart is the code on disk, with bytecode writing on (the default).

CPython trusts a cached ``.pyc`` whose recorded source mtime (whole seconds) and size match: two saves
of the same size within one second would otherwise leave the app on the first one."""

import os

import pytest

from tests.conftest import wait_for_body, write


def same_second_same_size_save(path, text: str, like: os.stat_result) -> None:
    """Save ``text`` (as long as the previous content) and give it the previous save's mtime, as a
    second save within the same second would have (the test must not depend on the clock)."""
    write(path, text)
    os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns))


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "no-warm"])
def test_two_same_size_saves_in_one_second_serve_the_second(tdev, hello_app, port, warm):
    t = tdev(["run", *([] if warm else ["--no-warm"]), "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    version = hello_app / "version.py"
    write(version, 'VERSION = "save-aaa"\n')
    wait_for_body(port, "save-aaa")  # this version's bytecode is now cached
    first = os.stat(version)
    for text in ('VERSION = "save-bbb"\n', 'VERSION = "save-ccc"\n', 'VERSION = "save-ddd"\n'):
        same_second_same_size_save(version, text, first)
        wait_for_body(port, text.split('"')[1])
    assert (hello_app / "__pycache__").is_dir()  # bytecode writing stayed on
    assert t.proc.poll() is None
