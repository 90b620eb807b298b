"""Is the app paused in a debugger?  Looked up from the lifeline thread, which debuggers leave alone.

A thread stopped at a breakpoint sits in the debugger's own wait: pdb's prompt
(``Pdb.interaction``, reading the terminal) or pydevd's suspend loop (debugpy,
VS Code, PyCharm: ``PyDB.do_wait_suspend``).  Seeing one of those frames on
any thread's stack is the answer; nothing is patched in the debugger.  Cheap
when no debugger is loaded: two dictionary lookups.
"""

import sys
import types  # (already imported by the interpreter's start-up: costs nothing)

from devserver.channel import PAUSED_DEBUGGER as DEBUGGER
from devserver.channel import PAUSED_PDB as PDB

# (module, function names) of each debugger's wait for the user.
_WAITS = ((PDB, "pdb", ("interaction",)), (DEBUGGER, "pydevd", ("do_wait_suspend", "_do_wait_suspend")))


def loaded() -> bool:
    """Is a debugger loaded at all (it could pause the app)?"""
    return any(module_name in sys.modules for _kind, module_name, _functions in _WAITS)


def paused() -> "str | None":
    """``PDB``, ``DEBUGGER``, or None when no thread waits in a debugger."""
    waits = []
    for kind, module_name, functions in _WAITS:
        module = sys.modules.get(module_name)
        filename = getattr(module, "__file__", None)
        if filename:
            waits.append((kind, filename, functions))
    if not waits:
        return None
    frames = sys._current_frames()  # documented in sys (a CPython detail PyPy provides too)
    for top in frames.values():
        frame: types.FrameType | None = top  # (not evaluated: a local)
        while frame is not None:
            code = frame.f_code
            for kind, filename, functions in waits:
                if code.co_name in functions and code.co_filename == filename:
                    return kind
            frame = frame.f_back
    return None
