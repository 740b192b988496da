# The virtual board's `select`: the unix port's own, with poll objects whose waits honour the
# skip of the virtual clock (time.waited): asyncio's wait for its next task is where the virtual
# board skips to the next deadline.
import sys

_me = sys.modules.pop("select")
_here = sys.path.pop(0)
try:
    import select as _s
finally:
    sys.path.insert(0, _here)
    sys.modules["select"] = _me

import time

POLLIN = _s.POLLIN
POLLOUT = _s.POLLOUT
POLLERR = _s.POLLERR
POLLHUP = _s.POLLHUP
select = getattr(_s, "select", None)


class _Poll:
    def __init__(self):
        self._p = _s.poll()

    def register(self, obj, mask=POLLIN | POLLOUT):
        self._p.register(obj, mask)

    def unregister(self, obj):
        self._p.unregister(obj)

    def modify(self, obj, mask):
        self._p.modify(obj, mask)

    def poll(self, timeout=-1):
        r = self._p.poll(0)
        if r:
            return r
        return self._p.poll(time.waited(timeout))

    def ipoll(self, timeout=-1, flags=0):
        r = self._p.poll(0)
        if r:
            return self._p.ipoll(0, flags)
        return self._p.ipoll(time.waited(timeout), flags)


def poll():
    return _Poll()
