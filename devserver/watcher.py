"""File watching with watchdog: plan the watches, filter events, fall back to polling.

The project tree is watched recursively, except that directories holding big
ignored trees (``.git``, ``.venv``, ``node_modules``...) are watched one level
only and their other subdirectories recursively, so those trees cost neither
inotify watches nor start-up time.  Files outside every tree (imported modules
of other projects, ``--watch`` files) are watched through their directory,
non-recursively: atomic saves (write a temp file, rename it over) are seen too.

Events are filtered on watchdog's thread; only paths that count reach the
supervisor, through ``on_change(paths)``.  Everything else the watcher does
(scheduling watches, falling back to polling) happens on the supervisor's
loop thread: watchdog's thread only *queues* work there, so the two never
hold each other's locks.  The queue is drained in batches (one wake-up of the
loop however many events arrived meanwhile), and the changes between two other
steps reach ``on_change`` as one list: a 60 000-event burst costs the loop a
few calls, not 60 000.
"""

import errno
import logging
import os
import threading
import time
from typing import Any

from devserver import watchset
from devserver.filters import PathFilter, is_under

# Event types that mean the content may have changed (never opened / closed-without-write).
_CHANGE_EVENTS = frozenset({"created", "modified", "deleted", "moved", "closed"})
_CHANGED = object()  # in the watcher's queue: paths that changed
POLL_INTERVAL = 0.5


