"""The live-reload script in the app's responses: where it goes, and what else must change with it.

Pure functions on bytes and header values (``tornado_hooks`` applies them to Tornado's responses):

* ``inject``: the script goes before the last ``</body>``; a page without one (``self.write("Hello")``)
  gets it at the end when the request is a browser's navigation; ``None`` when nothing is injected;
* ``error_as_html``: a plain-text error (``debug=True``'s traceback) becomes an HTML page with the
  script, for a browser's navigation only, so the page reloads once the code is fixed;
* ``derive_etag``: the ETag of the body actually sent: the app's ETag and the script, so a browser's
  ``If-None-Match`` from a page with another script (or none) never gets a 304;
* ``is_navigation``: is this request a browser loading a page (not ``fetch``, not an XHR fragment)?
* ``extend_csp``: a ``Content-Security-Policy`` header that forbids inline scripts lets tdev's script
  run by its hash (deterministic, unlike a nonce, so the ETag stays valid) and lets it connect to its
  WebSocket URL, nothing more; ``meta_csp``: a policy in a ``<meta>`` tag, which tdev does not edit.

Standard library only: it runs in the app process.
"""

import base64
import hashlib
import html
import re
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


_INLINE_MARKS = ("'nonce-", "'sha256-", "'sha384-", "'sha512-", "'strict-dynamic'")


def script_hash(snippet: str) -> str:
    """The CSP hash source of the snippet's inline script (``'sha256-...'``)."""
    body = snippet[len("<script>"):-len("</script>")] if snippet.startswith("<script>") else snippet
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii") + "'"


def _allows_inline(sources: "list[str]") -> bool:
    lowered = [s.lower() for s in sources]
    return "'unsafe-inline'" in lowered and not any(s.startswith(_INLINE_MARKS) for s in lowered)


def _add_source(sources: "list[str]", source: str) -> "list[str]":
    return [s for s in sources if s.lower() != "'none'"] + [source]


def extend_csp(header: str, snippet: str, ws_url: str) -> str:
    """A ``Content-Security-Policy`` value that also lets tdev's own script run (its hash: this exact
    script, nothing else) and connect to its WebSocket (this URL, nothing else).  Directives that
    already allow it are left alone; where only ``default-src`` governs, an explicit ``script-src`` /
    ``connect-src`` with ``default-src``'s sources is added, so nothing else changes."""
    policies = []
    for policy in header.split(","):
        directives = [d.split() for d in policy.split(";") if d.strip()]
        names = [d[0].lower() for d in directives]
        default = directives[names.index("default-src")][1:] if "default-src" in names else None
        origin = "/".join(ws_url.split("/")[:3])  # ws://127.0.0.1:PORT
        for name, source, inline in (("script-src", script_hash(snippet), True), ("connect-src", origin, False)):
            targets = [d for d in directives if d[0].lower() == name or (inline and d[0].lower() == "script-src-elem")]
            if not targets and default is not None and not (inline and _allows_inline(default)):
                directives.append([name, *default])
                targets = [directives[-1]]
            for directive in targets:
                sources = directive[1:]
                if inline and _allows_inline(sources):
                    continue
                directive[1:] = _add_source(sources, source)
        policies.append("; ".join(" ".join(d) for d in directives))
    return ", ".join(policies)


def meta_csp(body: bytes) -> bool:
    """Does the page set a policy in a ``<meta http-equiv="Content-Security-Policy">`` (not editable here)?"""
    return re.search(rb"<meta[^>]+http-equiv\s*=\s*[\"']?content-security-policy[\"'\s>]", body, re.I) is not None
