"""Which files ``tdev check`` compiles: regular ``*.py`` files only (a FIFO would block it forever)."""

import os
import socket

from devserver.check import python_files


def test_fifos_and_sockets_named_py_are_skipped(tmp_path):
    (tmp_path / "app.py").write_text("x = 1\n")
    os.mkfifo(tmp_path / "pipe.py")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock.py"))
        found = list(python_files([str(tmp_path)]))
        assert found == [str(tmp_path / "app.py")]
        assert list(python_files([str(tmp_path / "pipe.py")])) == []
    finally:
        server.close()


def test_a_symlink_to_a_regular_file_counts(tmp_path):
    (tmp_path / "real.txt").write_text("x = 1\n")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.py")
    assert list(python_files([str(tmp_path)])) == [str(tmp_path / "link.py")]


def test_a_syntax_error_in_a_file_named_with_a_newline_is_one_line(tmp_path, capsys):
    from devserver.check import CheckResult, SyntaxProblem, print_summary

    result = CheckResult(target="app.py", syntax_errors=[SyntaxProblem(str(tmp_path / "a\nb\x1b[2J.py"), 1, 2, "bad")])
    result.failure = "1 syntax error"
    print_summary(result, 1)
    out = capsys.readouterr().out
    assert "\x1b[2J" not in out and "a\\nb\\x1b[2J.py:1:2: bad" in out


def test_by_default_only_2xx_and_3xx_pass():
    from devserver.check import _expected

    assert [s for s in (100, 199, 200, 204, 301, 302, 399, 400, 404, 499, 500, 503) if _expected(s, [])] == [
        200, 204, 301, 302, 399]
    assert _expected(404, ["404"]) and _expected(201, ["2xx"]) and not _expected(302, ["2xx"])
