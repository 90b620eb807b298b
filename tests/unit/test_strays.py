"""Strays: orphans below a subreaper are found and killed (run in a child interpreter: the subreaper
setting would otherwise stay on pytest's own process)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from devserver.strays import become_subreaper, children, kill_strays

    assert become_subreaper()
    # A double-forking daemon (setsid) and a helper in a session of its own, both left behind
    # by a parent that exits at once.
    parent = subprocess.Popen([sys.executable, "-c", '''
    import os, subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import time; time.sleep(60)
        os._exit(0)
    os._exit(0)
    '''])
    parent.wait()
    keep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    deadline = time.monotonic() + 10
    while len(children(os.getpid())) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    orphans = sorted(set(children(os.getpid())) - {keep.pid})
    killed = sorted(kill_strays({keep.pid}))
    print(json.dumps([orphans, killed, keep.poll() is None, children(os.getpid())]), flush=True)
    keep.kill()
    keep.wait()
    """
)


def test_orphans_are_reparented_killed_and_reaped():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    orphans, killed, keep_alive, left = json.loads(out.stdout)
    # The setsid daemon and the new-session helper came to us (and, at times, the zombie of the
    # intermediate process, when its parent exited before reaping it): all killed and reaped.
    assert len(orphans) >= 2, out.stdout
    assert set(orphans) <= set(killed)  # (another may have come to us meanwhile: killed too)
    assert keep_alive  # the process in ``keep`` is left alone
    assert not set(left) & set(killed)
    for pid in killed:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
