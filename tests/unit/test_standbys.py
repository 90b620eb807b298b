"""The standby's lifecycle (warm.Standbys) with fake app sessions: no process is started."""

import time

import pytest

from devserver import channel as msg
from devserver.warm import Standbys


class FakeSession:
    pids = iter(range(100, 10000))

    def __init__(self, options):
        self.options = options
        self.pid = next(self.pids)
        self.sent = []
        self.killed = False
        self.gone = False
        self.child = type("Child", (), {"started": time.monotonic()})()  # ready at once: a light app

    def send(self, kind, **fields):
        self.sent.append((kind, fields))
        return not self.gone

    def go(self):
        return self.send(msg.GO)

    def kill(self):
        self.killed = True

    def describe_exit(self):
        return "exited with code 1"


class FakeOutput:
    def __init__(self):
        self.lines = []

    def debug(self, line):
        self.lines.append(("debug", line))

    def info(self, line):
        self.lines.append(("info", line))


def is_library(path):
    return "/site-packages/" in path


def make(off=None, fail=False):
    spawned = []

    def spawn(options):
        if fail:
            raise OSError("no more processes")
        spawned.append(FakeSession(options))
        return spawned[-1]

    out = FakeOutput()
    return Standbys(spawn, out, is_library, off), spawned, out


MODULES = {"t": "modules", "modules": [["os", ""], ["tornado.web", "/v/site-packages/tornado/web.py"],
                                       ["app", "/project/app.py"]]}


def test_the_serving_apps_libraries_make_a_warm_standby():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    assert len(spawned) == 1 and spawned[0].options == {"standby": True}
    assert spawned[0].sent == [(msg.PREIMPORT, {"names": ["os", "tornado.web"]})]
    assert standbys.current.warm and standbys.current.label == "standby"


def test_the_same_modules_again_keep_the_standby():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.on_modules(MODULES)
    assert len(spawned) == 1 and not spawned[0].killed


def test_other_modules_replace_it():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.on_modules({"t": "modules", "modules": [["os", ""]]})
    assert len(spawned) == 2 and spawned[0].killed and standbys.current.session is spawned[1]


def test_modules_imported_after_the_environment_changed_are_left_out():
    standbys, spawned, _ = make()
    standbys.on_modules(dict(MODULES, environ_cut=1))
    assert spawned[0].sent == [(msg.PREIMPORT, {"names": ["os"]})]


def test_an_app_with_gevent_turns_warm_restarts_off():
    standbys, spawned, out = make()
    standbys.on_modules(MODULES)
    standbys.on_modules({"t": "modules", "modules": [["gevent", "/v/site-packages/gevent/__init__.py"]]})
    assert standbys.off and "gevent" in standbys.off and spawned[0].killed and standbys.current is None
    assert [line for level, line in out.lines if level == "info"] == [
        f"warm restarts off: {standbys.off} — every restart starts a new interpreter and imports the app's "
        "libraries again"]
    standbys.on_modules(MODULES)
    assert len(spawned) == 1


def test_off_from_the_start_builds_nothing_but_still_prestarts_a_spare():
    standbys, spawned, _ = make(off="--no-warm")
    standbys.on_modules(MODULES)
    assert spawned == []
    standbys.prestart()
    assert len(spawned) == 1 and not standbys.current.warm and standbys.current.label == "pre-started process"
    standbys.prestart()
    assert len(spawned) == 1


def test_take_tells_it_to_go():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standby = standbys.take(["/project/app.py"])
    assert standby.session is spawned[0] and spawned[0].sent[-1] == (msg.GO, {})
    assert standbys.current is None


@pytest.mark.parametrize("changed", [["/v/site-packages/tornado/web.py"], ["/project/lib.py"]])
def test_a_stale_warm_standby_is_thrown_away(changed):
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.on_ready(spawned[0], {"t": "ready", "files": ["/project/lib.py"]})
    assert standbys.take(changed) is None and spawned[0].killed


def test_a_spare_is_never_stale():
    standbys, spawned, _ = make()
    standbys.prestart()
    assert standbys.take(["/v/site-packages/tornado/web.py"]).session is spawned[0]


def test_a_standby_that_cannot_take_go_means_a_cold_start():
    standbys, spawned, _ = make()
    standbys.prestart()
    spawned[0].gone = True
    assert standbys.take([]) is None and spawned[0].killed


def test_no_standby_when_it_cannot_be_started():
    standbys, _spawned, out = make(fail=True)
    standbys.prestart()
    assert standbys.current is None and ("debug", "no standby: no more processes") in out.lines


def test_ready_is_reported_for_a_warm_standby_even_after_it_was_taken():
    standbys, spawned, out = make()
    standbys.on_modules(MODULES)
    standbys.take([])
    standbys.on_ready(spawned[0], {"t": "ready", "files": [], "skipped": ["x"]})
    assert any(line.startswith(f"standby {spawned[0].pid} ready in") and "x" in line for _, line in out.lines)


