"""The app's last lines of output: the ring that keeps them, the stream proxy that feeds it, how they are shown."""

import html
import io
import os
import socket
import weakref

from devserver import channel as msg
from devserver.channel import Channel
from devserver.child import tail
from devserver.child.tail import MAX_LINE, MAX_LINES, MAX_WRITE, Tail, TeeStream
from devserver.errorpage import AppError
from devserver.output import plain
from devserver.reports import AppReports


def kept(*writes: str) -> "list[str]":
    ring = Tail()
    for text in writes:
        ring.keep(text)
    return ring.lines()


# -- the ring -----------------------------------------------------------------------------------------


def test_lines_are_assembled_from_the_writes_in_order():
    lines = kept("loading", " plugins\n", "Error: ", "plugin 'x' failed\n")
    assert lines == ["loading plugins", "Error: plugin 'x' failed"]


def test_a_last_line_without_a_newline_counts_and_trailing_blank_lines_do_not():
    assert kept("a\n", "b") == ["a", "b"]
    assert kept("a\n", "Error: x\n", "\n", "   \n") == ["a", "Error: x"]
    assert kept() == [] and kept("\n\n") == []


def test_only_the_last_lines_are_kept_and_never_a_partial_first_one():
    ring = Tail()
    for n in range(10000):
        ring.keep(f"line {n}")
        ring.keep("\n")
    assert ring.lines() == [f"line {n}" for n in range(10000 - MAX_LINES, 10000)]
    ring = Tail()
    ring.keep("".join(f"entry {n}\n" for n in range(100000)))  # one huge write: its end
    assert ring.lines() == [f"entry {n}" for n in range(100000 - MAX_LINES, 100000)]
    ring = Tail()
    ring.keep("x" * (MAX_WRITE * 2))  # one line longer than what a write keeps: its end, cut
    assert ring.lines() == ["x" * MAX_LINE + "…"]


def test_long_lines_are_cut_keeping_their_start():
    assert kept("Error: " + "y" * 5000 + "\n") == ["Error: " + "y" * (MAX_LINE - 7) + "…"]


def test_each_write_keeps_a_bounded_amount():
    ring = Tail()
    ring.keep("z" * 10 * MAX_WRITE)
    assert len(ring.chunks[0]) == MAX_WRITE


# -- the proxy -----------------------------------------------------------------------------------------


def stream_and_proxy():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", newline="\n", write_through=True)
    ring = Tail()
    return raw, stream, TeeStream(stream, ring), ring


def test_writes_pass_through_unchanged_and_are_kept():
    raw, stream, proxy, ring = stream_and_proxy()
    assert proxy.write("héllo\n") == 6
    print("Error:", "x", file=proxy)
    proxy.writelines(["a\n", "b"])
    proxy.flush()
    assert raw.getvalue() == "héllo\nError: x\na\nb".encode()
    assert ring.lines() == ["héllo", "Error: x", "a", "b"]


def test_bytes_and_other_errors_come_from_the_stream_and_nothing_is_kept():
    raw, stream, proxy, ring = stream_and_proxy()
    for wrong in (b"bytes", None, 3):
        try:
            proxy.write(wrong)
        except TypeError:
            pass
        else:
            raise AssertionError(f"{wrong!r} was accepted")
    assert list(ring.chunks) == [] and raw.getvalue() == b""


def test_the_proxy_looks_like_the_stream():
    raw, stream, proxy, ring = stream_and_proxy()
    assert isinstance(proxy, io.TextIOWrapper) and isinstance(proxy, io.TextIOBase)
    assert proxy.encoding == "utf-8" and proxy.buffer is stream.buffer is raw
    assert proxy.isatty() is False and proxy.writable() and proxy.closed is False
    assert repr(proxy) == repr(stream)
    proxy.reconfigure(line_buffering=True)
    assert stream.line_buffering is True and proxy.line_buffering is True
    proxy.custom = "set on the stream"  # attributes are the stream's
    assert stream.custom == "set on the stream"  # type: ignore[attr-defined]
    del proxy.custom
    assert not hasattr(stream, "custom")
    assert weakref.ref(proxy)() is proxy  # click caches streams in a WeakKeyDictionary
    with proxy as entered:
        assert entered is proxy
    assert stream.closed and proxy.closed


