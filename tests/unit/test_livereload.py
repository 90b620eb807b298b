"""The live-reload script and its address, in isolation."""

import re

from devserver.livereload import port_for, script


def test_the_port_is_the_same_for_the_same_app_port_and_above_linux_ephemeral_ports():
    assert port_for(8888) == port_for(8888) == 65352
    assert port_for(8000) != port_for(8001)
    assert all(61000 <= port_for(p) <= 65535 for p in range(1, 65536))
    assert port_for(None) == port_for(0) == 0  # no TCP port (unix sockets only): any free port


def test_a_post_result_is_reloaded_with_a_get_never_by_resending_the_form():
    get, post = script("ws://127.0.0.1:1/x", "run1"), script("ws://127.0.0.1:1/x", "run1", post=True)
    assert "post=0" in get and "post=1" in post
    go = re.search(r"function go\(\)\{(.*?)\}function", get).group(1)
    assert go == "if(post){location.replace(location.href.split('#')[0]);}else{location.reload();}"
    # Another run of tdev in the server's hello reloads the page; the same run does not.
    assert "if(m.type==='hello'){wait=1000;if(m.run!==run)go();}" in get
    assert 'run="run1"' in get
    # Reconnecting: after 1 s, then twice as long each time, up to every 5 s.
    assert "wait=1000;" in get and "setTimeout(connect,wait);wait=Math.min(wait*2,5000);" in get