class Watcher:
    def __init__(self, path_filter: PathFilter, on_change, output, post, poll: bool = False) -> None:
        """``post(fn, *args)`` runs ``fn(*args)`` on the owner's thread (e.g. ``loop.call_soon_threadsafe``)."""
        self.filter = path_filter
        self.on_change = on_change
        self.post = post
        self.output = output
        self.poll = poll
        self.backend = "polling" if poll else "native"
        self._observer: Any = None  # a watchdog observer (native or polling) while watching
        self._watches: dict[str, tuple[bool, object]] = {}  # dir -> (recursive, watchdog watch)
        self._wanted: dict[str, bool] = {}  # dir -> recursive: what we want watched, whatever the backend
        self._lost: dict[str, bool] = {}  # a wanted dir that is gone -> recursive: watched again when back
        self._handler = _Handler(self)
        self._logs = _WatchdogLogs(self._on_watchdog_log)
        self.problems: set[str] = set()
        self.overflowed = False
        # Files modified and not closed yet (inotify only): a writer may be half-way through a save.
        self._writing: dict[str, float] = {}
        self._queue: list[tuple[Any, tuple]] = []  # work queued by watchdog's thread, run in order on ours
        self._queue_lock = threading.Lock()

    # -- from watchdog's thread to the loop's ---------------------------------------------
    def queue(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the loop thread, after everything queued before it (any thread)."""
        with self._queue_lock:
            self._queue.append((fn, args))
            wake = len(self._queue) == 1
        if wake:
            self.post(self._drain)

    def queue_change(self, paths: "list[str]") -> None:
        self.queue(_CHANGED, paths)

    def _drain(self) -> None:
        """Run what was queued: consecutive changes become one ``on_change`` (a file's "still being
        written" note does not split them: it starts nothing); anything else runs after them."""
        with self._queue_lock:
            items, self._queue = self._queue, []
        changed: dict[str, None] = {}
        for fn, args in items:
            if fn is _CHANGED:
                changed.update(dict.fromkeys(args[0]))
                continue
            if changed and fn != self._note_writing:
                self.on_change(list(changed))
                changed = {}
            fn(*args)
        if changed:
            self.on_change(list(changed))

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        self._logs.attach()
        for root in list(self.filter.trees):
            for directory, recursive in self._plan(root):
                self._wanted[directory] = recursive
            if not os.path.isdir(root):
                self._wanted[root] = True  # scheduling it finds it missing: waited for
        for path in list(self.filter.files):
            self._want_file_dir(path)
        self._start_observer()

    def refresh(self) -> None:
        """Plan and schedule every watch again (after events were lost: new directories get watched).

        The new observer starts before the old one stops, so no event falls in between."""
        self.overflowed = False
        old = self._observer
        self._observer, self._watches = None, {}
        self._wanted.clear()
        self._lost.clear()
        self.start()
        if old is not None:
            try:
                old.stop()
                old.join(timeout=2)
            except Exception:
                pass

    def _on_overflow(self) -> None:
        """The kernel dropped events (inotify queue overflow): say so, and count it as a change."""
        if not self.overflowed:
            self.overflowed = True
            self.output.warn("inotify queue overflowed: file events were lost — rescanning and restarting")
            self.on_change(list(self.filter.trees) or list(self.filter.files)[:1])

    def stop(self) -> None:
        self._logs.detach()
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=2)

    def _start_observer(self) -> None:
        if not self.poll:
            try:
                from watchdog.observers import Observer

                observer = Observer()
                self._observer = observer
                self._schedule_all()
                observer.start()
                self.backend = _backend_name(observer)
                if self.backend == "inotify" and self._wanted and inotify_watch_limit_reached(next(iter(self._wanted))):
                    # watchdog drops subdirectories it could not watch without a word: check ourselves.
                    raise OSError(errno.ENOSPC, "inotify watch limit reached")
                return
            except OSError as exc:
                self._stop_quietly()
                self.output.warn(native_failure_message(exc))
        self._start_polling()

    def _start_polling(self) -> None:
        from watchdog.observers.polling import PollingObserverVFS

        self.poll = True
        self.backend = "polling"
        self._watches.clear()
        self._observer = PollingObserverVFS(os.stat, self._listdir, polling_interval=POLL_INTERVAL)
        self._schedule_all()
        self._observer.start()

    def _stop_quietly(self) -> None:
        observer, self._observer = self._observer, None
        self._watches.clear()
        if observer is not None:
            try:
                observer.stop()
                if observer.is_alive():
                    observer.join(timeout=2)
            except Exception:
                pass

    def _schedule_all(self) -> None:
        for directory, recursive in list(self._wanted.items()):
            self._schedule(directory, recursive)

    def _schedule(self, directory: str, recursive: bool) -> None:
        existing = self._watches.get(directory)
        if existing is not None and existing[0] == recursive:
            return
        try:
            if existing is not None:
                self._observer.unschedule(existing[1])
            try:
                watch = self._observer.schedule(self._handler, directory, recursive=recursive,
                                                event_filter=_event_filter())
            except TypeError:  # a watchdog without event filters
                watch = self._observer.schedule(self._handler, directory, recursive=recursive)
        except FileNotFoundError:
            self._wanted.pop(directory, None)
            self._lost[directory] = recursive
            self._watch_nearest_ancestor(directory, self._schedule)
            return
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE) and not self.poll:
                raise
            self._note_problem(f"cannot watch {directory}: {exc.strerror or exc}")
            return
        self._watches[directory] = (recursive, watch)

    def _listdir(self, path):
        """``os.scandir`` for the polling backend, without ignored directories."""
        for entry in os.scandir(path):
            try:
                if entry.is_dir(follow_symlinks=False) and self.filter.is_ignored_dir(entry.path):
                    continue
            except OSError:
                continue
            yield entry

    def _on_watchdog_log(self, message: str) -> None:
        """A warning logged by watchdog (on its thread): an overflow is acted on, the rest shown under -v."""
        if "overflow" in message.lower():
            self.queue(self._on_overflow)
        else:
            self.queue(self._note_problem, f"watchdog: {message}")

    def _note_problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.add(message)
            self.output.debug(message)

    # -- growing the watch set ------------------------------------------------------------
    def add_files(self, paths) -> "list[str]":
        """Watch more single files (imported modules, autoreload.watch files). Returns the new ones."""
        added = []
        for path in paths:
            if self.filter.add_file(path):
                added.append(path)
                if self._observer is not None:
                    self._want_file_dir(path, schedule=True)
        return added

    def add_tree(self, root: str) -> None:
        """Watch one more directory tree (already added to the filter), unless it is covered."""
        if self._covered(root) or self._observer is None:
            return
        for directory, recursive in self._plan(root):
            self._wanted[directory] = recursive
            self._schedule_or_fall_back(directory, recursive)

    def _plan(self, root: str) -> "list[tuple[str, bool]]":
        """``plan_tree`` for ``root``; the virtualenvs it finds are ignored from now on."""
        plan, virtualenvs = plan_tree(root, self.filter, self._note_problem)
        for directory in virtualenvs:
            self.filter.ignore_dir(directory)
        return plan

    def _want_file_dir(self, path: str, schedule: bool = False) -> None:
        directory, recursive = self._watch_for_file(path)
        if self._covered(directory):
            return
        self._wanted[directory] = recursive
        if schedule:
            self._schedule_or_fall_back(directory, recursive)

    def _watch_for_file(self, path: str) -> "tuple[str, bool]":
        """The watch that covers one file: its directory, or, for an installed package, the
        package's top directory, recursively (one watch per package instead of one per
        subdirectory: a heavy app imports from hundreds of them)."""
        for site in self.filter.site:
            if is_under(path, site) and path != site:
                top = os.path.relpath(path, site).split(os.sep, 1)
                if len(top) == 1:
                    return site, False  # a single-file module right in site-packages
                return os.path.join(site, top[0]), True
        return os.path.dirname(path), False

    def _covered(self, directory: str) -> bool:
        """Already watched: the directory itself, or below a recursive watch."""
        if directory in self._wanted:
            return True
        parent = directory
        while True:
            if self._wanted.get(parent):
                return True
            up = os.path.dirname(parent)
            if up == parent:
                return False
            parent = up

    def _schedule_or_fall_back(self, directory: str, recursive: bool) -> None:
        try:
            self._schedule(directory, recursive)
        except OSError as exc:
            self.output.warn(native_failure_message(exc))
            self._stop_quietly()
            self._start_polling()

    def _directory_event(self, event_type: str, path: str, dest: "str | None") -> None:
        """Keep the plan true when directories come and go (loop thread): a new directory below a
        one-level watch gets its own watch; a watched directory that goes is waited for, and
        watched again when it comes back (a branch switch, ``rm -rf pkg && cp -r ...``)."""
        if self._observer is None:
            return
        if event_type == "created" or (event_type == "moved" and dest):
            new = dest if event_type == "moved" and dest else path
            if self._out_of_watches(new):
                return
            self._grow_split_tree(new)
            self._restore_lost(new)
        if event_type in ("deleted", "moved") and path in self._watches:
            self._lose(path)

    def _out_of_watches(self, new: str) -> bool:
        """A directory appeared below a recursive inotify watch: watchdog adds a watch for it, and
        drops it without a word when the inotify watch limit is reached.  Check for ourselves; if
        the limit is reached, say so once and poll everything from now on (its files count)."""
        if self.poll or self.backend != "inotify" or not inotify_watch_limit_reached(new):
            return False
        self.output.warn(native_failure_message(OSError(errno.ENOSPC, "inotify watch limit reached")))
        self._stop_quietly()
        self._start_polling()
        found = [p for p in _walk_files(new, self.filter) if self.filter.matches(p)]
        if found:
            self.on_change(found)
        return True

    def _grow_split_tree(self, new: str) -> None:
        parent = os.path.dirname(new)
        if self._wanted.get(parent) is False and self.filter.tree_of(parent) is not None:
            if new not in self._wanted and not self.filter.is_ignored_dir(new):
                self._wanted[new] = True
                self._schedule_or_fall_back(new, True)
                # Files written before the watch existed: they count too.
                found = [p for p in _walk_files(new, self.filter) if self.filter.matches(p)]
                if found:
                    self.on_change(found)

    def _check_vanished(self, path: str) -> None:
        """A file went: did a watched directory go with it?  inotify says nothing of a directory that
        is some process's working directory (tdev's own, the app's) until the last one leaves it."""
        if os.path.isdir(os.path.dirname(path)):
            return
        for directory in [d for d in self._watches if is_under(path, d) and not os.path.isdir(d)]:
            self._lose(directory)

    def recheck(self) -> None:
        """Before a restart: a watched directory that is gone without a word (the working directory
        removed between two of its files' events) is waited for from now on.  Its files already
        count as changed: this restart is for them."""
        for directory in [d for d in self._watches if not os.path.isdir(d)]:
            self._lose(directory, report=False)

    def _lose(self, directory: str, report: bool = True) -> None:
        """A watched directory is gone: drop its watch, and watch the nearest directory above it
        that exists, so that its coming back is seen."""
        if os.path.isdir(directory) or directory not in self._watches:
            return  # moved away and already back, or already lost (a stale event)
        recursive, watch = self._watches.pop(directory)
        try:
            self._observer.unschedule(watch)
        except Exception:
            pass
        self._lost[directory] = self._wanted.pop(directory, recursive)
        self._watch_nearest_ancestor(directory)
        gone = [path for path in self.filter.files if is_under(path, directory)]
        if gone and report:  # the polling backend reports the directory alone, not each file in it
            self.on_change(sorted(gone))

    def _watch_nearest_ancestor(self, directory: str, schedule=None) -> None:
        ancestor = os.path.dirname(directory)
        while ancestor != os.path.dirname(ancestor) and not os.path.isdir(ancestor):
            ancestor = os.path.dirname(ancestor)
        if not self._covered(ancestor):
            self._wanted[ancestor] = False
            (schedule or self._schedule_or_fall_back)(ancestor, False)

    def _restore_lost(self, new: str) -> None:
        """``new`` appeared: lost directories at or below it are watched again, and their files
        that exist now count as changed (written before the watch was back)."""
        back = []
        for directory in [d for d in self._lost if d == new or is_under(d, new)]:
            if not os.path.isdir(directory):
                self._watch_nearest_ancestor(directory)  # a deeper part is still missing
                continue
            recursive = self._lost.pop(directory)
            self._wanted[directory] = recursive
            self._schedule_or_fall_back(directory, recursive)
            back.append((directory, recursive))
        found = [
            path for path in self.filter.files
            if any(os.path.dirname(path) == d or (r and is_under(path, d)) for d, r in back) and os.path.exists(path)
        ]
        for directory, recursive in back:
            if recursive:
                found += [p for p in _walk_files(directory, self.filter) if self.filter.matches(p) and p not in found]
        if found:
            self.on_change(sorted(found))

    def _note_writing(self, path: str, open_for_writing: bool) -> None:
        """inotify says "modified" while a file is written and "closed" when the writer is done."""
        if open_for_writing:
            self._writing.setdefault(path, time.monotonic())
        else:
            self._writing.pop(path, None)

    def open_for_writing(self, paths) -> bool:
        """Is one of ``paths`` modified and not closed yet (a writer half-way through a save)?"""
        return bool(self._writing) and any(p in self._writing for p in paths)

    def forget_open_writers(self) -> None:
        """Count every file as closed: one held open for good (a log?) must not hold restarts back."""
        self._writing.clear()

    # -- reporting ----------------------------------------------------------------------
    def summary(self) -> str:
        dirs = len(self._wanted)
        recursive = sum(1 for r in self._wanted.values() if r)
        files = len(self.filter.files)
        return (
            f"watching {files} file{'s' * (files != 1)} and {dirs} director{'ies' if dirs != 1 else 'y'} "
            f"({recursive} recursive, {self.backend})"
        )

    def describe(self) -> "list[str]":
        lines = []
        for root, patterns in self.filter.trees.items():
            lines.append(f"tree {root} ({', '.join(patterns)})")
        for directory, recursive in sorted(self._wanted.items()):
            lines.append(f"  {'recursive' if recursive else 'one level'}: {directory}")
        if self.filter.files:
            lines.append(f"  {watchset.describe(self.filter.files, 'files:')}")
        if self.filter.ignore:
            lines.append(f"ignoring (--ignore): {', '.join(self.filter.ignore)}")
        return lines


