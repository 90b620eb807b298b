"""Serve a ``module:attr`` target: an ``Application`` object or a factory returning one.

This is the ``main()`` a user would otherwise write while developing::

    app = make_app()
    app.listen(port, address=host)
    await asyncio.Event().wait()

``--debug`` gives the app Tornado's debug settings (except autoreload, which
stays with tdev).  Also runnable on its own (``--no-reload``)::

    python -m devserver.child.app_target HOST PORT DEBUG module:attr [ARGS...]
"""

import importlib
import os
import sys

TYPE_CHECKING = False  # for the type checker only: the app process imports Tornado when the app does
if TYPE_CHECKING:
    from typing import Callable

    from tornado.web import Application

DEBUG_SETTINGS = {"compiled_template_cache": False, "static_hash_cache": False, "serve_traceback": True}


def load(spec: str) -> "Application":
    """Import ``module`` and return the Application ``attr`` names (calling it if it is a factory)."""
    from tornado.web import Application

    module_name, _, attr = spec.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError(f"{spec}: module {module_name!r} has no attribute {attr!r}") from None
    if isinstance(obj, Application):
        return obj
    if not callable(obj):
        raise TypeError(f"{spec} is a {type(obj).__name__}, not a tornado.web.Application or a factory returning one")
    app = obj()
    if not isinstance(app, Application):
        raise TypeError(f"{spec}() returned {type(app).__name__}, expected a tornado.web.Application")
    return app


def apply_debug(app: "Application") -> None:
    """Tornado's ``debug=True``, applied to a built app; the settings involved are read per request."""
    app.settings["debug"] = True
    for key, value in DEBUG_SETTINGS.items():
        app.settings.setdefault(key, value)


def prepare(spec: str, args: "list[str]") -> None:
    """Like ``python -m``: argv is ``[spec, *args]``, the working directory is first on ``sys.path``."""
    sys.argv[:] = [spec, *args]
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        sys.path.insert(0, os.getcwd())


def serve(spec: str, host: str, port: int, debug: bool,
          on_app: "Callable[[Application], None] | None" = None) -> None:
    """Build the app, listen, run the event loop until stopped."""
    app = load(spec)
    if debug:
        apply_debug(app)
    if on_app is not None:
        on_app(app)
    import asyncio
    import logging

    if not logging.getLogger().handlers:
        from tornado.log import enable_pretty_logging

        logging.getLogger().setLevel(logging.INFO)
        enable_pretty_logging()  # access log and errors, as tornado.options.parse_command_line would

    async def main() -> None:
        app.listen(port, address=host)
        await asyncio.Event().wait()

    asyncio.run(main())


def _main(argv: "list[str]") -> None:
    host, port, debug, spec, *args = argv
    prepare(spec, args)
    serve(spec, host, int(port), debug == "1")


if __name__ == "__main__":
    # ``-m`` put the working directory on sys.path already.
    del sys.path[0]
    _main(sys.argv[1:])
