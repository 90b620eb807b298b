"""Soak: 100 consecutive reloads with a long-poll and a WebSocket held open; the supervisor must not
leak descriptors, threads or memory, and must leave no zombie behind.

The app, the clients and the /proc measurements are those of ``scripts/soak.py`` (the same soak,
standalone, for many more reloads)."""

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for_body

_SOAK_PATH = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"
_spec = importlib.util.spec_from_file_location("tdev_soak_script", _SOAK_PATH)
soak = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = soak
_spec.loader.exec_module(soak)

RELOADS = 100
BASELINE_AT = 10

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_100_reloads_with_a_long_poll_and_a_websocket_open(tdev, tmp_path, port):
    soak.write_app(tmp_path, soak.Soak.version(0))
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path,
             env={"NO_COLOR": "1"})
    wait_for_body(port, soak.Soak.version(0), timeout=30)
    # A restart lets in-flight requests finish for up to 3 s: a long-poll that never ends would add
    # 3 s to every reload. The client gives up after 0.1 s (the script's default is
    # soak.LONGPOLL_TIMEOUT, 0.2 s) and asks again at once, so one is always open and each reload
    # waits for it at most that long.
    longpoll = soak.LongPollClient(port, timeout=0.1)
    ws = soak.WebSocketClient(port)
    longpoll.start()
    ws.start()
    try:
        assert ws.wait_version(soak.Soak.version(0), 10), "the WebSocket client never connected"
        run = soak.Soak(tmp_path, port, t.pid, ws)
        began = time.monotonic()
        for n in range(1, RELOADS + 1):
            # Each reload: the new version is served by GET / and greets the reconnected WebSocket.
            run.reload(n)
            assert t.proc.poll() is None, f"tdev exited after reload {n}:\n{t.err}"
            if n == BASELINE_AT:
                run.measure(n)
        total = time.monotonic() - began
        base, end = run.snapshots[BASELINE_AT], run.measure(RELOADS)
        leftover = soak.zombies(t.pid)
        times_ms = [x * 1000 for x in run.times]
        print(
            f"\n{RELOADS} reloads in {total:.1f} s: median {statistics.median(times_ms):.0f} ms, "
            f"p90 {soak.p90(times_ms):.0f} ms, max {max(times_ms):.0f} ms; "
            f"supervisor after reload {BASELINE_AT} {base}, after reload {RELOADS} {end}; "
            f"long-poll issued {longpoll.issued}, WebSocket connects {ws.connects}"
        )
    finally:
        longpoll.stop()
        ws.stop()

    assert len(run.times) == RELOADS
    assert abs(end["fds"] - base["fds"]) <= soak.FD_SLACK, (base, end)  # 2
    assert abs(end["threads"] - base["threads"]) <= soak.THREAD_SLACK, (base, end)  # 2
    assert end["rss_kib"] - base["rss_kib"] <= soak.RSS_SLACK_KIB, (base, end)  # 10 MiB
    assert leftover == [], f"zombie children of tdev: {leftover}"
    # The clients really held their connections across the restarts.
    assert ws.connects >= RELOADS + 1, ws.connects  # one greeting per app: checked on every reload
    assert longpoll.issued >= RELOADS // 2, longpoll.issued
    assert longpoll.errors == 0 and longpoll.answered == 0, (longpoll.errors, longpoll.answered)
    # tdev holds the port across restarts: no GET / was refused or reset on the way.
    assert run.failed.errors == [], run.failed.errors
    assert t.count(r"changed — restarting") == RELOADS, t.err
    assert "Traceback" not in t.err and "did not stop" not in t.err, t.err