def test_a_standby_that_keeps_dying_turns_warm_restarts_off():
    standbys, spawned, out = make()
    for _ in range(3):
        standbys.prestart()
        standbys.on_lost(spawned[-1])
    assert standbys.off == "the standby process keeps exiting before it is used"
    assert any(level == "info" and line.startswith(f"warm restarts off: {standbys.off} — ")
               for level, line in out.lines)


def test_a_discarded_standby_exiting_is_no_failure():
    standbys, spawned, _ = make()
    standbys.prestart()
    standbys.discard()
    standbys.on_lost(spawned[0])
    assert spawned[0].killed and standbys._failures == 0


def test_after_a_failure_a_standby_from_the_last_good_modules_waits_for_the_fix():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.take(["/project/app.py"])  # told to go: it runs the broken version, which fails
    standbys.after_failure()
    assert len(spawned) == 2 and spawned[1].sent == [(msg.PREIMPORT, {"names": ["os", "tornado.web"]})]
    assert standbys.current.session is spawned[1] and standbys.current.warm
    standbys.after_failure()  # one is enough
    assert len(spawned) == 2


def test_no_standby_after_a_failure_without_a_good_module_list_or_when_off():
    standbys, spawned, _ = make()
    standbys.after_failure()  # the first start failed: nothing is known to be good yet
    assert spawned == []
    standbys, spawned, _ = make(off="--no-warm")
    standbys.on_modules(MODULES)
    standbys.after_failure()
    assert spawned == []


def test_a_cold_restart_says_once_per_kind_why_and_what_it_costs():
    standbys, spawned, out = make()
    for changed, files in ((["/v/site-packages/tornado/web.py"], []), (["/v/site-packages/tornado/web.py"], []),
                           (["/project/tasks.py"], ["/project/tasks.py"]),
                           (["/project/tasks.py"], ["/project/tasks.py"]), (["/project/app.py"], [])):
        standbys.on_modules({"t": "modules", "modules": [["os", ""], ["tornado.web", changed[0]]]}
                            if not files else MODULES)
        standby = standbys.current
        standby.session.child.started = 0.0
        standbys.on_ready(standby.session, {"t": "ready", "files": files})
        took = standbys.take(changed)
        assert (took is None) == (changed != ["/project/app.py"]), changed
        standbys.discard()
    info = [line for level, line in out.lines if level == "info"]
    assert len(info) == 2, info
    assert info[0].startswith("cold restart: /v/site-packages/tornado/web.py is outside the project (a library)")
    assert "/project/tasks.py is the project's, but a library imports it before the app's code runs" in info[1]
    assert all(" ms more than a warm restart (said once)" in line for line in info), info


def test_a_standby_told_to_go_before_it_was_ready_reports_a_changed_file_it_had_imported():
    # A library imported the project's plugin while the standby was still importing; the plugin was saved
    # meanwhile; the change came before "ready": its app may run the old plugin and needs a restart.
    standbys, spawned, out = make()
    standbys.on_modules(MODULES)
    assert standbys.take(["/project/plugin.py"]).session is spawned[0]  # files unknown yet: told to go
    assert standbys.on_ready(spawned[0], {"t": "ready", "files": ["/project/plugin.py"]}) == ["/project/plugin.py"]
    assert any(level == "info" and "plugin.py is the project's" in line for level, line in out.lines)
    standbys.on_modules(MODULES)
    assert standbys.take(["/project/version.py"]) is not None
    assert standbys.on_ready(spawned[1], {"t": "ready", "files": ["/project/plugin.py"]}) == []


def test_a_plugin_seen_in_an_earlier_standby_makes_one_not_ready_yet_stale():
    # No restart into the old plugin, then another: what the last standby imported is known.
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.on_ready(spawned[0], {"t": "ready", "files": ["/project/plugin.py", "/v/site-packages/x.py"]})
    standbys.discard()
    standbys.on_modules(MODULES)
    assert standbys.take(["/project/plugin.py"]) is None and spawned[1].killed
    standbys.on_modules(MODULES)
    assert standbys.take(["/project/version.py"]).session is spawned[2]


def heavy_ready(standbys, session, files=()):
    """``session`` reports ready after 300 ms of imports: a heavy app."""
    session.child.started = time.monotonic() - 0.3
    standbys.on_ready(session, {"t": "ready", "files": list(files)})


def test_a_heavy_app_keeps_a_second_standby_and_a_quick_second_save_finds_it_ready():
    standbys, spawned, out = make()
    standbys.on_modules(MODULES)
    assert len(spawned) == 1  # how long the imports take is not known yet: one
    heavy_ready(standbys, spawned[0])
    assert len(spawned) == 2 and spawned[1].sent == [(msg.PREIMPORT, {"names": ["os", "tornado.web"]})]
    heavy_ready(standbys, spawned[1])
    first = standbys.take(["/project/version.py"])
    assert first.session is spawned[0] and first.ready_at_go
    assert standbys.describe_taken(first) == " (ready; 1 more standby kept)"
    standbys.on_modules(MODULES)  # the new app serves: the same libraries, the second one is kept
    assert len(spawned) == 3 and not spawned[1].killed
    second = standbys.take(["/project/version.py"])  # a save 300 ms later: the second one, ready
    assert second.session is spawned[1] and second.ready_at_go and standbys.taken_by(spawned[1]) is second
    assert standbys.describe_taken(second) == " (ready; 1 more standby kept)"
    third = standbys.take(["/project/version.py"])  # and one more at once: the one still importing
    assert third.session is spawned[2] and not third.ready_at_go
    assert standbys.describe_taken(third) == " (still importing: the app waits for it)"


