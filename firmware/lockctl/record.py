# The event-log record and its one text form.
#
# A record is a tuple (t_ms, code, arg, who) of ints and short fixed codes (lockctl/codes.py,
# docs/records.md): arg is None, an int code, or a pair of ints; who is None, a user (whatever the
# key list holds for it) or, for DENIED, the (kind, ident) pair of the credential. The core never
# formats text; every tool that prints or compares logs (sim, scenario runner, host CLI, tests) goes
# through format_record here, and the names below exist only here.
from lockctl import codes as C
from lockctl.config import SETTINGS, setting_name
from lockctl.errors import LockError
from lockctl.names import STATE_NAMES, BATTERY_NAMES, OP_NAMES, LINK_NAMES  # noqa: F401 (re-exported)

MODE_NAMES = ("uncalibrated", "locked", "unlocked", "jammed", "unlocking", "unlock-backoff", "locking",
              "lock-backoff", "cal-unlock", "cal-lock", "mark-lock", "mark-unlock")  # LockCore.mode
EVENT_NAMES = ("-", "door", "button", "position", "stall", "credential", "timer", "remote", "config",
               "calibrate", "reader", "sensor", "clock", "battery")
LOG_NAMES = ("?", "BOOT", "LOCK", "UNLOCK", "MANUAL_LOCK", "MANUAL_UNLOCK", "REFUSED", "DENIED",
             "DOOR_OPEN", "DOOR_CLOSE", "FORCED_OPEN", "HELD_OPEN", "RETRY", "JAM", "JAM_CLEAR", "ABORT",
             "CALIBRATED", "CAL_FAIL", "CONFIG", "READER_DOWN", "READER_UP", "FAULT", "CLOCK_SET", "BUNDLE",
             "BUNDLE_REFUSED", "PIN_LOCKOUT", "BATTERY", "DROPPED", "STORE_FAULT", "COMMAND",
             "COMMAND_REFUSED", "LINK", "URL_KEY", "URL_KEY_UNLOCK")
KIND_NAMES = ("?", "iso14443a", "felica", "phone", "pin", "iso-dep")
_SRC_NAMES = ("button", "remote", "auto", "relock", "boot")  # SRC_BUTTON (16) ...
REASON_NAMES = ("?", "uncalibrated", "calibrating", "door-open", "button-off", "not-calibrating", "busy",
                "no-position", "unknown", "no-keys", "stall", "timeout", "reversed", "no-end-stop", "span",
                "cancelled", "no-app", "bad-answer", "unknown-phone", "bad-mac", "no-answer", "door-sensor",
                "clock-unset", "not-yet", "expired", "off-schedule", "used-up", "disabled", "pin-lockout",
                "bad-signature", "wrong-door", "old-version", "base-mismatch", "corrupt", "no-room", "format",
                "battery", "store", "use-tally", "replay", "duplicate", "retained", "no-memory")
FAULT_NAMES = ("?", "core", "action", "poll", "store")
STORE_NAMES = ("?", "keys", "log", "fs")  # STORE_*


def _name(table, i):
    if type(i) is int and 0 < i < len(table):
        return table[i]
    return "?%s" % (i,)


def state_name(s):
    return STATE_NAMES[s] if type(s) is int and 0 <= s < len(STATE_NAMES) else "?%s" % (s,)


def source_name(src):
    if type(src) is int and src >= C.SRC_BUTTON:
        i = src - C.SRC_BUTTON
        if i < len(_SRC_NAMES):
            return _SRC_NAMES[i]
    return _name(KIND_NAMES, src)


def kind_name(kind):
    return _name(KIND_NAMES, kind)


def reason_name(r):
    return _name(REASON_NAMES, r)


