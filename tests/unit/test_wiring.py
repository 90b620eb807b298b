"""Every message is named once (a constant in channel.py), documented, and routed; every machine action is wired."""

import asyncio
import re

import pytest

from devserver import channel, check, supervisor
from devserver.config import RunConfig
from devserver.machine import Action
from devserver.output import Output
from devserver.target import Target


def documented(heading):
    section = channel.__doc__.split(heading + "\n", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^    ``([a-z?]+)``", section, re.MULTILINE)}


def test_the_docstring_lists_exactly_the_named_messages():
    assert documented("child -> supervisor") == set(channel.TO_SUPERVISOR)
    assert documented("supervisor -> child") == set(channel.TO_CHILD)


def test_names_are_distinct():
    names = channel.TO_SUPERVISOR + channel.TO_CHILD
    assert len(set(names)) == len(names) == 24


def config(tmp_path):
    (tmp_path / "app.py").write_text("")
    return RunConfig(target=Target("script", str(tmp_path / "app.py")))


@pytest.fixture
def sup(tmp_path):
    sup = supervisor.Supervisor(config(tmp_path), Output(0))  # builds a loop and a watcher, starts neither
    yield sup
    asyncio.set_event_loop(None)
    sup.loop.close()


def test_the_supervisor_routes_every_message_from_the_app(sup):
    # bind requests are answered, and the answer to a stop noted, by the session itself
    assert set(sup._handlers) == set(channel.TO_SUPERVISOR) - {channel.BIND, channel.STOPPING}


def test_the_supervisor_carries_out_every_action_of_the_machine(sup):
    assert set(sup._actions) == set(Action)


def test_check_routes_what_it_waits_for(tmp_path):
    async def handlers():
        return set(check.AppRun(config(tmp_path), check.CheckResult(target="app.py"))._handlers)

    assert asyncio.run(handlers()) == {channel.SERVING, channel.ERROR, channel.OUTPUT}


def test_the_app_is_asked_for_the_files_it_reads_unless_turned_off(tmp_path):
    asyncio.set_event_loop(None)
    on = supervisor.Supervisor(config(tmp_path), Output(0))
    assert on._child_options.get("reads") is True
    on.loop.close()
    off_config = config(tmp_path)
    off_config.watch_reads = False
    off = supervisor.Supervisor(off_config, Output(0))
    assert "reads" not in off._child_options
    asyncio.set_event_loop(None)
    off.loop.close()


def test_a_file_event_waits_for_what_the_app_said_first(sup, tmp_path):
    # The app says a file is written before it writes it; when the watcher's event is acted on first
    # (the loop was busy), the app's messages are taken in before it: no restart for the app's own write.
    log = str(tmp_path / "app.log")
    fed = []
    sup._on_changes = fed.append

    class App:
        def read_pending(self):
            sup._handlers[channel.WRITTEN](self, {"paths": [log]})

    sup.app = App()
    sup._on_file_events([log])
    assert fed == [] and log in sup.filter.written
    other = str(tmp_path / "version.py")
    sup._on_file_events([log, other])
    assert fed == [[other]]
