"""Entry point of the app process: ``python [flags] bootstrap.py FD OPTIONS MODE TARGET [ARGS...]``.

It is started by file path, not with ``-m``, so it works under ``-S`` and ``-I``
and never shadows the app's ``sys.path``.  It takes its own directory back out
of ``sys.path``, imports the runtime from the ``devserver`` package next to it,
and hands over.  Everything the target sees is set up in ``runtime``.
"""

import os
import sys


def _main() -> None:
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
    runtime.main(sys.argv[1:])


if __name__ == "__main__":
    _main()
