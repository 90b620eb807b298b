"""AppSession's plumbing (routing, bind answers, the exit drain) with a fake process and loop."""

from devserver import channel as msg
from devserver.session import AppSession


class FakeChannel:
    def __init__(self, pending=()):
        self.sent = []
        self.pending = list(pending)  # what receive() returns, one batch per call ([] then: nothing more)
        self.closed = False
        self.sock = self

    def fileno(self):
        return 7

    def send(self, kind, **fields):
        self.sent.append((kind, fields))
        return not self.closed

    def receive(self):
        return self.pending.pop(0) if self.pending else []

    def close(self):
        self.closed = True


class FakeChild:
    pid = 4242
    returncode = None
    started_wall = 0.0

    def __init__(self, channel):
        self.channel = channel
        self.exit_callback = None
        self.killed = self.reaped = False

    def on_exit(self, callback):
        self.exit_callback = callback

    def kill(self):
        self.killed = True

    def reap_group(self):
        self.reaped = True

    def describe_exit(self):
        return "exited with code 3"


class FakeLoop:
    def __init__(self):
        self.readers = {}

    def add_reader(self, fd, callback):
        self.readers[fd] = callback

    def remove_reader(self, fd):
        self.readers.pop(fd, None)

    def call_soon_threadsafe(self, fn, *args):
        fn(*args)


class FakeSockets:
    def __init__(self, released=()):
        self.released = list(released)
        self.requests = []

    def answer(self, request):
        self.requests.append(request)
        return {"fds": [11]}, self.released


def make(handlers=None, pending=(), released=(), log=None):
    log = [] if log is None else log
    channel = FakeChannel(pending)
    child = FakeChild(channel)
    session = AppSession(child, FakeLoop(), FakeSockets(released), handlers or {}, lambda s: log.append(("exit", s)),
                         on_bind=lambda reply, rel: log.append(("bind", reply, rel)))
    return session, child, channel, log


def test_messages_are_routed_by_their_name():
    seen = []
    session, *_ = make({msg.FILES: lambda s, m: seen.append(("files", m["paths"])),
                        msg.SERVING: lambda s, m: seen.append(("serving", s))})
    session.dispatch([{"t": "files", "paths": ["a.py"]}, {"t": "nobody-knows"}, {"t": "serving"}])
    assert seen == [("files", ["a.py"]), ("serving", session)]


def test_a_bind_request_is_answered_and_reported_before_the_answer_goes():
    session, _child, channel, log = make(released=[("tcp", 8000)])
    session.on_bind = lambda reply, rel: log.append(("bind", reply, rel, len(channel.sent)))
    session.dispatch([{"t": msg.BIND, "id": 5, "kind": "tcp", "port": 8000}])
    assert log == [("bind", {"fds": [11]}, [("tcp", 8000)], 0)]
    assert channel.sent == [(msg.BOUND, {"id": 5, "fds": [11]})]


def test_reading_the_channel_dispatches_and_eof_stops_reading():
    seen = []
    session, child, channel, _ = make({msg.INFO: lambda s, m: seen.append(m["msg"])},
                                      pending=[[{"t": "info", "msg": "hi"}], None])
    loop = session.loop
    loop.readers[7]()
    assert seen == ["hi"] and 7 in loop.readers
    loop.readers[7]()
    assert 7 not in loop.readers


def test_the_last_words_are_handled_before_the_exit_is_reported():
    log = []
    session, child, channel, _ = make({msg.ERROR: lambda s, m: log.append(("error", channel.closed))},
                                      pending=[[{"t": "error", "paths": []}], [{"t": "error", "paths": []}]], log=log)
    child.exit_callback(child)
    assert log == [("error", False), ("error", False), ("exit", session)]
    assert child.reaped and channel.closed and session.exited and 7 not in session.loop.readers
    assert session.describe_exit() == "exited with code 3"


def test_close_kills_a_process_still_running_only():
    session, child, channel, _ = make()
    session.close()
    assert child.killed and channel.closed
    session, child, channel, _ = make()
    child.exit_callback(child)
    session.close()
    assert not child.killed
