"""The supervisor's state machine, driven without processes, sockets or an event loop."""

import itertools
import re

import pytest

from devserver import machine
from devserver.machine import ANY_STATE, TABLE, Action, Event, State, transition

A = Action


def run(state, *events):
    """Feed ``events`` in order; the final state and every action, in order."""
    actions = []
    for event in events:
        state, done = transition(state, event)
        actions.extend(done)
    return state, actions


# -- the docstring's drawing is the table ------------------------------------------------------
_ROW = re.compile(r"^\s*(\*|[a-z_]+)\s+--([a-z_]+)-->\s+(\*|[a-z_]+)\s*:(.*)$")


def drawn_transitions():
    rows = {}
    for line in machine.__doc__.splitlines():
        match = _ROW.match(line)
        if match:
            state, event, new, actions = match.groups()
            key = (state, Event(event))
            assert key not in rows, f"drawn twice: {line.strip()}"
            rows[key] = (new, tuple(Action(a.strip()) for a in actions.split(",") if a.strip()))
    return rows


def test_the_docstring_draws_exactly_the_table():
    drawn = drawn_transitions()
    expected = {(s.value, e): (new.value, actions) for (s, e), (new, actions) in TABLE.items()}
    expected.update({("*", e): ("*", actions) for e, actions in ANY_STATE.items()})
    assert drawn == expected


def test_the_drawing_parser_sees_every_row():
    # A parser that matched nothing would make the test above pass on an empty table.
    assert len(drawn_transitions()) == len(TABLE) + len(ANY_STATE) > 20


# -- each transition ---------------------------------------------------------------------------
def test_change_while_running_stops_the_app_at_once():
    # ... after saying what changed: what the old app prints while it stops comes after that line
    assert transition(State.RUNNING, Event.CHANGE) == (
        State.RESTARTING, (A.RECORD_CHANGE, A.SAY_CHANGED, A.STOP_APP, A.PRESTART, A.ARM_DEBOUNCE))


@pytest.mark.parametrize("state", [State.RESTARTING, State.SETTLING])
def test_change_while_restarting_extends_the_burst(state):
    assert transition(state, Event.CHANGE) == (state, (A.RECORD_CHANGE, A.PRESTART, A.ARM_DEBOUNCE))


def test_change_while_waiting_restarts_without_stopping_anything():
    # (the old diagram said WAITING -> RUNNING here; the code always went through the burst first)
    state, actions = transition(State.WAITING, Event.CHANGE)
    assert state is State.SETTLING and A.STOP_APP not in actions and A.ARM_DEBOUNCE in actions
    # ... and tries no more to bind an address in use: the new app binds again itself.
    assert actions == (A.CANCEL_PORT_WAIT, A.RECORD_CHANGE, A.SAY_CHANGED, A.PRESTART, A.ARM_DEBOUNCE)


def test_a_live_asset_change_reloads_browsers_only_while_running():
    assert transition(State.RUNNING, Event.LIVE_CHANGE) == (State.RUNNING, (A.RELOAD_BROWSERS,))
    for state in (State.RESTARTING, State.SETTLING, State.WAITING):
        assert transition(state, Event.LIVE_CHANGE) == transition(state, Event.CHANGE)


def test_exit_while_restarting_checks_whether_the_burst_is_over():
    assert transition(State.RESTARTING, Event.EXIT) == (State.SETTLING, (A.CHECK_BURST,))


def test_quiet_while_the_old_app_still_stops_waits_for_its_exit():
    assert transition(State.RESTARTING, Event.QUIET) == (State.RESTARTING, ())
    assert transition(State.SETTLING, Event.QUIET) == (State.SETTLING, (A.CHECK_BURST,))


def test_settled_restarts():
    assert transition(State.SETTLING, Event.SETTLED) == (State.RUNNING, (A.RESTART,))


def test_the_app_ending_by_itself_waits_for_a_change():
    assert transition(State.RUNNING, Event.EXIT) == (State.WAITING, (A.SHOW_CRASH, A.PREPARE_STANDBY))
    assert transition(State.RUNNING, Event.SPAWN_FAILED) == (State.WAITING, ())


@pytest.mark.parametrize("state", [State.RUNNING, State.RESTARTING])
def test_stop_with_an_app_stops_it_first(state):
    new, actions = transition(state, Event.STOP)
    assert new is State.STOPPING and A.STOP_APP in actions and A.END not in actions
    assert transition(new, Event.EXIT) == (State.STOPPED, (A.END,))


@pytest.mark.parametrize("state", [State.WAITING, State.SETTLING])
def test_stop_without_an_app_ends_at_once_with_no_timer_left(state):
    assert transition(state, Event.STOP) == (State.STOPPED, (A.CANCEL_DEBOUNCE, A.CANCEL_PORT_WAIT, A.END))


def test_stop_twice_kills():
    assert transition(State.STOPPING, Event.STOP) == (State.STOPPING, (A.KILL_APP,))


def test_stopped_is_the_end():
    for event in Event:
        state, actions = transition(State.STOPPED, event)
        assert state is State.STOPPED
        assert not set(actions) & {A.STOP_APP, A.RESTART, A.END, A.KILL_APP}


def test_changes_while_stopping_are_ignored():
    for event in (Event.CHANGE, Event.LIVE_CHANGE, Event.QUIET, Event.SETTLED, Event.MODULES):
        assert transition(State.STOPPING, event) == (State.STOPPING, ())


@pytest.mark.parametrize("state", list(State))
def test_the_standby_never_moves_the_state(state):
    assert transition(state, Event.STANDBY_READY) == (state, (A.NOTE_STANDBY_READY,))
    assert transition(state, Event.STANDBY_LOST) == (state, (A.NOTE_STANDBY_LOST,))