def test_a_light_app_keeps_one_standby():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.on_ready(spawned[0], {"t": "ready", "files": []})  # ready at once
    standbys.on_modules(MODULES)
    assert len(spawned) == 1 and standbys.wanted() == 1


def test_a_ready_standby_is_taken_before_an_older_one_still_importing():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    heavy_ready(standbys, spawned[0])  # spawned[1] starts importing
    assert standbys.take([]).session is spawned[0]
    standbys.on_modules(MODULES)  # the new app serves: spawned[2] imports beside spawned[1]
    assert [s.session for s in standbys.pool] == [spawned[1], spawned[2]]
    heavy_ready(standbys, spawned[2])
    assert standbys.take([]).session is spawned[2]  # ready: taken before the older one still importing
    assert standbys.take([]).session is spawned[1]  # else the oldest (the nearest to ready)


@pytest.mark.parametrize("changed", [["/v/site-packages/tornado/web.py"], ["/project/plugin.py"]])
def test_a_library_or_plugin_change_throws_every_standby_away(changed):
    standbys, spawned, out = make()
    standbys.on_modules(MODULES)
    heavy_ready(standbys, spawned[0], ["/project/plugin.py"])
    heavy_ready(standbys, spawned[1], ["/project/plugin.py"])
    assert standbys.take(changed) is None
    assert spawned[0].killed and spawned[1].killed and standbys.pool == []
    assert sum(level == "info" for level, _ in out.lines) == 1  # said once


def test_other_modules_or_exit_replace_both_standbys():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    heavy_ready(standbys, spawned[0])
    standbys.on_modules({"t": "modules", "modules": [["os", ""], ["json", ""]]})
    assert spawned[0].killed and spawned[1].killed and len(standbys.pool) == 1  # their time is not known yet
    heavy_ready(standbys, spawned[2])
    assert len(standbys.pool) == 2 and spawned[3].sent == [(msg.PREIMPORT, {"names": ["os", "json"]})]
    standbys.discard()  # tdev exits
    assert all(s.killed for s in spawned) and standbys.pool == []


def test_the_same_modules_in_another_order_keep_both_standbys():
    # An app a standby ran imported its libraries in the standby's order (and lazy imports vary).
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    heavy_ready(standbys, spawned[0])
    standbys.take([])
    reordered = {"t": "modules", "modules": [MODULES["modules"][1], MODULES["modules"][0], MODULES["modules"][2]]}
    standbys.on_modules(reordered)
    assert not spawned[1].killed and len(spawned) == 3 and standbys.current.session is spawned[1]


def test_one_slow_standby_on_a_busy_machine_does_not_make_a_light_app_keep_two():
    standbys, spawned, _ = make()
    standbys.on_modules(MODULES)
    standbys.on_ready(spawned[0], {"t": "ready", "files": []})  # fast: a light app
    standbys.take([])
    standbys.on_modules(MODULES)
    heavy_ready(standbys, spawned[1])  # slow this time (the machine was busy): still one
    assert standbys.wanted() == 1 and len(spawned) == 2
    standbys.on_modules({"t": "modules", "modules": [["os", ""], ["sklearn", "/v/site-packages/sklearn/__init__.py"]]})
    heavy_ready(standbys, spawned[2])  # other libraries, slow: their own measure
    assert standbys.wanted() == 2 and len(spawned) == 4


def test_while_a_ready_standby_is_kept_its_replacement_starts_later():
    # A quick second save runs in the ready one with no import beside it; when none is left, at once.
    timers = []

    class Timer:
        def __init__(self, delay, callback):
            self.delay, self.callback, self.cancelled = delay, callback, False
            timers.append(self)

        def cancel(self):
            self.cancelled = True

    spawned = []

    def spawn(options):
        spawned.append(FakeSession(options))
        return spawned[-1]

    standbys = Standbys(spawn, FakeOutput(), is_library, None, Timer)
    standbys.on_modules(MODULES)
    heavy_ready(standbys, spawned[0])
    heavy_ready(standbys, spawned[1])
    standbys.take([])
    standbys.on_modules(MODULES)  # spawned[1] ready: the replacement waits
    assert len(spawned) == 2 and len(timers) == 1 and timers[0].delay == 1.0
    timers[0].callback()
    assert len(spawned) == 3
    standbys.take([])
    standbys.take([])
    standbys.on_modules(MODULES)  # none left: both at once
    assert len(spawned) == 5 and len(timers) == 1
    heavy_ready(standbys, spawned[3])
    heavy_ready(standbys, spawned[4])
    standbys.take([])
    standbys.on_modules(MODULES)
    assert len(timers) == 2 and len(spawned) == 5
    standbys.discard()  # tdev exits: no replacement later
    assert timers[1].cancelled
