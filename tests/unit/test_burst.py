"""When a burst of changes is over (burst.Burst), on a fake clock, with fake files and writers."""

from devserver.burst import REFRESH_AFTER_EVENTS, UNCLOSED_WAIT, VANISHED_WAIT, Burst, describe_changes


class Writers:
    def __init__(self, open_paths=()):
        self.open = set(open_paths)
        self.forgotten = False

    def open_for_writing(self, paths):
        return any(p in self.open for p in paths)

    def forget_open_writers(self):
        self.forgotten = True
        self.open.clear()


def make(existing=("/p/app.py",), watched=("/p/app.py",)):
    existing = set(existing)
    return Burst(0.05, lambda p: p in watched, exists=lambda p: p in existing), existing


def test_over_once_quiet():
    burst, _ = make()
    burst.record(["/p/app.py"], 10.0)
    assert not burst.over(10.01, Writers())
    assert burst.over(10.0 + 0.2, Writers())
    assert burst.take() == (["/p/app.py"], False)
    assert burst.deadline() is None and burst.changed == []


def test_paths_are_recorded_once_in_order():
    burst, _ = make()
    burst.record(["/p/b.py", "/p/a.py"], 1.0)
    burst.record(["/p/a.py", "/p/c.py"], 1.01)
    assert burst.changed == ["/p/b.py", "/p/a.py", "/p/c.py"]


def test_a_module_renamed_away_holds_the_restart_then_one_more_window():
    burst, existing = make(existing=())
    burst.record(["/p/app.py"], 10.0)
    assert not burst.over(10.06, Writers())  # missing, within VANISHED_WAIT
    existing.add("/p/app.py")
    assert not burst.over(10.12, Writers())  # back: one more quiet window
    assert burst.over(10.2, Writers())


def test_a_module_missing_for_good_does_not_hold_forever():
    burst, _ = make(existing=())
    burst.record(["/p/app.py"], 10.0)
    assert not burst.over(10.06, Writers())
    assert not burst.over(10.0 + VANISHED_WAIT + 0.01, Writers())  # the window after the wait
    assert burst.over(10.0 + VANISHED_WAIT + 0.2, Writers())


def test_a_file_still_open_for_writing_holds_the_restart_briefly():
    burst, _ = make()
    writers = Writers(["/p/app.py"])
    burst.record(["/p/app.py"], 10.0)
    assert not burst.over(10.06, writers) and not writers.forgotten
    assert burst.over(10.0 + UNCLOSED_WAIT + 0.1, writers) and writers.forgotten


def test_a_huge_burst_says_events_may_have_been_lost():
    burst, _ = make()
    burst.record([f"/p/{i}.py" for i in range(REFRESH_AFTER_EVENTS)], 1.0)
    assert burst.take()[1] is True


def test_describe_changes():
    assert describe_changes(["/x/a.py"]) == "/x/a.py changed"
    assert describe_changes(["/x/a", "/x/b", "/x/c", "/x/d", "/x/e"]) == "/x/a, /x/b, /x/c and 2 more changed"