def test_the_standby_is_built_from_the_current_app_only_while_it_runs():
    assert transition(State.RUNNING, Event.MODULES) == (State.RUNNING, (A.BUILD_STANDBY,))
    assert transition(State.RESTARTING, Event.MODULES) == (State.RESTARTING, (A.BUILD_STANDBY,))
    for state in (State.SETTLING, State.WAITING, State.STOPPING, State.STOPPED):
        assert transition(state, Event.MODULES) == (state, ())


@pytest.mark.parametrize("state,event", [
    (s, e) for s, e in itertools.product(State, Event) if (s, e) not in TABLE and e not in ANY_STATE])
def test_every_other_pair_changes_nothing(state, event):
    assert transition(state, event) == (state, ())


# -- an address another process holds ------------------------------------------------------------
def test_an_app_that_ended_on_an_address_in_use_waits_for_it():
    assert transition(State.RUNNING, Event.PORT_BUSY) == (State.WAITING, (A.WAIT_FOR_PORT, A.PREPARE_STANDBY))


def test_the_address_free_while_waiting_starts_the_app():
    assert transition(State.WAITING, Event.PORT_FREE) == (State.RUNNING, (A.START_APP,))


@pytest.mark.parametrize("state", [s for s in State if s is not State.WAITING])
def test_the_address_free_outside_waiting_does_nothing(state):
    # A change came first (the new app binds itself), or tdev is stopping: too late to matter.
    assert transition(state, Event.PORT_FREE) == (state, ())


@pytest.mark.parametrize("state", [s for s in State if s is not State.RUNNING])
def test_an_address_in_use_is_an_exit_like_any_other_unless_the_app_was_running(state):
    # Told to stop (a change, Ctrl-C): the app's exit means what it always does.
    assert transition(state, Event.PORT_BUSY) == transition(state, Event.EXIT)


def test_the_port_wait_is_pending_only_while_waiting():
    # WAIT_FOR_PORT only into WAITING; every way out of WAITING but PORT_FREE (whose try just worked) cancels it.
    for (state, event), (new, actions) in TABLE.items():
        if A.WAIT_FOR_PORT in actions:
            assert new is State.WAITING
        if state is State.WAITING and new is not State.WAITING and event is not Event.PORT_FREE:
            assert A.CANCEL_PORT_WAIT in actions, (state, event)
        if A.START_APP in actions:
            assert new is State.RUNNING


# -- properties of the whole table -------------------------------------------------------------
def test_only_states_with_an_app_stop_or_kill_it():
    with_app = {State.RUNNING, State.RESTARTING, State.STOPPING}
    for (state, _event), (_new, actions) in TABLE.items():
        if A.STOP_APP in actions or A.KILL_APP in actions:
            assert state in with_app


def test_the_loop_ends_only_into_stopped_and_restarts_only_into_running():
    for (_state, _event), (new, actions) in TABLE.items():
        if A.END in actions:
            assert new is State.STOPPED
        if A.RESTART in actions:
            assert new is State.RUNNING


def test_every_state_is_reachable_from_running():
    seen, frontier = {State.RUNNING}, [State.RUNNING]
    while frontier:
        state = frontier.pop()
        for event in Event:
            new, _ = transition(state, event)
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == set(State)


# -- whole stories -----------------------------------------------------------------------------
def test_a_save_while_running():
    state, actions = run(State.RUNNING, Event.CHANGE, Event.CHANGE, Event.QUIET, Event.EXIT, Event.SETTLED)
    assert state is State.RUNNING
    assert actions.count(A.STOP_APP) == 1 and actions.count(A.RESTART) == 1
    assert actions.index(A.STOP_APP) < actions.index(A.CHECK_BURST) < actions.index(A.RESTART)


def test_a_crash_then_a_fix():
    state, actions = run(State.RUNNING, Event.EXIT, Event.CHANGE, Event.QUIET, Event.SETTLED)
    assert state is State.RUNNING
    assert actions == [A.SHOW_CRASH, A.PREPARE_STANDBY, A.CANCEL_PORT_WAIT, A.RECORD_CHANGE, A.SAY_CHANGED,
                       A.PRESTART, A.ARM_DEBOUNCE,
                       A.CHECK_BURST, A.RESTART]


def test_a_port_held_by_another_process_then_let_go():
    state, actions = run(State.RUNNING, Event.PORT_BUSY, Event.PORT_FREE, Event.SERVING)
    assert state is State.RUNNING
    assert actions == [A.WAIT_FOR_PORT, A.PREPARE_STANDBY, A.START_APP, A.ON_SERVING]


def test_a_change_while_waiting_for_the_port_restarts_as_usual():
    state, actions = run(State.RUNNING, Event.PORT_BUSY, Event.CHANGE, Event.PORT_FREE, Event.QUIET, Event.SETTLED)
    assert state is State.RUNNING
    assert actions == [A.WAIT_FOR_PORT, A.PREPARE_STANDBY, A.CANCEL_PORT_WAIT, A.RECORD_CHANGE, A.SAY_CHANGED,
                       A.PRESTART, A.ARM_DEBOUNCE,
                       A.CHECK_BURST, A.RESTART]


def test_ctrl_c_while_waiting_for_the_port():
    state, actions = run(State.RUNNING, Event.PORT_BUSY, Event.STOP, Event.PORT_FREE)
    assert state is State.STOPPED and actions == [A.WAIT_FOR_PORT, A.PREPARE_STANDBY, A.CANCEL_DEBOUNCE, A.CANCEL_PORT_WAIT, A.END]


def test_ctrl_c_during_a_restart():
    state, actions = run(State.RUNNING, Event.CHANGE, Event.STOP, Event.EXIT, Event.SETTLED)
    assert state is State.STOPPED and A.RESTART not in actions and actions[-1] is A.END
