"""Who counts as "this machine": the one rule behind the error page and the live-reload socket.

A request is *local* when all three hold:

=========================  ==================================================================
the peer                   a loopback address (127.0.0.0/8, ::1, IPv4-mapped loopback) or a
                           unix-socket client
the ``Host`` header        names a loopback host: ``localhost``, ``*.localhost``, a loopback
                           address (``127.x.y.z``, ``[::1]``), or an address tdev bound
no forwarding header       none of ``Forwarded``, ``X-Forwarded-For``, ``X-Forwarded-Host``,
                           ``X-Real-IP``
=========================  ==================================================================

The peer alone is not enough: a local tunnel or proxy (ssh -R, ngrok, a forwarded port, nginx)
and a DNS-rebinding page both reach the port from loopback, but they name another host or add a
forwarding header.  A WebSocket's ``Origin`` must name a loopback host too (``origin_is_loopback``).

Standard library only: the app process imports it as well.
"""

import ipaddress
from collections.abc import Iterable
from typing import Any, Optional
from urllib.parse import urlsplit

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def is_loopback(address: str) -> bool:
    """Is this client address on this machine (loopback IPv4/IPv6, IPv4-mapped loopback)?"""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    if mapped is not None:
        parsed = mapped
    return parsed.is_loopback


def host_name(authority: Optional[str]) -> str:
    """The host of a ``Host`` header value (``name:port``, ``[v6]:port``), lower case, without the
    trailing dot; "" when there is none or it is malformed."""
    if not authority or any(c in authority for c in "@/\\?# \t\r\n\x00"):
        return ""
    try:
        host = urlsplit("//" + authority).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".")


def is_loopback_name(host: str, bound: Iterable[str] = ()) -> bool:
    """``localhost``, ``*.localhost``, a loopback address, or one of ``bound`` (addresses tdev bound)."""
    host = host.lower().rstrip(".")
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if is_loopback(host):
        return True
    return any(host == b.lower().strip("[]") for b in bound if b)


def origin_is_loopback(origin: Optional[str]) -> bool:
    """A page's ``Origin`` (http://localhost:8888, http://127.0.0.1:8000, http://[::1]/ ...) names
    this machine by a loopback host.  ``null`` and anything unparsable do not."""
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/") or "@" in parts.netloc:
        return False
    return is_loopback_name(host_name(parts.netloc))


def _header(headers: Any, name: str) -> Optional[str]:
    for key in headers:
        if key.lower() == name:
            return headers[key]
    return None


def forwarded(headers: Any) -> bool:
    """Does the request carry a header a proxy or tunnel adds?"""
    return any(key.lower() in FORWARDING_HEADERS for key in headers)


def is_local_request(peer: Optional[str], headers: Any, bound: Iterable[str] = ()) -> bool:
    """The rule above.  ``peer``: the client's address, or None for a unix-socket client;
    ``headers``: the request's headers (a mapping); ``bound``: addresses tdev listens on."""
    if peer is not None and not is_loopback(peer):
        return False
    if forwarded(headers):
        return False
    return is_loopback_name(host_name(_header(headers, "host")), bound)
