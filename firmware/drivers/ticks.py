# Millisecond ticks compared modulo 2**30, the period of MicroPython's time.ticks_ms() on 32-bit
# ports: the one place for tick arithmetic. The drivers and the shell are given times as ticks
# (time.ticks_ms() on the board, a virtual clock in the simulator) and compare them only through
# these, so they are wrap-safe for any uptime and never make a heap-allocated int.
from micropython import const

TICKS_MAX = const(0x3FFFFFFF)  # the largest tick; the next one is 0
_HALF = const(0x20000000)


def ticks_diff(a, b):
    """a - b in ms (negative when a is earlier), for ticks less than 2**29 ms apart."""
    return ((a - b + _HALF) & TICKS_MAX) - _HALF


def ticks_add(t, ms):
    """The tick ms after t (ms may be negative)."""
    return (t + ms) & TICKS_MAX
