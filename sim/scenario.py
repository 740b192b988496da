"""Scenario files: a door's setup, timed actions, how long to run, and the exact log to expect.
The format is documented in docs/scenarios.md. parse() / load() give a Scenario (or raise
ScenarioError "file:line: message"); run() plays it on a VirtualDoor and compares the log.

    scn = load("sim/scenarios/demo.scn")
    res = run(scn)
    print("\\n".join(res.output)); assert res.ok, res.report()

Everything a file says is checked when it is parsed, before anything runs: numbers are plain
decimal ASCII (no nan, inf, exponents or underscores) within the limits below, angles lie between
the world's end stops, a key is revoked only while it is enrolled, a setup line or setting is given
once. Only what the lock itself decides at run time (e.g. a setting change it refuses) is reported
while the scenario runs.
"""
import difflib
import inspect
import re
import time

from lockctl import config as _config
from lockctl.record import kind_code, parse_value

from .board import VirtualDoor, NFC_CARDS
from .world import World

DEFAULT_PRESS_MS = 150
DEFAULT_TURN_MS = 600
DEFAULT_TAP_MS = 1000

MAX_DAYS = 366
MAX_MS = MAX_DAYS * 86400000  # the latest virtual time a scenario may name (a leap year)
MAX_FILE_BYTES = 16 * 1024 * 1024  # a scenario file is text; anything bigger is not one
SEED_MIN, SEED_MAX = -(2 ** 63), 2 ** 63 - 1
MAX_JAM_MOVES = 1000000

# `world` keys: World(...) keyword -> (kind, low, high). "num" is a decimal number, "int" an
# integer, "range" lo-hi (or one value) in ms.
WORLD_KEYS = {
    "lock_deg": ("num", -360, 360), "unlock_deg": ("num", -360, 360), "speed_dps": ("num", 1, 100000),
    "bolt_deg": ("num", -360, 360), "pot_offset": ("int", 0, 4095), "pot_per_deg": ("num", -4095, 4095),
    "noise": ("int", 0, 4095), "i_free": ("int", 0, 65535), "i_stall": ("int", 0, 65535),
    "i_inrush": ("int", 0, 65535), "inrush_ms": ("int", 0, 60000), "i_noise": ("int", 0, 65535),
    "door_bounce": ("range", 0, 10000), "door_gap": ("int", 1, 10000),
    "button_bounce": ("range", 0, 10000), "button_gap": ("int", 1, 10000),
}
_WORLD_ALIASES = {"speed": "speed_dps"}
_WORLD_DEFAULTS = dict((k, p.default) for k, p in inspect.signature(World).parameters.items()
                       if k in WORLD_KEYS)

_UNITS = {"ms": 1, "s": 1000, "min": 60000, "h": 3600000, "d": 86400000}
_DUR_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?(ms|min|s|h|d)?\Z")
_INT_RE = re.compile(r"-?[0-9]+\Z")
_NUM_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")
_MAX_DIGITS = 15  # more digits than any value the simulator takes (its times, angles, currents)


class ScenarioError(Exception):
    """A bad scenario file (or an action the lock refused); str() is 'file:line: message'."""

    def __init__(self, path, line, msg):
        Exception.__init__(self, "%s:%s: %s" % (path, line, msg) if line else "%s: %s" % (path, msg))
        self.path = path
        self.line = line
        self.msg = msg


class Action:
    def __init__(self, t, line, verb, args, text):
        self.t = t  # virtual time, ms
        self.line = line  # line number in the file
        self.verb = verb
        self.args = args
        self.text = text  # the action as written (for echoing)

    def __repr__(self):
        return "Action(%d, %r, %r)" % (self.t, self.verb, self.args)


class Scenario:
    def __init__(self, path):
        self.path = path
        self.seed = 0
        self.world = {}
        self.config = {}
        self.bolt = "locked"
        self.door = "closed"
        self.calibration = None  # None, "ends" or (lock, unlock)
        self.keys = []  # (kind, ident, user)
        self.nfc = False  # the board has its card reader (PN532 emulator)
        self.clock = None  # Unix s the board's RTC holds at the start (None: unset)
        self.actions = []
        self.until = None
        self.until_line = None
        self.expect = None  # list of (line number, text), or None when there is no expect block
        self.expect_line = None
        self.lines = {}  # setup word (or world / set key) -> the line that gave it
        self.stops = None  # (lock_deg, unlock_deg) of the world, once the setup is complete


