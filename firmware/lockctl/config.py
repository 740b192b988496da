# Lock settings: ids, defaults, limits and validation. A change is checked as a whole before any of
# it is applied, so a bad request changes nothing (LockError naming the bad key).
#
# STABLE FORMAT: a setting's id travels in CONFIG log records (docs/records.md); ids are never
# reused or renumbered, new settings get the next id.
from lockctl.errors import LockError

# name: (id, default, low, high); bool settings have low = high = None
SETTINGS = {
    "auto_lock": (1, True, None, None),  # lock after the door closes / relock if never opened
    "auto_lock_ms": (2, 3000, 0, 600000),  # delay from door closed to auto-lock
    "relock_ms": (3, 10000, 1000, 3600000),  # grace: unlocked and the door never opened -> relock
    "button_unlock": (4, True, None, None),  # the inside button may operate the lock
    "held_open_ms": (5, 60000, 0, 3600000),  # door-held-open alarm; 0 = off
    "jam_ms": (6, 1500, 200, 10000),  # bound on one motor move before it counts as failed
    "backoff_ms": (7, 200, 0, 2000),  # reverse drive after a failed attempt, before the retry
    "cal_ms": (8, 5000, 500, 20000),  # bound on one calibration sweep to an end stop
    "zone_pct": (9, 10, 1, 40),  # tolerance around each calibrated end, in % of the span
    "min_span": (10, 100, 1, 1000000),  # smallest |unlock - lock| accepted by calibration
    "relock_on_boot": (11, True, None, None),  # a door found closed and unlocked at boot relocks
    #                                            after relock_ms (with auto_lock on)
    "manual_cal_ms": (12, 300000, 10000, 3600000),  # a manual calibration left this long is abandoned
    "utc_offset_min": (13, 540, -720, 840),  # local time = UTC + this (+ DST): schedules use it (JST)
    "dst_rule": (14, 0, 0, 2),  # 0 none (Japan), 1 EU, 2 US (lockctl/schedule.py)
    "pin_tries": (15, 5, 3, 10),  # wrong PINs in a row before the keypad locks out
    "pin_lockout_s": (16, 30, 5, 3600),  # first lockout; each further wrong PIN doubles it (to 1 h)
}


def setting_name(sid):
    """The name of setting id sid, or None."""
    for k in SETTINGS:
        if SETTINGS[k][0] == sid:
            return k
    return None


def defaults():
    d = {}
    for k in SETTINGS:
        d[k] = SETTINGS[k][1]
    return d


def check(changes):
    """Validate a dict of changes; return a clean copy or raise LockError naming the bad key."""
    if not isinstance(changes, dict):
        raise LockError("config change must be a dict of settings")
    out = {}
    for k in changes:
        if type(k) is not str or k not in SETTINGS:
            raise LockError("unknown setting: %s" % (k,))
        v = changes[k]
        lo, hi = SETTINGS[k][2], SETTINGS[k][3]
        if lo is None:
            if v is not True and v is not False:
                raise LockError("%s must be true or false" % k)
        else:
            if type(v) is not int:  # bool is not accepted for a number (on both runtimes)
                raise LockError("%s must be an integer" % k)
            if v < lo or v > hi:
                raise LockError("%s must be in %d..%d" % (k, lo, hi))
        out[k] = v
    return out


def merged(base, changes):
    """A full settings dict: base (or defaults) with validated changes applied."""
    d = defaults()
    if base:
        d.update(check(base))
    d.update(check(changes))
    return d
