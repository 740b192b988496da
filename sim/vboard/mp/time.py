# The virtual board's `time`: the unix port's own time module plus the simulator's skip: while the
# supervisor asks to skip to a deadline, sleeps and waits return at once and the clock jumps by what
# they would have waited. Installed first on sys.path, so asyncio (frozen) and the firmware import
# this module as `time`.
# Two clocks: ticks_ms() is the unix port's ticks plus the ms skipped since this boot (never less
# than the unix port's own, which asyncio's C task queue stamps "run now" tasks with: those must
# never look like the future); vnow() is the world's clock (ms since the virtual board was first
# switched on, carried across resets), which the RPC sends. A boot can skip at most _MAX_SKIP in
# total (ticks_diff sees half the ticks period).
import sys

_me = sys.modules.pop("time")
_here = sys.path.pop(0)
try:
    import time as _t
finally:
    sys.path.insert(0, _here)
    sys.modules["time"] = _me

import os

_PERIOD = 1 << 30
_MASK = _PERIOD - 1
_t0 = int(os.getenv("DOORKIT_VB_T0") or 0)  # the world's ms at the interpreter's start
_MAX_SKIP = (_PERIOD >> 1) - 86400000  # a day's margin below half the ticks period
_off = 0  # ms skipped since this boot
_last = _t.ticks_ms()
_acc = 0  # real ms since start (unwrapped)
_target = None  # skip to this world ms, or None

gmtime = _t.gmtime
localtime = _t.localtime
mktime = _t.mktime
time = _t.time
time_ns = getattr(_t, "time_ns", None)
ticks_diff = _t.ticks_diff
ticks_add = _t.ticks_add


def vnow():
    """The world's ms (unwrapped)."""
    global _last, _acc
    r = _t.ticks_ms()
    _acc += _t.ticks_diff(r, _last)
    _last = r
    return _t0 + _acc + _off


def sync(now):
    """The world's clock is ahead (it ran on while this interpreter asked nothing): catch up.
    ticks_ms() does not jump: the board's own ticks are not the world's."""
    global _t0
    d = now - vnow()
    if d > 0:
        _t0 += d


def skip_to(t):
    """Set (or, None, keep) the deadline the supervisor asks to skip to."""
    global _target
    if t is not None:
        _target = t


def skipping():
    """ms left to skip (0 when not skipping)."""
    global _target
    if _target is None:
        return 0
    left = _target - vnow()
    if left <= 0:
        _target = None
        return 0
    return left


def waited(ms):
    """Take a wait of ms (ms < 0: for ever) out of the skip; -> ms still to wait for real."""
    global _off
    left = skipping()
    if not left:
        return ms
    left = min(left, _MAX_SKIP - _off)
    if left <= 0:
        return ms
    if ms < 0 or ms >= left:
        _off += left
        return 0 if ms < 0 else ms - left
    _off += ms
    return 0


def ticks_ms():
    return (_t.ticks_ms() + _off) & _MASK


def ticks_us():
    return (_t.ticks_us() + _off * 1000) & _MASK


def ticks_cpu():
    return ticks_us()


def sleep_ms(ms):
    ms = waited(int(ms))
    if ms > 0:
        _t.sleep_ms(ms)


def sleep_us(us):
    ms = waited(int(us) // 1000)
    if ms > 0:
        _t.sleep_us(ms * 1000)
    elif us < 1000 and not skipping():
        _t.sleep_us(int(us))


def sleep(s):
    sleep_ms(int(s * 1000))
