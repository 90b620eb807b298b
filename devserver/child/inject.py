"""The live-reload script in the app's responses: where it goes, and what else must change with it.

Pure functions on bytes and header values (``tornado_hooks`` applies them to Tornado's responses):

* ``inject``: the script goes before the last ``</body>``; a page without one (``self.write("Hello")``)
  gets it at the end when the request is a browser's navigation; ``None`` when nothing is injected;
* ``error_as_html``: a plain-text error (``debug=True``'s traceback) becomes an HTML page with the
  script, for a browser's navigation only, so the page reloads once the code is fixed;
* ``derive_etag``: the ETag of the body actually sent: the app's ETag and the script, so a browser's
  ``If-None-Match`` from a page with another script (or none) never gets a 304;
* ``is_navigation``: is this request a browser loading a page (not ``fetch``, not an XHR fragment)?

Standard library only: it runs in the app process.
"""

import hashlib
import html
from typing import Optional

BODY_END = b"</body>"


def is_navigation(headers) -> bool:
    """A browser loading a document: ``Sec-Fetch-Dest: document``/``iframe``, or (older browsers,
    plain HTTP) no ``Sec-Fetch-Dest`` and an ``Accept`` that asks for HTML."""
    dest = headers.get("Sec-Fetch-Dest")
    if dest is not None:
        return dest in ("document", "iframe", "frame")
    return "text/html" in headers.get("Accept", "")


def inject(body: bytes, snippet: bytes, navigation: bool) -> Optional[bytes]:
    """``body`` with ``snippet`` before its last ``</body>`` (any case), else at the end of a
    navigation's page; None when it gets no script (an empty body, a fragment for ``fetch``)."""
    if not snippet or not body:
        return None
    end = body.lower().rfind(BODY_END)
    if end != -1:
        return body[:end] + snippet + body[end:]
    if navigation:
        return body + snippet
    return None


def error_as_html(status: int, text: bytes, snippet: bytes) -> bytes:
    """A plain-text error response as an HTML page with the script (the text shown as it was)."""
    title = html.escape(f"{status} error")
    shown = html.escape(text.decode("utf-8", "replace"))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body><pre style="white-space: pre-wrap">{shown}</pre>'
    ).encode() + snippet + b"</body></html>"


def derive_etag(etag: str, snippet: bytes) -> str:
    """The app's ETag (``"abc"``, ``W/"abc"``) made to depend on the script as well."""
    tag = hashlib.sha1(snippet).hexdigest()[:10]
    if etag.endswith('"') and len(etag) >= 2:
        return f'{etag[:-1]}-tdev{tag}"'
    return f'"{etag}-tdev{tag}"'
