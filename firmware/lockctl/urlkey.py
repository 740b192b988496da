# URL keys: time-limited remote-unlock windows (docs/network.md, "URL keys"). Sans-IO, on the
# flash tally (lockctl/tally.py): a signed OP_URL_KEY command opens window `id` from `from` (0:
# now) to `until` (Unix s UTC; until 0 closes it); a signed OP_UNLOCK whose args name the id acts
# only while the lock's own clock is inside that window. So a guest's link (the fleet side turns a
# click into the signed unlock) opens the door in its window and not a second outside it, whatever
# the fleet side does later, and closing it on the lock ends it even for unlocks already signed.
#
#   OP_URL_KEY args: id u32 | from u32 | until u32   (12 bytes, little-endian)
#   OP_UNLOCK args:  id u32                            (4 bytes; empty: a plain remote unlock)
#
# Windows are durable: `from` is written, then `until` (a power cut between leaves no window, and
# closing removes `until` first). A window past its end is dropped when another one is opened.
# Kept small: the board loads it with the hub (tests/test_fleet_cli.py runs it on the virtual
# board, whose code is on its heap).
import struct

from micropython import const

from lockctl.codes import R_FORMAT, R_UNKNOWN, R_NOT_YET, R_EXPIRED, R_NO_ROOM, R_STORE
from lockctl.tally import T_URL_FROM, T_URL_UNTIL

MAX_KEYS = const(16)  # windows open at once
MAX_ID = const(0xFFFF)  # ids 1..65535 (a record holds the id with its user: lockctl/eventlog.py)
MAX_SPAN = const(31622400)  # the longest window: 366 days


def parse_window(args):
    """OP_URL_KEY args -> (id, from, until); ValueError if malformed (until 0: close the window)."""
    if len(args) != 12:
        raise ValueError("url-key args are id, from, until (12 bytes)")
    kid, frm, until = struct.unpack("<III", args)
    if not 0 < kid <= MAX_ID or (until and frm and (frm >= until or until - frm > MAX_SPAN)):
        raise ValueError("url key: id 1..65535, from before until, at most a year")
    return kid, frm, until


def parse_unlock(args):
    """OP_UNLOCK args -> the URL key id it names, or 0 (a plain remote unlock); ValueError if malformed."""
    if not args:
        return 0
    kid = struct.unpack("<I", args)[0] if len(args) == 4 else 0
    if not 0 < kid <= MAX_ID:
        raise ValueError("url key id 1..65535")
    return kid


def window_args(kid, frm, until):
    """Host side: the OP_URL_KEY args (checked as the lock checks them)."""
    a = struct.pack("<III", kid, frm, until)
    parse_window(a)
    return a


def unlock_args(kid):
    """Host side: the OP_UNLOCK args naming URL key kid."""
    a = struct.pack("<I", kid)
    parse_unlock(a)
    return a


def windows(t):
    """[(id, from, until)] of the windows the tally t holds, by id."""
    out = []
    if t is not None:
        for i, until in t.ids(T_URL_UNTIL):
            out.append((i[0] | i[1] << 8, t.get(T_URL_FROM, i[:2]), until))
        out.sort()
    return out


def check(t, kid, now):
    """May an unlock naming window kid act at now (Unix s)? -> 0, R_UNKNOWN (no such window, or
    closed), R_NOT_YET, R_EXPIRED."""
    k = struct.pack("<H", kid)
    until = t.get(T_URL_UNTIL, k) if t is not None else 0
    if not until:
        return R_UNKNOWN
    if now < t.get(T_URL_FROM, k):
        return R_NOT_YET
    return R_EXPIRED if now >= until else 0


def open_window(t, kid, frm, until, now):
    """Open (or move) window kid of tally t from frm (0: now) to until, or close it (until 0). now:
    Unix s. -> 0 or R_*: R_EXPIRED for a window already over, R_FORMAT for one from now longer than
    a year, R_UNKNOWN to close one the lock does not hold, R_NO_ROOM past MAX_KEYS, R_STORE without
    flash. OSError if the flash refused (the window then is as it was, or closed)."""
    if t is None:
        return R_STORE
    k = struct.pack("<H", kid)
    held = t.get(T_URL_UNTIL, k)
    if until:
        if until <= now:
            return R_EXPIRED
        if not frm and until - now > MAX_SPAN:
            return R_FORMAT
    elif not held:
        return R_UNKNOWN
    if held:
        t.remove(T_URL_UNTIL, k)  # first: a cut before the next write leaves no window
        if not until:
            t.remove(T_URL_FROM, k)
            return 0
    n = 0
    for w in windows(t):
        if w[2] <= now:  # over: its room is free again
            open_window(t, w[0], 0, 0, now)
        else:
            n += 1
    for i in [i for i, _ in t.ids(T_URL_FROM) if i[:2] != k and not t.get(T_URL_UNTIL, i[:2])]:
        t.remove(T_URL_FROM, i[:2])  # a start whose end a power cut kept from being written
    if n >= MAX_KEYS:
        return R_NO_ROOM
    t.set(T_URL_FROM, k, frm or 1)
    t.set(T_URL_UNTIL, k, until)
    return 0
