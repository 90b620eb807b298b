"""Does the template engine that is reading a file right now read it again after it changes?

Asked (by ``reads``) once per file the app first reads while serving requests,
with the frame of the ``open``: the engine's own frames are on the stack, and
its settings are on the objects in them.  Nothing is patched or imported.

* Jinja2: the ``Environment`` (``environment`` in a loader's ``get_source``,
  ``self`` in ``Environment._load_template``): ``auto_reload`` (on by default)
  makes it check the file's time on each ``get_template`` and read it again
  when it changed; with no cache (``cache_size=0``) it always reads it.
* Tornado: a ``tornado.template.Loader`` called from ``RequestHandler.render``:
  the application's ``compiled_template_cache`` setting (off under
  ``debug=True``: the loader is reset on each request).

``True``: it does (a change needs no restart: the browser reloads and the page
is rendered from the new file); ``False``: it caches the template (a change
needs a restart); ``None``: no engine we know of is reading it.

Not Mako: its ``TemplateLookup(filesystem_checks=True)`` compares the file's
mtime in whole seconds with the time it compiled the template, so an edit saved
within the same second as a render is never seen.  Its templates are files read
once while serving, like any other: a change restarts the app.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    from typing import Any

MAX_FRAMES = 40  # how far up the stack an engine's frames are looked for


def rereads_on_change(frame: "types.FrameType | None") -> "bool | None":
    tornado_loader = False
    depth = 0
    while frame is not None and depth < MAX_FRAMES:
        filename = frame.f_code.co_filename
        if "jinja2" in filename:
            verdict = _jinja2_setting(frame.f_locals)
            if verdict is not None:
                return verdict
        elif "tornado" in filename:
            if filename.endswith("template.py"):
                tornado_loader = True
            elif tornado_loader and filename.endswith("web.py"):
                verdict = _tornado_setting(frame.f_locals.get("self"))
                if verdict is not None:
                    return verdict
        frame = frame.f_back
        depth += 1
    return None


def _jinja2_setting(names: "Any") -> "bool | None":
    for name in ("environment", "self"):
        obj = names.get(name)
        if obj is None:
            continue
        module = getattr(type(obj), "__module__", "") or ""
        if module.startswith("jinja2"):
            auto_reload = getattr(obj, "auto_reload", None)
            if isinstance(auto_reload, bool):
                return auto_reload or getattr(obj, "cache", None) is None
    return None


def _tornado_setting(handler: "Any") -> "bool | None":
    settings = getattr(getattr(handler, "application", None), "settings", None)
    if isinstance(settings, dict):
        return not settings.get("compiled_template_cache", True)
    return None
