"""Entry point of the app process: ``python [flags] bootstrap.py USER-ARGV...``.

What tdev tells the app process (the channel's descriptor, the options, the
target) comes in the ``TDEV_CHILD`` environment variable, which is taken out of
``os.environ`` at once: the app and what it starts never see it.  The rest of
the command line is the user's (``app.py ARGS``, ``-m MODULE ARGS``), and on
Linux this file's path is cut out of what ``ps`` / ``top`` show, so the app
process reads as ``python app.py ARGS``.

It is started by file path, not with ``-m``, so it works under ``-S`` and ``-I``
and never shadows the app's ``sys.path``.  It takes its own directory back out
of ``sys.path``, imports the runtime from the ``devserver`` package next to it
(only the standard library and ``devserver.channel`` / ``devserver.compat`` /
``devserver.child``: this interpreter need not have tdev installed), and hands
over.  Everything the target sees is set up in ``runtime``.
"""

import os
import sys

CHILD_ENV = "TDEV_CHILD"


def _show_as_plain_python() -> None:
    """Cut this file's path out of the process's command line as ``ps`` reads it (Linux).

    The kernel shows the bytes between ``arg_start`` and ``arg_end`` of the process
    (``/proc/self/stat``); CPython has copied argv long before, so they may be
    rewritten in place: the same length, the bootstrap's path removed, NULs after."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            old = f.read()
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49 of stat(5), counted after "comm)"
        parts = old.split(b"\0")
        own = os.fsencode(sys.argv[0])
        if end - start != len(old) or own not in parts:
            return
        del parts[parts.index(own)]
        new = b"\0".join(parts)
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(new.ljust(len(old), b"\0"))
    except (OSError, ValueError, IndexError):
        pass  # not Linux, or no /proc: ps shows the bootstrap's path too


def _main() -> None:
    spec = os.environ.pop(CHILD_ENV, None)
    if spec is None:
        sys.exit("bootstrap.py is started by tdev")
    _show_as_plain_python()
    here = os.path.dirname(os.path.realpath(__file__))
    # Python put this file's directory first on sys.path (unless -I / -P): not the app's.
    if sys.path and sys.path[0] and os.path.realpath(sys.path[0]) == here:
        del sys.path[0]
    package_root = os.path.dirname(os.path.dirname(here))
    sys.path.insert(0, package_root)
    # tdev's own bytecode is cached even under PYTHONDONTWRITEBYTECODE (common in Docker images):
    # compiling these modules on every reload would cost milliseconds. The app's setting is restored.
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        from devserver.child import runtime
    finally:
        sys.dont_write_bytecode = dont_write
        sys.path.remove(package_root)
    runtime.main(spec)


if __name__ == "__main__":
    _main()
