"""The supervisor's states, the events that move it, and every transition in one table.

Pure: no process, socket, timer or loop.  The supervisor turns what happens
(a file event, the app's exit, a signal, a timer) into an ``Event``, asks
``transition`` what to do, and carries out the ``Action``s in order.

A restart needs two things: the old app gone and the burst of changes over
(quiet for the debounce window, no changed file still being written).  The
old app is told to stop at the first change, so stopping it and waiting for
the burst to end overlap; RESTARTING is "the old app is still stopping",
SETTLING is "it is gone, the burst is not over yet".  ``quiet`` (debounce
window over) only asks for the burst check; ``settled`` is its answer.

An app that ended because an address it asked for is in use (another process
holds the port) exits with ``port_busy`` instead of ``exit``: WAITING then also
tries to bind that address each second, and ``port_free`` (tdev holds it now)
starts the app without a change.  That try is pending only in WAITING: every
other way out of it cancels it.

The table (a test checks that it is the same as ``TABLE``)::

    running    --change-->        restarting : record_change, say_changed, stop_app, prestart, arm_debounce
    running    --live_change-->   running    : reload_browsers
    running    --exit-->          waiting    : show_crash, prepare_standby
    running    --port_busy-->     waiting    : wait_for_port, prepare_standby
    running    --spawn_failed-->  waiting    :
    running    --serving-->       running    : on_serving
    running    --modules-->       running    : build_standby
    running    --stop-->          stopping   : cancel_debounce, say_stopping, stop_app
    restarting --change-->        restarting : record_change, prestart, arm_debounce
    restarting --live_change-->   restarting : record_change, prestart, arm_debounce
    restarting --exit-->          settling   : check_burst
    restarting --port_busy-->     settling   : check_burst
    restarting --serving-->       restarting : on_serving
    restarting --modules-->       restarting : build_standby
    restarting --stop-->          stopping   : cancel_debounce, say_stopping, stop_app
    settling   --change-->        settling   : record_change, prestart, arm_debounce
    settling   --live_change-->   settling   : record_change, prestart, arm_debounce
    settling   --quiet-->         settling   : check_burst
    settling   --settled-->       running    : restart
    settling   --stop-->          stopped    : cancel_debounce, cancel_port_wait, end
    waiting    --change-->        settling   : cancel_port_wait, record_change, say_changed, prestart, arm_debounce
    waiting    --live_change-->   settling   : cancel_port_wait, record_change, say_changed, prestart, arm_debounce
    waiting    --port_free-->     running    : start_app
    waiting    --stop-->          stopped    : cancel_debounce, cancel_port_wait, end
    stopping   --exit-->          stopped    : end
    stopping   --port_busy-->     stopped    : end
    stopping   --serving-->       stopping   : on_serving
    stopping   --stop-->          stopping   : kill_app
    *          --standby_ready--> *          : note_standby_ready
    *          --standby_lost-->  *          : note_standby_lost

Any other (state, event) pair changes nothing and does nothing: a ``quiet``
while the old app still stops (its exit checks the burst), a change while
stopping, a ``port_free`` too late (a change came first), anything once stopped.  The standby never moves the state.
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    RUNNING = "running"  # the app runs (or is starting)
    RESTARTING = "restarting"  # a change: the old app is told to stop and has not exited yet
    SETTLING = "settling"  # the old app is gone: waiting for the burst of changes to end
    WAITING = "waiting"  # the app ended by itself: its error is served until a change (or its port is free)
    STOPPING = "stopping"  # tdev was asked to leave: the app is told to stop
    STOPPED = "stopped"  # the app is gone and the loop ends


class Event(Enum):
    CHANGE = "change"  # watched files changed (a restart is needed)
    LIVE_CHANGE = "live_change"  # only templates/static files the app reads live changed
    QUIET = "quiet"  # the debounce window is over
    SETTLED = "settled"  # ... and no changed file is missing or still being written
    EXIT = "exit"  # the current app process exited
    PORT_BUSY = "port_busy"  # ... without ever serving, after a bind it asked for was refused: the address is in use
    PORT_FREE = "port_free"  # tdev could bind that address itself since (it holds it for the next app)
    SPAWN_FAILED = "spawn_failed"  # the app process could not be started
    SERVING = "serving"  # the current app accepts connections
    MODULES = "modules"  # the current app sent its modules (what a standby should import)
    STANDBY_READY = "standby_ready"  # a standby imported what it was asked to
    STANDBY_LOST = "standby_lost"  # a standby exited before it was used
    STOP = "stop"  # a signal: stop the app, then leave


class Action(Enum):
    RECORD_CHANGE = "record_change"  # remember the paths; the debounce window starts or grows
    SAY_CHANGED = "say_changed"  # the first change of a burst: say what changed before the old app says anything
    STOP_APP = "stop_app"  # tell the app to stop: drain, SIGTERM (a grace timer then kills it)
    KILL_APP = "kill_app"  # asked to stop twice: no more grace
    PRESTART = "prestart"  # no standby yet: start a bare interpreter while the burst goes on
    ARM_DEBOUNCE = "arm_debounce"  # (re)arm the timer that ends the debounce window
    CANCEL_DEBOUNCE = "cancel_debounce"
    CHECK_BURST = "check_burst"  # is the burst over? if so, feed ``settled``
    RESTART = "restart"  # say what else changed in the burst, start the new app (from the standby if it may)
    RELOAD_BROWSERS = "reload_browsers"  # the app reads them live: reload the browsers only
    SHOW_CRASH = "show_crash"  # say how the app ended; serve its error on its sockets
    WAIT_FOR_PORT = "wait_for_port"  # say once which address is in use; serve the error; try it each second
    CANCEL_PORT_WAIT = "cancel_port_wait"  # no more tries to bind the address in use (no timer left)
    START_APP = "start_app"  # the address is free: say so and start the app (nothing changed)
    ON_SERVING = "on_serving"  # say where it listens, release unused sockets, ask for its modules
    BUILD_STANDBY = "build_standby"  # (re)build the standby from the app's modules
    PREPARE_STANDBY = "prepare_standby"  # the app ended by itself: a standby from the last good modules, for the fix
    NOTE_STANDBY_READY = "note_standby_ready"
    NOTE_STANDBY_LOST = "note_standby_lost"
    SAY_STOPPING = "say_stopping"
    END = "end"  # stop the loop: tdev exits


A = Action
_CHANGED = (A.RECORD_CHANGE, A.PRESTART, A.ARM_DEBOUNCE)
_LEAVE_NOW = (A.CANCEL_DEBOUNCE, A.CANCEL_PORT_WAIT, A.END)
_CHANGED_WHILE_WAITING = (A.CANCEL_PORT_WAIT, A.RECORD_CHANGE, A.SAY_CHANGED, A.PRESTART, A.ARM_DEBOUNCE)
# (the new app binds again itself)
_STOP_APP = (A.CANCEL_DEBOUNCE, A.SAY_STOPPING, A.STOP_APP)

TABLE: dict[tuple[State, Event], tuple[State, tuple[Action, ...]]] = {
    (State.RUNNING, Event.CHANGE): (State.RESTARTING,
                                    (A.RECORD_CHANGE, A.SAY_CHANGED, A.STOP_APP, A.PRESTART, A.ARM_DEBOUNCE)),
    (State.RUNNING, Event.LIVE_CHANGE): (State.RUNNING, (A.RELOAD_BROWSERS,)),
    (State.RUNNING, Event.EXIT): (State.WAITING, (A.SHOW_CRASH, A.PREPARE_STANDBY)),
    (State.RUNNING, Event.PORT_BUSY): (State.WAITING, (A.WAIT_FOR_PORT, A.PREPARE_STANDBY)),
    (State.RUNNING, Event.SPAWN_FAILED): (State.WAITING, ()),
    (State.RUNNING, Event.SERVING): (State.RUNNING, (A.ON_SERVING,)),
    (State.RUNNING, Event.MODULES): (State.RUNNING, (A.BUILD_STANDBY,)),
    (State.RUNNING, Event.STOP): (State.STOPPING, _STOP_APP),
    (State.RESTARTING, Event.CHANGE): (State.RESTARTING, _CHANGED),
    (State.RESTARTING, Event.LIVE_CHANGE): (State.RESTARTING, _CHANGED),
    (State.RESTARTING, Event.EXIT): (State.SETTLING, (A.CHECK_BURST,)),
    (State.RESTARTING, Event.PORT_BUSY): (State.SETTLING, (A.CHECK_BURST,)),
    (State.RESTARTING, Event.SERVING): (State.RESTARTING, (A.ON_SERVING,)),
    (State.RESTARTING, Event.MODULES): (State.RESTARTING, (A.BUILD_STANDBY,)),
    (State.RESTARTING, Event.STOP): (State.STOPPING, _STOP_APP),
    (State.SETTLING, Event.CHANGE): (State.SETTLING, _CHANGED),
    (State.SETTLING, Event.LIVE_CHANGE): (State.SETTLING, _CHANGED),
    (State.SETTLING, Event.QUIET): (State.SETTLING, (A.CHECK_BURST,)),
    (State.SETTLING, Event.SETTLED): (State.RUNNING, (A.RESTART,)),
    (State.SETTLING, Event.STOP): (State.STOPPED, _LEAVE_NOW),
    (State.WAITING, Event.CHANGE): (State.SETTLING, _CHANGED_WHILE_WAITING),
    (State.WAITING, Event.LIVE_CHANGE): (State.SETTLING, _CHANGED_WHILE_WAITING),
    (State.WAITING, Event.PORT_FREE): (State.RUNNING, (A.START_APP,)),
    (State.WAITING, Event.STOP): (State.STOPPED, _LEAVE_NOW),
    (State.STOPPING, Event.EXIT): (State.STOPPED, (A.END,)),
    (State.STOPPING, Event.PORT_BUSY): (State.STOPPED, (A.END,)),
    (State.STOPPING, Event.SERVING): (State.STOPPING, (A.ON_SERVING,)),
    (State.STOPPING, Event.STOP): (State.STOPPING, (A.KILL_APP,)),
}

# Events that never move the state, whatever it is: the standby's life is its own (``warm.Standbys``).
ANY_STATE: dict[Event, tuple[Action, ...]] = {
    Event.STANDBY_READY: (A.NOTE_STANDBY_READY,),
    Event.STANDBY_LOST: (A.NOTE_STANDBY_LOST,),
}


def transition(state: State, event: Event) -> tuple[State, tuple[Action, ...]]:
    """The state after ``event`` in ``state``, and the actions to carry out (in order)."""
    if event in ANY_STATE:
        return state, ANY_STATE[event]
    return TABLE.get((state, event), (state, ()))
