from devserver.debounce import Debouncer


def test_nothing_pending_at_first():
    d = Debouncer(0.02)
    assert not d.pending
    assert d.deadline() is None
    assert not d.due(100.0)


def test_single_event_fires_after_the_quiet_window():
    d = Debouncer(0.02)
    d.event(10.0)
    assert not d.due(10.019)
    assert d.due(10.02)


def test_burst_extends_the_window_until_quiet():
    d = Debouncer(0.02, max_wait=1.0, burst_extra=0.0)
    for i in range(50):  # an event every 10 ms for half a second
        d.event(10.0 + i * 0.01)
        assert not d.due(10.0 + i * 0.01 + 0.009)
    assert d.deadline() == 10.49 + 0.02
    assert d.due(10.51)


def test_the_quiet_window_grows_with_the_burst_up_to_a_cap():
    d = Debouncer(0.01, max_wait=1.0, burst_extra=0.09)
    d.event(0.0)
    assert d.window() == 0.01  # one save: the base window
    d.event(0.0, count=2)
    assert abs(d.window() - 0.014) < 1e-9
    d.event(0.001, count=500)  # a git checkout
    assert abs(d.window() - 0.1) < 1e-9
    assert not d.due(0.05)  # a 50 ms stall of the writer does not end a big burst
    assert d.due(0.101)


def test_continuous_events_cannot_postpone_forever():
    d = Debouncer(0.05, max_wait=0.5)
    t = 0.0
    while t < 2.0:
        d.event(t)
        if d.due(t):
            break
        t += 0.01
    assert 0.5 <= t < 0.52


def test_reset_clears_the_burst():
    d = Debouncer(0.02)
    d.event(1.0, count=100)
    d.reset()
    assert not d.pending and d.deadline() is None and d.window() == 0.02


def test_max_wait_never_below_quiet():
    d = Debouncer(0.5, max_wait=0.1)
    d.event(0.0)
    assert d.deadline() == 0.5
