"""An app that fails without a Python traceback (a CLI framework prints ``Error: ...`` and exits 1): the error
page and tdev's terminal line show its last lines of output, bounded.  A healthy app's output is untouched."""

import html
import os
import signal
import subprocess
import textwrap
import time

from tests.conftest import TDEV, http_request, wait_for_body, wait_for_response, wait_until, write

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CURL = {"Accept": "*/*", "User-Agent": "curl/8.5.0"}

APP = """
    import asyncio
    import sys

    import tornado.web


    class Page(tornado.web.RequestHandler):
        def get(self):
            self.write("VERSION")


    async def main():
        tornado.web.Application([(r"/.*", Page)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def app(version: str, before_serving: str = "") -> str:
    """The app serving ``version``, running ``before_serving`` (module-level code) first."""
    body = textwrap.dedent(APP).replace("VERSION", version)
    return body.replace("\n\nclass Page", "\n" + textwrap.dedent(before_serving) + "\n\nclass Page")


def is_error_page(status, headers, body) -> bool:
    return "x-tdev" in headers


def serving_then_broken(tdev, tmp_path, port, before_serving: str):
    """tdev serving the app, which then fails at start-up (with ``before_serving``); returns tdev."""
    write(tmp_path / "app.py", app("v1"))
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    write(tmp_path / "app.py", app("v1", before_serving))
    return t


PREFIX = "[tdev]   last output: "  # and the lines after the first, aligned with it
MORE = "[tdev]" + " " * (len(PREFIX) - len("[tdev]"))


def crash_report(t, code: int, lines: int) -> "list[str]":
    """The app's last output as tdev showed it under "app exited with code N" (once ``lines`` lines are there)."""
    t.wait_for(rf"\[tdev\] app exited with code {code} — waiting for changes before restarting$")

    def report():
        after = t.err.splitlines()
        after = after[max(i for i, line in enumerate(after) if f"app exited with code {code}" in line) + 1:]
        shown = []
        for line in after:
            if not line.startswith(PREFIX if not shown else MORE):
                break
            shown.append(line[len(PREFIX):])
        return shown if len(shown) >= lines else None

    if lines == 0:
        time.sleep(0.3)  # the error page is up (checked before): tdev printed what it had to print
        return report() or []
    return wait_until(report, timeout=5, message=f"{lines} lines of last output")


def test_an_app_that_prints_an_error_and_exits_shows_the_error_on_the_page_and_in_the_terminal(tdev, tmp_path, port):
    t = serving_then_broken(tdev, tmp_path, port, """
        print("loading plugins")
        print("Error: plugin 'x' failed to load: <no module named x>", file=sys.stderr)
        sys.exit(1)
    """)
    assert crash_report(t, 1, 2) == ["loading plugins", "Error: plugin 'x' failed to load: <no module named x>"], t.err
    assert f"{PREFIX}loading plugins\n{MORE}Error: plugin 'x' failed to load" in t.err, t.err
    # The browser's page: the exit code, then the last output, escaped.
    status, headers, body = wait_for_response(is_error_page, port, "/", BROWSER, what="the error page")
    assert status == 500 and headers.get("content-type", "").startswith("text/html"), headers
    assert "<no module named x>" not in body, body
    assert "Error: plugin &#x27;x&#x27; failed to load: &lt;no module named x&gt;" in body, body
    text = html.unescape(body)
    assert "The app exited with code 1." in text, text
    assert text.index("loading plugins") < text.index("Error: plugin 'x' failed to load"), text
    # curl's: the same as text.
    status, headers, body = http_request(port, "/", CURL)
    assert status == 500 and headers.get("content-type", "").startswith("text/plain"), headers
    assert "The app exited with code 1." in body, body
    assert "    loading plugins\n    Error: plugin 'x' failed to load: <no module named x>\n" in body, body
    # The fix: the app serves again, and a later failure shows its own output, not this one's.
    write(tmp_path / "app.py", app("v2"))
    wait_for_body(port, "v2")
    write(tmp_path / "app.py", app("v2", "sys.exit(4)"))
    status, headers, body = wait_for_response(
        lambda s, h, b: "code 4" in b, port, "/", CURL, what="the second error page")
    assert "failed to load" not in body and "last output" not in body.lower(), body
    assert crash_report(t, 4, 0) == [], t.err


def test_an_app_that_logs_an_error_and_exits_shows_the_log_line(tdev, tmp_path, port):
    t = serving_then_broken(tdev, tmp_path, port, """
        import logging

        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("worker").error("cannot connect to amqp://broker:5672: Connection refused")
        sys.exit(2)
    """)
    line = "ERROR worker: cannot connect to amqp://broker:5672: Connection refused"
    status, headers, body = wait_for_response(is_error_page, port, "/", CURL, what="the error page")
    assert crash_report(t, 2, 1) == [line], t.err
    assert "The app exited with code 2." in body and f"    {line}\n" in body, body
    write(tmp_path / "app.py", app("fixed"))
    wait_for_body(port, "fixed")