def show(text, n=40):
    """repr() of a piece of user input, cut short when it is long (for error messages)."""
    return repr(text if len(text) <= n else text[:n - 3] + "...")


def fmt_ms(ms):
    """An int of ms as the shortest time text parse_duration reads back (1500 -> '1.5s')."""
    for unit, mult in (("d", 86400000), ("h", 3600000), ("min", 60000)):
        if ms and ms % mult == 0:
            return "%d%s" % (ms // mult, unit)
    if ms and ms % 1000 == 0:
        return "%ds" % (ms // 1000)
    return "%d" % ms


def parse_duration(text):
    """'1500' / '1500ms' / '1.5s' / '2min' / '1h' / '1d' -> int ms (0..MAX_MS); ValueError otherwise."""
    t = text.strip().lower()
    m = _DUR_RE.match(t)
    if not m:
        raise ValueError("not a time: %s (use ms, or a number with ms, s, min, h or d)" % show(text))
    whole, frac, unit = m.groups()
    mult = _UNITS[unit or "ms"]
    whole = whole.lstrip("0") or "0"
    frac = (frac or "").rstrip("0")
    if len(whole) > _MAX_DIGITS:
        raise ValueError("time %s is beyond the simulator's limit of %dd" % (show(text), MAX_DAYS))
    v = int(whole) * mult
    if frac:
        if len(frac) > _MAX_DIGITS:
            raise ValueError("time %s is not a whole number of ms" % show(text))
        num = int(frac) * mult
        den = 10 ** len(frac)
        if num % den:
            raise ValueError("time %s is not a whole number of ms" % show(text))
        v += num // den
    if v > MAX_MS:
        raise ValueError("time %s is beyond the simulator's limit of %dd" % (show(text), MAX_DAYS))
    return v


def _int(text, what, lo, hi, err):
    """A plain decimal integer in lo..hi; err("<what>: <text> is not an integer in lo..hi")."""
    if not _INT_RE.match(text) or len(text.lstrip("-").lstrip("0")) > 20 or not lo <= int(text) <= hi:
        err("%s: %s is not an integer in %d..%d" % (what, show(text), lo, hi))
    return int(text)


def _num(text, what, lo, hi, err):
    """A plain decimal number (no exponent, nan or inf) in lo..hi."""
    if not _NUM_RE.match(text) or len(text) > 2 * _MAX_DIGITS or not lo <= float(text) <= hi:
        err("%s: %s is not a number in %g..%g" % (what, show(text), lo, hi))
    return float(text)


def _strip_comment(line):
    m = re.search(r"(^|\s)#", line)
    return line[:m.start()] if m else line


def _kv(tokens, err):
    out = []
    seen = set()
    for tok in tokens:
        if "=" not in tok or tok.startswith("=") or tok.endswith("="):
            err("expected key=value, got %s" % show(tok))
        k, v = tok.split("=", 1)
        if k in seen:
            err("%s is given twice on this line" % k)
        seen.add(k)
        out.append((k, v))
    return out


def _settings(tokens, err):
    if not tokens:
        err("set needs at least one key=value")
    d = {}
    for k, v in _kv(tokens, err):
        if k in _config.SETTINGS and _config.SETTINGS[k][2] is not None and not _INT_RE.match(v):  # a number
            err("%s must be an integer, not %s" % (k, show(v)))
        try:
            d[k] = parse_value(k, v)
        except ValueError as e:
            err(str(e))
    try:
        return _config.check(d)
    except ValueError as e:
        err(str(e))


def parse(text, path="<scenario>"):
    scn = Scenario(path)
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    last_t = 0
    started = False  # an `at` or `run` line was seen: setup is over
    enrolled = dict(((k[0], k[1]), None) for k in scn.keys)
    i = 0
    while i < len(lines):
        n = i + 1
        raw = lines[i]
        i += 1

        def err(msg, n=n):
            raise ScenarioError(path, n, msg)

        if raw.endswith("\r"):
            raw = raw[:-1]
        _check_text(raw, err)
        line = _strip_comment(raw).strip()
        if not line:
            continue
        tok = line.split()
        word = tok[0].lower()
        if word == "expect":
            if len(tok) != 1:
                err("'expect' stands alone on its line; the expected log lines follow it")
            if scn.until is None:
                err("'run until <time>' must come before 'expect'")
            scn.expect_line = n
            scn.expect = []
            while i < len(lines):
                s = lines[i]
                i += 1
                if s.endswith("\r"):
                    s = s[:-1]
                _check_text(s, lambda msg, n=i: _raise(path, n, msg))
                s = s.strip()
                if s and not s.startswith("#"):
                    scn.expect.append((i, s))
            break
        if scn.until is not None:
            err("only 'expect' may follow 'run until'")
        if word in ("run", "at") and not started:
            started = True
            _finish_setup(scn, lambda msg, n: _raise(path, n, msg))
            for k in scn.keys:
                enrolled[(k[0], k[1])] = (k[2], scn.lines.get(("key", k[0], k[1])))
        if word == "run":
            if len(tok) != 3 or tok[1].lower() != "until":
                err("expected 'run until <time>' (e.g. run until 30s, run until +5000)")
            scn.until, scn.until_line = _time(tok[2], last_t, err), n
            if scn.until < last_t:
                err("run until %d is before the last action at %d" % (scn.until, last_t))
            continue
        if word == "at":
            if len(tok) < 3:
                err("expected 'at <time> <action>'")
            t = _time(tok[1], last_t, err)
            if t < last_t:
                err("time %d is before the previous action at %d (actions must be in time order)" % (t, last_t))
            last_t = t
            verb, args = _action(tok[2:], raw, err, scn)
            if verb == "enroll":
                k = (args[0], args[1])
                if enrolled.get(k):
                    user, where = enrolled[k]
                    err("key %s %s is already registered (to %s%s)"
                        % (k[0], k[1], user, ", line %d" % where if where else ""))
                enrolled[k] = (args[2], n)
            elif verb == "revoke":
                k = (args[0], args[1])
                if not enrolled.get(k):
                    err("revoke %s %s: no such key is enrolled at this point (enrol it with a 'key' "
                        "setup line or an earlier 'enroll')" % k)
                enrolled[k] = None
            scn.actions.append(Action(t, n, verb, args, " ".join(tok[2:])))
            continue
        if started:
            err("setup line %s after the first 'at' line (setup comes first)" % show(word))
        _setup(scn, word, tok[1:], err, n)
    if scn.until is None:
        raise ScenarioError(path, len(lines) or 1, "missing 'run until <time>' line")
    return scn


def _raise(path, n, msg):
    raise ScenarioError(path, n, msg)


def _check_text(raw, err):
    for col, ch in enumerate(raw):
        o = ord(ch)
        if (o < 32 and ch != "\t") or 127 <= o < 160:
            err("control character U+%04X at column %d: not a text scenario file?" % (o, col + 1))


def load(path):
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ScenarioError(path, None, "cannot read: %s" % (e.strerror or e))
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(path, None, "larger than %d MiB: not a scenario file" % (MAX_FILE_BYTES >> 20))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ScenarioError(path, line, "not UTF-8 text: byte 0x%02x at column %d (is it a scenario file?)"
                            % (data[e.start], col))
    return parse(text, path)


def _time(text, last_t, err):
    rel = text.startswith("+")
    try:
        v = parse_duration(text[1:] if rel else text)
    except ValueError as e:
        err(str(e))
    if rel:
        v += last_t
        if v > MAX_MS:
            err("%s after %d ms is beyond the simulator's limit of %dd" % (text, last_t, MAX_DAYS))
    return v


def _once(scn, word, err, n):
    if word in scn.lines:
        err("'%s' is given twice (first at line %d)" % (word, scn.lines[word]))
    scn.lines[word] = n


def _setup(scn, word, args, err, n):
    if word == "seed":
        if len(args) != 1 or not _INT_RE.match(args[0]):
            err("expected 'seed <integer>'")
        _once(scn, word, err, n)
        scn.seed = _int(args[0], "seed", SEED_MIN, SEED_MAX, err)
    elif word == "world":
        if not args:
            err("world needs key=value settings, e.g. world speed_dps=120 unlock_deg=100")
        for k, v in _kv(args, err):
            k = _WORLD_ALIASES.get(k, k)
            spec = WORLD_KEYS.get(k)
            if spec is None:
                err("unknown world setting %s (known: %s)" % (show(k), ", ".join(sorted(WORLD_KEYS))))
            if ("world", k) in scn.lines:
                err("world %s is given twice (first at line %d)" % (k, scn.lines[("world", k)]))
            kind, lo, hi = spec
            if kind == "range":
                a, _, b = v.partition("-")
                if not (a.isdigit() and a.isascii() and (b == "" or (b.isdigit() and b.isascii()))
                        and len(v) <= 12) or int(a) > int(b or a) or int(b or a) > hi:
                    err("bad value for %s: %s (expected lo-hi ms, 0 <= lo <= hi <= %d)" % (k, show(v), hi))
                val = (int(a), int(b or a))
            elif kind == "int":
                val = _int(v, "bad value for %s" % k, lo, hi, err)
            else:
                val = _num(v, "bad value for %s" % k, lo, hi, err)
                if k == "pot_per_deg" and val == 0:
                    err("bad value for pot_per_deg: 0 (the pot would read the same at every angle)")
            scn.world[k] = val
            scn.lines[("world", k)] = n
    elif word == "set":
        for k, v in _settings(args, err).items():
            if ("set", k) in scn.lines:
                err("%s is set twice (first at line %d)" % (k, scn.lines[("set", k)]))
            scn.lines[("set", k)] = n
            scn.config[k] = v
    elif word == "bolt":
        if len(args) != 1:
            err("expected 'bolt locked', 'bolt unlocked' or 'bolt <degrees>'")
        _once(scn, word, err, n)
        a = args[0].lower()
        if a in ("locked", "unlocked"):
            scn.bolt = a
        elif _NUM_RE.match(a) and len(a) <= 2 * _MAX_DIGITS:
            scn.bolt = float(a)  # checked against the end stops when the setup is complete
        else:
            err("bolt must be locked, unlocked or an angle in degrees, not %s" % show(args[0]))
    elif word == "door":
        if len(args) != 1 or args[0].lower() not in ("open", "closed"):
            err("expected 'door open' or 'door closed'")
        _once(scn, word, err, n)
        scn.door = args[0].lower()
    elif word == "calibrated":
        if len(args) != 1:
            err("expected 'calibrated yes', 'calibrated no' or 'calibrated <lock>,<unlock>'")
        _once(scn, word, err, n)
        a = args[0].lower()
        if a in ("yes", "true", "on"):
            scn.calibration = "ends"
        elif a in ("no", "false", "off"):
            scn.calibration = None
        else:
            m = re.match(r"^([0-9]+),([0-9]+)\Z", a)
            if not m or len(a) > 20:
                err("calibrated takes yes, no or <lock>,<unlock> (two pot readings in 0..4095), not %s"
                    % show(args[0]))
            lock, unlock = int(m.group(1)), int(m.group(2))
            if lock > 4095 or unlock > 4095:
                err("calibrated %s: pot readings are 12-bit, 0..4095" % args[0])
            scn.calibration = (lock, unlock)
    elif word == "key":
        if len(args) < 3:
            err("expected 'key <kind> <ident> <user> [days=.. window=.. from=.. until=.. uses=.. schedule=.. off]'")
        _kind(args[0], err)
        if any(k[:2] == tuple(args[:2]) for k in scn.keys):
            err("key %s %s is already enrolled" % (args[0], args[1]))
        scn.keys.append(tuple(args[:3]) + (_key_options(args[0], args[1], args[3:], err),))
        scn.lines[("key", args[0], args[1])] = n
    elif word == "clock":
        if len(args) != 1:
            err("expected 'clock <time>' (e.g. clock 2026-12-02T09:00+09:00) or 'clock unset'")
        _once(scn, word, err, n)
        scn.clock = _clock(args[0], err)
    elif word == "nfc":
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            err("expected 'nfc on' or 'nfc off'")
        _once(scn, word, err, n)
        scn.nfc = args[0].lower() == "on"
    else:
        err("unknown setup line %s (seed, world, set, bolt, door, calibrated, key, clock, nfc; "
            "or 'at <time> <action>', 'run until <time>', 'expect')" % show(word))


def _finish_setup(scn, err):
    """Checks that need the whole setup (the world's end stops, min_span, the pot); err(msg, line)."""
    w = dict(_WORLD_DEFAULTS)
    w.update(scn.world)
    lines = scn.lines
    lock, unlock, bolt = float(w["lock_deg"]), float(w["unlock_deg"]), float(w["bolt_deg"])

    def line_of(*keys):
        found = [lines[("world", k)] for k in keys if ("world", k) in lines]
        return max(found) if found else 1

    if unlock - lock < 1:
        err("unlock_deg must be above lock_deg (by 1 degree at least): %g, %g" % (unlock, lock),
            line_of("lock_deg", "unlock_deg"))
    if not lock < bolt <= unlock:
        err("bolt_deg %g must lie above lock_deg %g and at most at unlock_deg %g%s"
            % (bolt, lock, unlock, "" if "bolt_deg" in scn.world else " (bolt_deg is 45 unless set)"),
            line_of("bolt_deg", "lock_deg", "unlock_deg"))
    if int(w["i_free"]) >= int(w["i_stall"]):
        err("i_free %d must be below i_stall %d (a stalled motor draws the most current)"
            % (int(w["i_free"]), int(w["i_stall"])), line_of("i_free", "i_stall"))
    scn.stops = (lock, unlock)
    if isinstance(scn.bolt, float) and not lock <= scn.bolt <= unlock:
        err("bolt %g is outside the end stops (lock_deg %g .. unlock_deg %g)" % (scn.bolt, lock, unlock),
            lines["bolt"])
    try:
        world = World(**scn.world)
    except ValueError as e:  # not expected after the checks above; still a bad file, not a crash
        err("bad world: %s" % e, line_of(*WORLD_KEYS))
    cal = scn.calibration
    if cal is not None:
        min_span = scn.config.get("min_span", _config.SETTINGS["min_span"][1])  # (id, default, low, high)
        pair = (world.counts_deg(lock), world.counts_deg(unlock)) if cal == "ends" else cal
        if abs(pair[1] - pair[0]) < min_span:
            what = ("the pot readings at the end stops (%d, %d) are" % pair if cal == "ends"
                    else "%d,%d is" % pair)
            err("calibrated: %s only %d apart, below min_span %d (the lock would boot uncalibrated)"
                % (what, abs(pair[1] - pair[0]), min_span), lines["calibrated"])


def _angle(text, name, what, scn, err):
    """An angle in degrees between the world's end stops (what: the message for a non-number)."""
    lo, hi = scn.stops if scn is not None and scn.stops else (0.0, 90.0)
    if not _NUM_RE.match(text) or len(text) > 2 * _MAX_DIGITS:
        err("%s, not %s" % (what, show(text)))
    v = float(text)
    if not lo <= v <= hi:
        err("%s is outside the end stops (lock_deg %g .. unlock_deg %g)" % (name % v, lo, hi))
    return v


def _action(tok, raw, err, scn=None):
    verb = tok[0].lower()
    args = tok[1:]
    if verb == "door":
        a = [x.lower() for x in args]
        if a == ["open"]:
            return "door", ("open",)
        if a in (["close"], ["closed"], ["shut"]):
            return "door", ("close",)
        if a in (["force"], ["open", "force"], ["force", "open"]):
            return "door", ("force",)
        err("expected 'door open', 'door close' or 'force door open'")
    if verb == "force":
        if [x.lower() for x in args] != ["door", "open"]:
            err("expected 'force door open'")
        return "door", ("force",)
    if verb == "button":
        if len(args) > 1:
            err("expected 'button [<press duration>]'")
        ms = _dur(args[0], err) if args else DEFAULT_PRESS_MS
        if ms < 1:
            err("a button press lasts at least 1 ms")
        return "button", (ms,)
    if verb == "turn":
        if len(args) not in (1, 2):
            err("expected 'turn lock|unlock|<degrees> [<duration>]'")
        where = args[0].lower()
        if where not in ("lock", "unlock"):
            where = _angle(where, "turn %g", "turn to lock, unlock or an angle in degrees", scn, err)
        ms = _dur(args[1], err) if len(args) == 2 else DEFAULT_TURN_MS
        if ms < 1:
            err("a hand turns the knob over 1 ms at least")
        return "turn", (where, ms)
    if verb == "jam":
        at, moves, hold = None, 1, False
        seen = set()
        for a in args:
            k = "hold" if a.lower() == "hold" else a.split("=", 1)[0]
            if k in seen:
                err("%s is given twice" % k)
            seen.add(k)
            if k == "hold":
                hold = True
                continue
            if "=" not in a or k not in ("at", "moves"):
                err("jam takes at=<degrees>, moves=<n> and/or hold, not %s" % show(a))
            v = a.split("=", 1)[1]
            if k == "at":
                at = _angle(v, "jam at=%g", "bad value in %s: at= is an angle in degrees" % show(a), scn, err)
            else:
                moves = _int(v, "bad value in %s" % show(a), 1, MAX_JAM_MOVES, err)
        if hold and "moves" in seen:
            err("jam: 'hold' (until unjam) and moves=<n> contradict each other; give one")
        return "jam", (at, None if hold else moves)
    if verb in ("unjam", "reboot", "repair"):
        if args:
            err("'%s' takes no arguments" % verb)
        return verb, ()
    if verb == "card":
        if len(args) != 2:
            err("expected 'card <kind> <ident>'")
        _kind(args[0], err)
        return "card", tuple(args)
    if verb in ("tap", "reader") and not (scn is not None and scn.nfc):
        err("'%s' needs the card reader: put 'nfc on' in the setup" % verb)
    if verb == "tap":
        if len(args) not in (1, 2):
            err("expected 'tap <card> [<hold time>]' (cards: %s)" % ", ".join(NFC_CARDS))
        name = args[0].lower()
        if name not in NFC_CARDS:
            err("unknown card %s (cards: %s)" % (show(args[0]), ", ".join(NFC_CARDS)))
        ms = _dur(args[1], err) if len(args) == 2 else DEFAULT_TAP_MS
        if ms < 1:
            err("a card stays in the field at least 1 ms")
        return "tap", (name, ms)
    if verb == "reader":
        if len(args) != 1 or args[0].lower() not in ("dead", "alive"):
            err("expected 'reader dead' or 'reader alive'")
        return "reader", (args[0].lower(),)
    if verb == "remote":
        if len(args) != 2 or args[0].lower() not in ("lock", "unlock"):
            err("expected 'remote lock|unlock <user>'")
        return "remote", (args[0].lower(), args[1])
    if verb == "set":
        return "set", (_settings(args, err),)
    if verb == "calibrate":
        if len(args) != 1 or args[0].lower() not in ("auto", "manual", "mark", "cancel"):
            err("expected 'calibrate auto|manual|mark|cancel'")
        return "calibrate", (args[0].lower(),)
    if verb == "enroll":
        if len(args) < 3:
            err("expected 'enroll <kind> <ident> <user> [validity options]'")
        _kind(args[0], err)
        return "enroll", tuple(args[:3]) + (_key_options(args[0], args[1], args[3:], err),)
    if verb == "clock":
        a = args[1:] if args and args[0].lower() == "set" else args
        if len(a) != 1:
            err("expected 'clock set <time>' (e.g. clock set 2026-12-02T09:00+09:00)")
        t = _clock(a[0], err)
        if t is None:
            err("the host sets the clock to a time; 'clock unset' is a setup line (or cut the power)")
        return "clock", (t,)
    if verb == "pin":
        if len(args) != 1 or not args[0].isdigit() or not args[0].isascii():
            err("expected 'pin <digits>' (typed on the keypad, then #)")
        return "keypad", (args[0] + "#",)
    if verb == "keypad":
        if len(args) != 1 or any(c not in KEYPAD_KEYS for c in args[0]) or len(args[0]) > 64:
            err("expected 'keypad <keys>' with keys from %s (e.g. keypad 4711#)" % KEYPAD_KEYS)
        return "keypad", (args[0],)
    if verb == "power":
        if [x.lower() for x in args] != ["cut"]:
            err("expected 'power cut'")
        return "power", ()
    if verb == "battery":
        if len(args) != 1:
            err("expected 'battery <mV>' (the battery's voltage from now on, e.g. battery 3400)")
        return "battery", (_int(args[0], "battery", 0, 20000, err),)
    if verb == "bundle":
        if len(args) != 1:
            err("expected 'bundle <file>' (a bundle file, relative to the scenario)")
        return "bundle", (args[0],)
    if verb == "revoke":
        if len(args) != 2:
            err("expected 'revoke <kind> <ident>'")
        _kind(args[0], err)
        return "revoke", tuple(args)
    if verb == "say":
        text = _strip_comment(raw).strip()
        text = text.split(None, 3)[3] if len(text.split(None, 3)) == 4 else ""
        return "say", (text,)
    err("unknown action %s (door, force door open, button, turn, jam, unjam, card, tap, reader, remote, "
        "set, calibrate, enroll, revoke, clock set, pin, keypad, battery, bundle, power cut, reboot, "
        "repair, say)" % show(tok[0]))


KEYPAD_KEYS = "0123456789*#"
_KEY_OPTIONS = ("days", "window", "from", "until", "uses", "schedule")


def _key_options(kind, ident, args, err):
    """key / enroll options -> doorkit.keybook.validity keywords (checked now)."""
    from doorkit.keybook import validity, KeyError_
    opts = {}
    for a in args:
        if a.lower() in ("off", "disabled"):
            opts["enabled"] = False
            continue
        k, eq, v = a.partition("=")
        if not eq or k not in _KEY_OPTIONS:
            err("key option %s: use %s=<value> or off" % (show(a), "=, ".join(_KEY_OPTIONS)))
        if ("start" if k == "from" else k) in opts:
            err("key option %s is given twice" % k)
        opts["start" if k == "from" else k] = v
    try:
        validity(**opts)
    except KeyError_ as e:
        err("key %s %s: %s" % (kind, ident, e))
    from lockctl.keystore import ident_bytes
    try:
        ident_bytes(kind_code(kind), ident.upper() if kind != "pin" else ident)
    except ValueError as e:
        err("key %s %s: %s" % (kind, ident, e if kind == "pin" else "not hex (an even number of 0-9, A-F)"))
    return opts


def _clock(text, err):
    """'2026-12-02T09:00+09:00' / '...Z' (a time zone is required) -> Unix s; 'unset' -> None."""
    import datetime
    if text.lower() == "unset":
        return None
    try:
        d = datetime.datetime.fromisoformat(text)
    except ValueError:
        d = None
    if d is None or d.tzinfo is None:
        err("a clock time is ISO 8601 with its zone, e.g. 2026-12-02T09:00+09:00 or 2026-12-02T00:00Z, not %s"
            % show(text))
    t = int(d.timestamp())
    if not 946684800 <= t < 2 ** 32:
        err("clock %s: outside 2000..2106" % text)
    return t


def _kind(name, err):
    try:
        return kind_code(name)
    except ValueError as e:
        err(str(e))


def _dur(text, err):
    try:
        return parse_duration(text)
    except ValueError as e:
        err(str(e))


# --- running -------------------------------------------------------------------------------------

class Result:
    def __init__(self, scn, door):
        self.scenario = scn
        self.door = door
        self.log = []  # the log as text lines
        self.output = []  # log lines interleaved with '# ...' narration (say, world notes, actions)
        self.ok = True
        self.finished = False  # ran to 'run until' (False while running or after an interrupt)
        self.diff = []
        self.first_bad = None  # (index in log, file line or None, expected text or None, actual or None)

    def report(self):
        """Human-readable verdict."""
        scn = self.scenario
        if scn.expect is None:
            return "%s: ran to %d ms, %d log lines (no expect block)" % (scn.path, scn.until, len(self.log))
        if self.ok:
            return "%s: ok, %d log lines as expected" % (scn.path, len(self.log))
        idx, fline, exp, act = self.first_bad
        where = "%s:%s" % (scn.path, fline if fline is not None else scn.expect_line)
        out = ["%s: the log differs from expect at log line %d" % (where, idx + 1),
               "  expected: %s" % (exp if exp is not None else "(end of log)"),
               "  actual:   %s" % (act if act is not None else "(end of log)")]
        out.extend(self.diff)
        return "\n".join(out)


def run(scn, verbose=False, mode="exact", fine_ms=5, seed=None, on_output=None, progress=None):
    """Play a Scenario; returns a Result (ok False when the log differs from expect). Raises
    ScenarioError for an action the lock refuses (bad input at run time). on_output(line, is_log)
    sees every output line as it happens; progress: see finish()."""
    return finish(start(scn, verbose, mode, fine_ms, seed, on_output), progress)


def start(scn, verbose=False, mode="exact", fine_ms=5, seed=None, on_output=None):
    """Power the scenario's door on (the BOOT record) and schedule its actions; finish() runs it.
    The Result is there from the start, so a caller interrupted in finish() still has the log so far."""
    try:
        door = VirtualDoor(seed=scn.seed if seed is None else seed, config=dict(scn.config) or None,
                           calibration=scn.calibration, keys=scn.keys, bolt=scn.bolt, door=scn.door, clock=scn.clock,
                           mode=mode, fine_ms=fine_ms, start=False, nfc=scn.nfc, **scn.world)
    except ValueError as e:  # parse() checks the setup; this is the last line of defence
        raise ScenarioError(scn.path, None, "cannot build the door: %s" % e)
    res = Result(scn, door)
    out = res.output
    log = res.log

    def on_record(rec):
        s = door.format(rec)
        log.append(s)
        out.append(s)
        if on_output is not None:
            on_output(s, True)

    def note(text):
        out.append(text)
        if on_output is not None:
            on_output(text, False)

    door.on_record = on_record
    door.world.on_note = lambda t, text: note("# %d %s" % (t, text))
    door.start()
    for act in scn.actions:
        door.schedule(act.t, _perform, door, act, note, verbose, scn.path)
    return res


def finish(res, progress=None, clock=time.monotonic, every=0.1, chunk_ms=None):
    """Run res's door up to the scenario's 'run until' and compare the log with expect.

    progress(now_ms, until_ms, res), when given, is called after each slice of virtual time: the
    door then runs in slices sized to take about `every` seconds of `clock` each (or of chunk_ms
    virtual ms each), which gives the same log as one run: the runner never looks at a slice's end."""
    scn, door = res.scenario, res.door
    until = scn.until
    if progress is None and chunk_ms is None:
        door.run_until(until)
    else:
        chunk = chunk_ms or 100
        while door.now < until:
            t0 = clock()
            door.run_until(min(until, door.now + chunk))
            if chunk_ms is None:
                dt = clock() - t0
                if dt < every / 4:
                    chunk *= 2
                elif dt > every:
                    chunk = max(1, chunk // 2)
            if progress is not None:
                progress(door.now, until, res)
    res.finished = True
    if scn.expect is not None:
        expected = [s for _, s in scn.expect]
        if expected != res.log:
            res.ok = False
            k = 0
            while k < len(expected) and k < len(res.log) and expected[k] == res.log[k]:
                k += 1
            res.first_bad = (k, scn.expect[k][0] if k < len(expected) else None,
                             expected[k] if k < len(expected) else None, res.log[k] if k < len(res.log) else None)
            res.diff = list(difflib.unified_diff(expected, res.log, "expected", "actual", lineterm="", n=2))
    return res


def _perform(door, act, note, verbose, path):
    v, a = act.verb, act.args
    if verbose and v != "say":
        note("# %d > %s" % (door.now, act.text))
    try:
        if v == "door":
            if a[0] == "open":
                door.open_door()
            elif a[0] == "close":
                door.close_door()
            else:
                door.open_door(force=True)
        elif v == "button":
            door.press_button(a[0])
        elif v == "turn":
            door.turn(a[0], a[1])
        elif v == "jam":
            door.jam(a[0], a[1])
        elif v == "unjam":
            door.unjam()
        elif v == "card":
            door.card(a[0], a[1])
        elif v == "tap":
            door.tap(a[0], a[1])
        elif v == "reader":
            door.reader_dead(a[0] == "dead")
        elif v == "remote":
            door.remote(a[0], a[1])
        elif v == "set":
            door.configure(a[0])
        elif v == "calibrate":
            door.calibrate(a[0])
        elif v == "enroll":
            door.enroll(a[0], a[1], a[2], **a[3])
        elif v == "clock":
            door.set_clock(a[0])
        elif v == "keypad":
            door.keypad_type(a[0])
        elif v == "power":
            door.power_cut()
        elif v == "battery":
            door.set_battery(a[0])
        elif v == "bundle":
            import os
            p = a[0] if os.path.isabs(a[0]) else os.path.join(os.path.dirname(path), a[0])
            try:
                data = open(p, "rb").read()
            except OSError as e:
                raise ScenarioError(path, act.line, "bundle %s: cannot read: %s" % (a[0], e.strerror or e))
            door.install(data)
        elif v == "revoke":
            door.revoke(a[0], a[1])
        elif v == "reboot":
            door.reboot()
        elif v == "repair":
            door.world.repair()
        elif v == "say":
            note("# %d %s" % (door.now, a[0]) if a[0] else "#")
    except ValueError as e:
        raise ScenarioError(path, act.line, "at %d, %s: refused: %s" % (act.t, act.text, e))


def format_output(res, log_only=False):
    return list(res.log if log_only else res.output)