def _arg_text(code, arg):
    if code == C.LOG_BOOT:
        return state_name(arg[0]) + (" #%d" % arg[1] if arg[1] else "")
    if code == C.LOG_LOCK or code == C.LOG_UNLOCK:
        return source_name(arg)
    if code == C.LOG_JAM:
        return "unlock" if arg == C.TOWARD_UNLOCK else "lock"
    if code == C.LOG_CALIBRATED:
        return "%d,%d" % (arg[0], arg[1])
    if code == C.LOG_CONFIG:
        v = arg[1]
        return "%s=%s" % (setting_name(arg[0]) or "?%s" % (arg[0],), ("on" if v else "off") if type(v) is bool else v)
    if code == C.LOG_FAULT:
        return "%s %s" % (_name(FAULT_NAMES, arg[0]), EVENT_NAMES[arg[1]] if 0 <= arg[1] < len(EVENT_NAMES) else "?")
    if code == C.LOG_READER_DOWN:
        return "%d" % arg
    if code == C.LOG_BATTERY:
        lvl = arg[0]
        return "%s %dmV" % (BATTERY_NAMES[lvl] if type(lvl) is int and 0 <= lvl < len(BATTERY_NAMES) else "?%s" % (lvl,),
                            arg[1])
    if code == C.LOG_BUNDLE:
        return "v%d %d" % (arg[0], arg[1])
    if code == C.LOG_CLOCK_SET:
        return "%s@%d" % (utc_text(arg[0]), arg[1])
    if code == C.LOG_STORE_FAULT:
        return "%s %d" % (_name(STORE_NAMES, arg[0]), arg[1])
    if code == C.LOG_LINK:
        return _name(LINK_NAMES, arg) if arg else LINK_NAMES[0]
    if code == C.LOG_URL_KEY:
        return "#%d %s" % (arg[0], "until " + utc_text(arg[1]) if arg[1] else "closed")
    if code == C.LOG_URL_KEY_UNLOCK:
        return "#%d command #%d" % (arg[0], arg[1])
    if code == C.LOG_COMMAND:
        return "%s #%d" % (_name(OP_NAMES, arg[0]), arg[1])
    if code == C.LOG_COMMAND_REFUSED:
        return "%s %s" % (_name(OP_NAMES, arg[1]), reason_name(arg[0]))
    if code in (C.LOG_REFUSED, C.LOG_DENIED, C.LOG_RETRY, C.LOG_ABORT, C.LOG_CAL_FAIL, C.LOG_BUNDLE_REFUSED):
        return reason_name(arg)
    return str(arg)


def utc_text(unix):
    """Unix seconds -> '2026-12-04T00:36:00Z'."""
    from lockctl.schedule import civil_from_days
    d, s = divmod(unix, 86400)
    y, m, dd = civil_from_days(d)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, dd, s // 3600, s // 60 % 60, s % 60)


def who_text(who, names=None):
    """names: user index -> name (the host's join), or None to show the index."""
    if type(who) is tuple:  # a credential: (kind, ident); a PIN's ident is never kept
        return "%s:%s" % (kind_name(who[0]), who[1]) if who[1] else kind_name(who[0])
    if names is not None and who in names:
        return names[who]
    return str(who)


def format_record(rec, names=None):
    """(t, code, arg, who) -> 't NAME [arg] [who]'; arg/who left out when None ('-' stands for a
    missing arg before a who); names: user index -> name."""
    t, code, arg, who = rec
    name = LOG_NAMES[code] if type(code) is int and 0 < code < len(LOG_NAMES) else "CODE%s" % (code,)
    s = "%d %s" % (t, name)
    if arg is not None:
        s += " " + _arg_text(code, arg)
    if who is not None:
        if arg is None:
            s += " -"
        s += " " + who_text(who, names)
    return s


def _index(table, name, what):
    for i in range(1, len(table)):
        if table[i] == name:
            return i
    raise ValueError("unknown %s: %s (known: %s)" % (what, name, ", ".join(table[1:])))


def kind_code(name):
    """'felica' -> KIND_FELICA; ValueError naming the known kinds otherwise."""
    return _index(KIND_NAMES, name, "credential kind")


def parse_value(k, text):
    """Text (from a CLI or a scenario file) -> typed value for setting k: the inverse of a CONFIG
    record's value text."""
    if k not in SETTINGS:
        raise LockError("unknown setting: %s" % k)
    if SETTINGS[k][2] is None:
        t = text.lower()
        if t in ("on", "true", "1", "yes"):
            return True
        if t in ("off", "false", "0", "no"):
            return False
        raise LockError("%s must be on or off, not %s" % (k, text))
    try:
        return int(text)
    except ValueError:
        raise LockError("%s must be an integer, not %s" % (k, text))
