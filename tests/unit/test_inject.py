"""Where the live-reload script goes, and what changes with it (devserver/child/inject.py)."""

import pytest

from devserver.child import inject
from devserver.child.inject import derive_etag, extend_csp, inject as put, is_navigation, meta_csp

SNIPPET = "<script>x()</script>"
HASH = inject.script_hash(SNIPPET)
WS = "ws://127.0.0.1:65352/__tdev__/livereload"


def test_script_hash_is_the_csp_hash_of_the_inline_code():
    import base64
    import hashlib

    assert HASH == "'sha256-" + base64.b64encode(hashlib.sha256(b"x()").digest()).decode() + "'"


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("default-src 'self'",
         f"default-src 'self'; script-src 'self' {HASH}; connect-src 'self' ws://127.0.0.1:65352"),
        ("script-src 'self'", f"script-src 'self' {HASH}"),  # connect-src not restricted: left alone
        ("script-src 'none'; connect-src 'none'", f"script-src {HASH}; connect-src ws://127.0.0.1:65352"),
        ("script-src-elem 'self'; script-src 'self'", f"script-src-elem 'self' {HASH}; script-src 'self' {HASH}"),
        # Inline scripts already allowed: adding a hash would turn 'unsafe-inline' off, so no change.
        ("script-src 'self' 'unsafe-inline'", "script-src 'self' 'unsafe-inline'"),
        ("default-src 'self' 'unsafe-inline'",
         "default-src 'self' 'unsafe-inline'; connect-src 'self' 'unsafe-inline' ws://127.0.0.1:65352"),
        # A nonce or a hash makes 'unsafe-inline' ignored: ours is added next to them.
        ("script-src 'nonce-abc' 'unsafe-inline'", f"script-src 'nonce-abc' 'unsafe-inline' {HASH}"),
        ("script-src 'strict-dynamic' 'nonce-abc'", f"script-src 'strict-dynamic' 'nonce-abc' {HASH}"),
        ("img-src *; frame-ancestors 'none'", "img-src *; frame-ancestors 'none'"),
        ("script-src 'self', connect-src 'self'",  # two policies in one header: each is extended
         f"script-src 'self' {HASH}, connect-src 'self' ws://127.0.0.1:65352"),
    ],
)
def test_a_policy_is_extended_for_tdevs_script_and_socket_only(policy, expected):
    assert extend_csp(policy, SNIPPET, WS) == expected


def test_meta_policies_are_recognised():
    assert meta_csp(b'<head><meta http-equiv="Content-Security-Policy" content="x"></head>')
    assert meta_csp(b"<META HTTP-EQUIV=content-security-policy CONTENT=x>")
    assert not meta_csp(b'<meta name="viewport" content="width=device-width">')


def test_injection_and_navigation():
    assert put(b"<html><BODY>x</BODY></html>", b"<s>", False) == b"<html><BODY>x<s></BODY></html>"
    assert put(b"Hello", b"<s>", True) == b"Hello<s>"
    assert put(b"Hello", b"<s>", False) is None  # a fragment for fetch()
    assert put(b"", b"<s>", True) is None
    assert is_navigation({"Sec-Fetch-Dest": "document", "Accept": "*/*"})
    assert not is_navigation({"Sec-Fetch-Dest": "empty", "Accept": "text/html"})
    assert is_navigation({"Accept": "text/html,*/*"}) and not is_navigation({"Accept": "*/*"})


def test_the_etag_changes_with_the_script():
    assert derive_etag('"abc"', b"<s1>") == derive_etag('"abc"', b"<s1>") != derive_etag('"abc"', b"<s2>")
    assert derive_etag('"abc"', b"<s1>").startswith('"abc-tdev') and derive_etag('W/"abc"', b"x").startswith('W/"abc-')