def test_a_traceback_stays_the_cause_shown_not_the_output(tdev, tmp_path, port):
    t = serving_then_broken(tdev, tmp_path, port, """
        print("about to fail")
        raise RuntimeError("settings are broken")
    """)
    status, headers, body = wait_for_response(is_error_page, port, "/", CURL, what="the error page")
    assert crash_report(t, 1, 0) == [], t.err
    assert "RuntimeError: settings are broken" in body and "Traceback" in body, body
    assert "about to fail" not in body and "last output" not in body.lower(), body


def test_only_the_bounded_tail_of_a_long_output_is_shown(tdev, tmp_path, port):
    t = serving_then_broken(tdev, tmp_path, port, """
        for n in range(10000):
            print(f"line {n}")
        print("Error: " + "x" * 5000)
        sys.exit("fatal: giving up")  # printed by the interpreter on the way out
    """)
    report = crash_report(t, 1, 3)
    assert report == ["line 9999", "Error: " + "x" * 153 + "…", "fatal: giving up"], report
    status, headers, body = wait_for_response(is_error_page, port, "/", CURL, what="the error page")
    shown = [line.strip() for line in body.split("Its last output:\n", 1)[1].split("\n\n", 1)[0].splitlines()]
    assert shown[-3:] == ["line 9999", "Error: " + "x" * 293 + "…", "fatal: giving up"], shown
    assert 3 <= len(shown) <= 20 and shown[:-2] == [f"line {n}" for n in range(10002 - len(shown), 10000)], shown
    assert len(body) < 8000, len(body)
    write(tmp_path / "app.py", app("v2"))
    wait_for_body(port, "v2")


HEALTHY = """
    import io
    import logging
    import sys

    print("plain line")
    print("unicode: ünïcødé ✓ — 日本語")
    print("colour: \\x1b[31mred\\x1b[0m, tab:\\tend, carriage\\rreturn")
    sys.stdout.write("partial ")
    sys.stdout.write("line\\n")
    sys.stdout.writelines(["a\\n", "b\\n"])
    sys.stdout.flush()
    sys.stdout.buffer.write(b"raw bytes \\xff\\xfe\\n")
    sys.stdout.buffer.flush()
    print("x" * 100000)
    print(sys.stdout.fileno(), sys.stderr.fileno(), isinstance(sys.stdout, io.TextIOWrapper),
          sys.stdout.isatty(), sys.stdout.encoding, sys.stdout is sys.__stdout__)
    logging.basicConfig(stream=sys.stdout, format="%(levelname)s:%(message)s")  # WARNING and up
    logging.warning("logged")
    print("no newline at the end", end="")
    sys.stdout.flush()
"""

EXPECTED = (
    "plain line\n"
    "unicode: ünïcødé ✓ — 日本語\n"
    "colour: \x1b[31mred\x1b[0m, tab:\tend, carriage\rreturn\n"
    "partial line\n"
    "a\nb\n"
).encode() + b"raw bytes \xff\xfe\n" + (
    "x" * 100000 + "\n"
    "1 2 True False utf-8 True\n"
    "WARNING:logged\n"
    "no newline at the end"
).encode()


def test_a_healthy_apps_output_is_passed_through_byte_for_byte(tmp_path, port):
    write(tmp_path / "app.py", textwrap.dedent(HEALTHY) + textwrap.dedent(APP).replace("VERSION", "v1"))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "PYTHONIOENCODING")}
    env["PYTHONUTF8"] = "1"
    out_path = tmp_path.parent / f"{tmp_path.name}.stdout"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([*TDEV, "run", "app.py", str(port)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for_body(port, "v1")
        wait_until(lambda: out_path.read_bytes().endswith(b"the end"), message="the app's last write")
        assert out_path.read_bytes() == EXPECTED
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert out_path.read_bytes() == EXPECTED  # tdev's own lines go to stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        proc.stderr.close()


def test_check_shows_the_last_output_of_an_app_that_exits_without_a_traceback(tmp_path, port):
    # tdev check in a commit hook or CI (--json: the app's output goes to stderr, often not kept):
    # the failure says why, in the summary and in the JSON.
    write(tmp_path / "app.py", app("v1", """
        print("loading plugins", flush=True)
        print("Error: plugin 'x' failed to load", file=sys.stderr)
        sys.exit(1)
    """))
    proc = subprocess.run([*TDEV, "check", "app.py", "--", str(port)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout.splitlines()
    failed = next(i for i, line in enumerate(summary) if line.startswith("tdev check failed:"))
    assert summary[failed + 1:failed + 3] == [
        "  last output: loading plugins",
        "               Error: plugin 'x' failed to load",
    ], proc.stdout
    as_json = subprocess.run([*TDEV, "check", "--json", "app.py", "--", str(port)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    import json

    result = json.loads(as_json.stdout)
    assert result["ok"] is False and result["app_output"][-1] == "Error: plugin 'x' failed to load"
