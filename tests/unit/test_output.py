"""tdev's own lines: one line each, whatever the names in them; nothing breaks without a stderr or a cwd."""

import io
import os

from devserver.output import NORMAL, Output, display_path, printable


def test_control_characters_in_names_are_escaped():
    assert printable("a\nb.py changed") == "a\\nb.py changed"
    assert printable("\x1b[2Jevil.py") == "\\x1b[2Jevil.py"
    assert printable("caf\u00e9 \u2014 ok") == "caf\u00e9 \u2014 ok"  # printable non-ASCII stays


def test_every_message_is_one_line():
    stream = io.StringIO()
    out = Output(NORMAL, stream)
    out.change("bad\nname.py\r changed")
    out.error("\x1b]0;title\x07")
    lines = stream.getvalue().splitlines()
    assert lines == ["[tdev] bad\\nname.py\\r changed", "[tdev] \\x1b]0;title\\x07"]


def test_no_stream_drops_the_lines():
    out = Output(NORMAL, None)
    out.stream = None  # as under `tdev run app.py 2>&-`: sys.stderr is None
    out.error("nowhere to go")  # must not raise


def test_display_path_when_the_working_directory_is_gone(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    here = os.getcwd()
    os.chdir(gone)
    try:
        gone.rmdir()
        assert display_path("/somewhere/else.py") == "/somewhere/else.py"
    finally:
        os.chdir(here)
