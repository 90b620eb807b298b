"""The watcher's queue from watchdog's thread to the loop: one wake-up per batch, changes merged, order kept."""

import threading

from devserver.filters import PathFilter
from devserver.watcher import Watcher


class _Out:
    def warn(self, message):
        pass

    def debug(self, message):
        pass


def make_watcher():
    calls, posted = [], []
    watcher = Watcher(PathFilter(), lambda paths: calls.append(("change", paths)), _Out(),
                      lambda fn, *args: posted.append((fn, args)))
    return watcher, calls, posted


def drain(posted):
    while posted:
        fn, args = posted.pop(0)
        fn(*args)


def test_a_burst_wakes_the_loop_once_and_arrives_as_one_change():
    watcher, calls, posted = make_watcher()
    threads = [threading.Thread(target=lambda k=k: [watcher.queue_change([f"/p/m{k}_{i}.py"]) for i in range(500)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    watcher.queue_change(["/p/m0_0.py"])  # again: reported once
    assert len(posted) == 1
    drain(posted)
    assert len(calls) == 1 and len(calls[0][1]) == 2000 and len(set(calls[0][1])) == 2000


def test_other_work_splits_the_changes_and_keeps_its_place():
    watcher, calls, posted = make_watcher()
    watcher.queue_change(["/p/a.py"])
    watcher.queue(watcher._note_writing, "/p/a.py", True)  # starts nothing: does not split
    watcher.queue_change(["/p/b.py"])
    watcher.queue(lambda: calls.append(("other", None)))
    watcher.queue_change(["/p/c.py", "/p/a.py"])
    drain(posted)
    assert calls == [("change", ["/p/a.py", "/p/b.py"]), ("other", None), ("change", ["/p/c.py", "/p/a.py"])]
    assert watcher.open_for_writing(["/p/a.py"])


def test_work_queued_while_draining_gets_a_new_wake_up():
    watcher, calls, posted = make_watcher()
    watcher.queue(lambda: watcher.queue_change(["/p/late.py"]))
    drain(posted)
    assert calls == [("change", ["/p/late.py"])]