def test_a_proxy_made_without_its_stream_fails_plainly():
    empty = TeeStream.__new__(TeeStream)
    try:
        empty.fileno()
    except AttributeError:
        pass
    else:
        raise AssertionError("a proxy without a stream answered")


def test_a_real_descriptor_is_the_same_descriptor():
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8", closefd=True)
    proxy = TeeStream(stream, Tail())
    try:
        assert proxy.fileno() == write_end and proxy.isatty() is False
        proxy.write("through\n")
        proxy.flush()
        assert os.read(read_end, 100) == b"through\n"
    finally:
        stream.close()
        os.close(read_end)


# -- sent at exit ------------------------------------------------------------------------------------------


def test_the_lines_are_sent_unless_tdev_stopped_the_app_or_this_is_a_forked_process():
    ours, theirs = socket.socketpair()
    sender, receiver = Channel(ours), Channel(theirs)
    ring = Tail()
    ring.keep("Error: plugin 'x' failed to load\n")
    try:
        tail._owner = os.getpid() + 1  # a forked process (not a forked standby, which adopts): nothing
        tail._send(sender, ring, lambda: False)
        tail.adopt()
        tail._send(sender, ring, lambda: True)  # stopped by tdev: nothing
        tail._send(sender, Tail(), lambda: False)  # nothing printed: nothing
        tail._send(sender, ring, lambda: False)
        theirs.settimeout(5)
        assert receiver.receive() == [{"t": msg.OUTPUT, "lines": ["Error: plugin 'x' failed to load"]}]
    finally:
        sender.close()
        receiver.close()


# -- shown by the supervisor -------------------------------------------------------------------------------


class Session:
    pass


def test_the_supervisor_keeps_the_lines_of_the_app_that_sent_them_bounded_and_plain():
    reports = AppReports(None, None, None, None)  # type: ignore[arg-type]  # output needs none of them
    app, standby = Session(), Session()
    reports.handlers()[msg.OUTPUT](app, {"t": msg.OUTPUT, "lines": [
        *(f"l{n}" for n in range(50)), "\x1b[31mError:\x1b[0m bad\tthing\x07", 3, "z" * 1000]})
    lines = reports.output_of(app)  # type: ignore[arg-type]
    assert len(lines) == 20 and lines[-2] == "Error: bad  thing\\x07" and len(lines[-1]) <= 400, lines
    assert reports.output_of(standby) == []  # type: ignore[arg-type]
    reports.handlers()[msg.OUTPUT](app, {"t": msg.OUTPUT, "lines": "not a list"})
    assert reports.output_of(app) == []  # type: ignore[arg-type]
    reports.new_app()
    assert reports.output_of(app) == []  # type: ignore[arg-type]


def test_plain_drops_colours_and_escapes_other_control_characters():
    assert plain("\x1b[1;31mError:\x1b[0m x") == "Error: x"
    assert plain("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert plain("a\tb\rc\x00") == "a   b\\rc\\x00"


def test_the_error_page_shows_the_last_output_escaped_as_html_and_as_text():
    error = AppError("The app exited with code 1.", output=["starting", "Error: <plugin> 'x' & failed"])
    text = error.as_text()
    assert "The app exited with code 1.\n\nIts last output:\n    starting\n    Error: <plugin> 'x' & failed\n" in text
    page = error.as_html()
    assert "<plugin>" not in page
    assert html.escape("starting\nError: <plugin> 'x' & failed") in page
    plain_error = AppError("The app exited with code 3.")
    assert "last output" not in plain_error.as_text().lower() and "last output" not in plain_error.as_html().lower()
