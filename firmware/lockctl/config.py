# Lock settings: defaults, limits and validation. A change is checked as a whole before any of it
# is applied, so a bad request changes nothing.

# name: (default, low, high); bool settings have low = high = None
SETTINGS = {
    "auto_lock": (True, None, None),  # lock after the door closes / relock if never opened
    "auto_lock_ms": (3000, 0, 600000),  # delay from door closed to auto-lock
    "relock_ms": (10000, 1000, 3600000),  # grace: unlocked and the door never opened -> relock
    "button_unlock": (True, None, None),  # the inside button may operate the lock
    "held_open_ms": (60000, 0, 3600000),  # door-held-open alarm; 0 = off
    "jam_ms": (1500, 200, 10000),  # bound on one motor move before it counts as failed
    "backoff_ms": (200, 0, 2000),  # reverse drive after a failed attempt, before the retry
    "cal_ms": (5000, 500, 20000),  # bound on one calibration sweep to an end stop
    "zone_pct": (10, 1, 40),  # tolerance around each calibrated end, in % of the span
    "min_span": (100, 1, 1000000),  # smallest |unlock - lock| accepted by calibration
}


def defaults():
    d = {}
    for k in SETTINGS:
        d[k] = SETTINGS[k][0]
    return d


def check(changes):
    """Validate a dict of changes; return a clean copy or raise ValueError naming the bad key."""
    if not isinstance(changes, dict):
        raise ValueError("config change must be a dict")
    out = {}
    for k in changes:
        if k not in SETTINGS:
            raise ValueError("unknown setting: %s" % k)
        v = changes[k]
        default, lo, hi = SETTINGS[k]
        if lo is None:
            if v is not True and v is not False:
                raise ValueError("%s must be true or false" % k)
        else:
            if type(v) is not int:  # bool is not accepted for a number (on both runtimes)
                raise ValueError("%s must be an integer" % k)
            if v < lo or v > hi:
                raise ValueError("%s must be in %d..%d" % (k, lo, hi))
        out[k] = v
    return out


def merged(base, changes):
    """A full settings dict: base (or defaults) with validated changes applied."""
    d = defaults()
    if base:
        d.update(check(base))
    d.update(check(changes))
    return d


def parse_value(k, text):
    """Text (from a CLI or a scenario file) -> typed value for setting k."""
    if k not in SETTINGS:
        raise ValueError("unknown setting: %s" % k)
    if SETTINGS[k][1] is None:
        t = text.lower()
        if t in ("on", "true", "1", "yes"):
            return True
        if t in ("off", "false", "0", "no"):
            return False
        raise ValueError("%s must be on or off, not %s" % (k, text))
    try:
        return int(text)
    except ValueError:
        raise ValueError("%s must be an integer, not %s" % (k, text))
