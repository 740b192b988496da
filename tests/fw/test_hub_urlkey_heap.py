# URL keys on a heap too full for their code (lockshell/hub.py, lockshell/urlcmd.py): the first URL key
# command is refused no-memory, logged, and nothing is loaded; once the heap has room again the
# next one is served. A module of its own: a fresh interpreter, the code not loaded yet. On
# CPython (no gc.mem_free) the code is always loaded: the command is served.
import gc
import sys

from hubkit import U, rig, online, command, records
gc.collect()
from lockctl.urlkey import window_args
from lockctl.codes import OP_URL_KEY, LOG_COMMAND_REFUSED, LOG_URL_KEY, R_NO_MEMORY
gc.collect()

MP_HEAP = "96wK"  # the whole firmware (tests/conftest.py)


def _fill(ballast, spare):
    """Fill the heap to the last byte, then give `spare` 64-byte pieces back: room to handle a
    command, none to load a module."""
    gc.collect()
    try:
        while True:
            ballast.append(bytearray(64))
    except MemoryError:
        pass
    del ballast[-spare:]


def test_a_heap_too_full_for_the_url_key_code_refuses_no_memory():
    d, h = rig()
    online(d, h)
    if hasattr(gc, "mem_free"):
        ballast = []
        _fill(ballast, 24)
        res = command(d, h, 1, OP_URL_KEY, window_args(7, U - 10, U + 600), user=2)
        assert res[0]["reason"] == R_NO_MEMORY and not res[0]["ok"], res
        assert records(d, LOG_COMMAND_REFUSED)[-1][2] == (R_NO_MEMORY, OP_URL_KEY)
        assert "lockshell.urlcmd" not in sys.modules and not records(d, LOG_URL_KEY)
        del ballast[:]
        ballast = None
        gc.collect()
    res = command(d, h, 2, OP_URL_KEY, window_args(7, U - 10, U + 600), user=2)
    assert res[0]["ok"] is True, res
    assert [r[2] for r in records(d, LOG_URL_KEY)] == [(7, U + 600)]