def _event_filter() -> list:
    """The events tdev acts on. Without a filter, inotify also reports every open and read-only
    close: each start of an app that imports scikit-learn meant thousands of events (its .pyc files
    being read) and ~70 ms of the supervisor's CPU, next to the app starting up."""
    from watchdog import events

    return [
        events.FileCreatedEvent, events.FileModifiedEvent, events.FileDeletedEvent, events.FileMovedEvent,
        events.FileClosedEvent, events.DirCreatedEvent, events.DirDeletedEvent, events.DirMovedEvent,
    ]


class _Handler:
    """watchdog's handler interface, reduced to what tdev needs (runs on watchdog's thread)."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def dispatch(self, event) -> None:
        event_type = event.event_type
        if event_type not in _CHANGE_EVENTS:
            return
        src = _text(event.src_path)
        dest = _text(getattr(event, "dest_path", "") or "") or None
        try:
            watcher = self.watcher
            if event.is_directory:
                if event_type in ("modified", "closed"):
                    return
                watcher.queue(watcher._directory_event, event_type, src, dest)
                if event_type == "created":
                    return  # the files inside it are reported on their own
            if event_type in ("deleted", "moved") and not event.is_directory:
                watcher.queue(watcher._check_vanished, src)
            paths = [p for p in (src, dest) if p and watcher.filter.matches(p, event.is_directory)]
            if paths:
                if watcher.backend == "inotify" and not event.is_directory and event_type in ("modified", "closed"):
                    watcher.queue(watcher._note_writing, src, event_type == "modified")
                watcher.queue_change(paths)
        except Exception as exc:  # never let a strange path kill the watch thread
            self.watcher._note_problem(f"ignored an event for {src!r}: {exc!r}")


class _WatchdogLogs(logging.Handler):
    """Routes watchdog's own warnings to one watcher's callback instead of the terminal."""

    def __init__(self, report) -> None:
        super().__init__(logging.WARNING)
        self.report = report  # report(message), called on the logging thread

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.report(record.getMessage())
        except Exception:
            pass

    def attach(self) -> None:
        logger = logging.getLogger("watchdog")
        if self not in logger.handlers:
            logger.addHandler(self)
        logger.propagate = False  # no raw "WARNING:watchdog..." lines on the terminal

    def detach(self) -> None:
        logging.getLogger("watchdog").removeHandler(self)


def _text(path) -> str:
    return os.fsdecode(path) if isinstance(path, bytes) else path


def plan_tree(
    root: str, path_filter: PathFilter, on_problem=lambda message: None
) -> "tuple[list[tuple[str, bool]], list[str]]":
    """Which directories to watch under ``root``, and whether recursively; and the virtualenvs found.

    A directory with no ignored directory anywhere below it is watched
    recursively; one that has is watched one level only and its children are
    planned the same way.  ``__pycache__`` alone does not split a tree (it is
    everywhere and small).  Symlinked directories are not followed (no loops),
    unreadable ones are reported once through ``on_problem``.  Virtualenvs
    (found by their ``pyvenv.cfg``) are left out and returned, for the caller to ignore.
    """
    virtualenvs: list[str] = []
    children: dict[str, list[str]] = {}
    heavy: dict[str, bool] = {}
    order = []
    stack = [root]
    while stack:
        directory = stack.pop()
        order.append(directory)
        try:
            kids, split = _subdirectories(directory, path_filter, virtualenvs)
        except OSError as exc:
            on_problem(f"cannot read directory {directory}: {exc.strerror or exc}")
            kids, split = [], True  # do not let the backend walk into it either
        children[directory] = kids
        heavy[directory] = split
        stack.extend(kids)
    for directory in reversed(order):  # children before parents
        if any(heavy[kid] for kid in children[directory]):
            heavy[directory] = True
    plan = []

    def emit(directory: str) -> None:
        if not heavy[directory]:
            plan.append((directory, True))
        else:
            plan.append((directory, False))
            for kid in children[directory]:
                emit(kid)

    if os.path.isdir(root):
        emit(root)
    return plan, virtualenvs


def _subdirectories(directory: str, path_filter: PathFilter, virtualenvs: "list[str]") -> "tuple[list[str], bool]":
    """The subdirectories of ``directory`` to plan, and whether an ignored one (or a virtualenv,
    appended to ``virtualenvs``) splits it.  Raises OSError when it cannot be read."""
    kids = []
    split = False
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.name == "__pycache__":
                    continue
            except OSError:
                continue
            if path_filter.is_ignored_dir(entry.path):
                split = True
            elif _is_virtualenv(entry.path):
                virtualenvs.append(entry.path)
                split = True
            else:
                kids.append(entry.path)
    return kids, split


def _is_virtualenv(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


def _walk_files(directory: str, path_filter: PathFilter):
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not path_filter.is_ignored_dir(os.path.join(dirpath, d))]
        for name in filenames:
            yield os.path.join(dirpath, name)


def _backend_name(observer) -> str:
    name = type(observer).__name__.lower()
    for backend in ("inotify", "fsevents", "kqueue", "windowsapi", "readdirectorychanges", "polling"):
        if backend in name:
            return "windows" if backend in ("windowsapi", "readdirectorychanges") else backend
    return name.replace("observer", "") or "native"


def inotify_watch_limit_reached(directory: str) -> bool:
    """True when not one more inotify watch can be added (Linux): the limit was hit on the way."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_CLOEXEC)
    except (OSError, AttributeError):
        return False
    if fd < 0:
        return False  # no instance left: watchdog's own instance exists, so that is not a lost watch
    try:
        wd = libc.inotify_add_watch(fd, os.fsencode(directory), 0x2)  # IN_MODIFY
        return wd < 0 and ctypes.get_errno() == errno.ENOSPC
    finally:
        os.close(fd)


def native_failure_message(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return (
            "inotify watch limit reached: falling back to polling. "
            "Raise the limit with: sudo sysctl fs.inotify.max_user_watches=524288"
        )
    if exc.errno == errno.EMFILE:
        return (
            "inotify instance limit (or open-files limit) reached: falling back to polling. "
            "Raise it with: sudo sysctl fs.inotify.max_user_instances=512"
        )
    return f"native file watching unavailable ({exc.strerror or exc}): falling back to polling"
