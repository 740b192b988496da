"""Scenario files: a door's setup, timed actions, how long to run, and the exact log to expect.
The format is documented in docs/scenarios.md. parse() / load() give a Scenario (or raise
ScenarioError "file:line: message"); run() plays it on a VirtualDoor and compares the log.

    scn = load("sim/scenarios/demo.scn")
    res = run(scn)
    print("\\n".join(res.output)); assert res.ok, res.report()
"""
import difflib
import re

from lockctl import config as _config
from lockctl.record import format_record, kind_code, parse_value

from .board import VirtualDoor, NFC_CARDS

DEFAULT_PRESS_MS = 150
DEFAULT_TURN_MS = 600
DEFAULT_TAP_MS = 1000

# World(...) keyword -> converter, for the `world` line
_WORLD_KEYS = {
    "lock_deg": float, "unlock_deg": float, "speed_dps": float, "bolt_deg": float,
    "pot_offset": int, "pot_per_deg": float, "noise": int,
    "i_free": int, "i_stall": int, "i_inrush": int, "inrush_ms": int, "i_noise": int,
    "door_bounce": "range", "door_gap": int, "button_bounce": "range", "button_gap": int,
}
_WORLD_ALIASES = {"speed": "speed_dps"}

_UNITS = (("ms", 1), ("min", 60000), ("s", 1000), ("h", 3600000), ("d", 86400000))


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
        self.actions = []
        self.until = None
        self.until_line = None
        self.expect = None  # list of (line number, text), or None when there is no expect block
        self.expect_line = None


def parse_duration(text):
    """'1500' / '1500ms' / '1.5s' / '2min' / '1h' / '1d' -> int ms; ValueError otherwise."""
    t = text.strip().lower()
    for suffix, mult in _UNITS:
        if t.endswith(suffix) and t[:-len(suffix)]:
            num = t[:-len(suffix)]
            break
    else:
        num, mult = t, 1
    if not re.match(r"^\d+(\.\d+)?$", num):
        raise ValueError("not a time: %r (use ms, or a number with ms, s, min, h or d)" % text)
    v = float(num) * mult if "." in num else int(num) * mult
    if v != int(v):
        raise ValueError("time %r is not a whole number of ms" % text)
    return int(v)


def _strip_comment(line):
    m = re.search(r"(^|\s)#", line)
    return line[:m.start()] if m else line


def _kv(tokens, err):
    out = []
    for tok in tokens:
        if "=" not in tok or tok.startswith("=") or tok.endswith("="):
            err("expected key=value, got %r" % tok)
        k, v = tok.split("=", 1)
        out.append((k, v))
    return out


def _settings(tokens, err):
    if not tokens:
        err("set needs at least one key=value")
    d = {}
    for k, v in _kv(tokens, err):
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
    lines = text.splitlines()
    last_t = 0
    started = False  # an `at` line was seen: setup is over
    i = 0
    while i < len(lines):
        n = i + 1
        raw = lines[i]
        i += 1

        def err(msg, n=n):
            raise ScenarioError(path, n, msg)

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
                s = lines[i].strip()
                i += 1
                if s and not s.startswith("#"):
                    scn.expect.append((i, s))
            break
        if scn.until is not None:
            err("only 'expect' may follow 'run until'")
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
            started = True
            verb, args = _action(tok[2:], raw, err, scn)
            scn.actions.append(Action(t, n, verb, args, " ".join(tok[2:])))
            continue
        if started:
            err("setup line %r after the first 'at' line (setup comes first)" % word)
        _setup(scn, word, tok[1:], err)
    if scn.until is None:
        raise ScenarioError(path, len(lines) or 1, "missing 'run until <time>' line")
    return scn


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError(path, None, "cannot read: %s" % (e.strerror or e))
    return parse(text, path)


def _time(text, last_t, err):
    rel = text.startswith("+")
    try:
        v = parse_duration(text[1:] if rel else text)
    except ValueError as e:
        err(str(e))
    return last_t + v if rel else v


def _setup(scn, word, args, err):
    if word == "seed":
        if len(args) != 1 or not re.match(r"^-?\d+$", args[0]):
            err("expected 'seed <integer>'")
        scn.seed = int(args[0])
    elif word == "world":
        if not args:
            err("world needs key=value settings, e.g. world speed_dps=120 unlock_deg=100")
        for k, v in _kv(args, err):
            k = _WORLD_ALIASES.get(k, k)
            conv = _WORLD_KEYS.get(k)
            if conv is None:
                err("unknown world setting %r (known: %s)" % (k, ", ".join(sorted(_WORLD_KEYS))))
            try:
                if conv == "range":
                    lo, _, hi = v.partition("-")
                    val = (int(lo), int(hi or lo))
                    if val[0] < 0 or val[1] < val[0]:
                        raise ValueError
                else:
                    val = conv(v)
            except ValueError:
                err("bad value for %s: %r" % (k, v) + (" (expected lo-hi ms)" if conv == "range" else ""))
            scn.world[k] = val
        if scn.world.get("unlock_deg", 90.0) <= scn.world.get("lock_deg", 0.0):
            err("unlock_deg must be above lock_deg")
    elif word == "set":
        scn.config.update(_settings(args, err))
    elif word == "bolt":
        if len(args) != 1:
            err("expected 'bolt locked', 'bolt unlocked' or 'bolt <degrees>'")
        a = args[0].lower()
        if a in ("locked", "unlocked"):
            scn.bolt = a
        else:
            try:
                scn.bolt = float(a)
            except ValueError:
                err("bolt must be locked, unlocked or an angle in degrees, not %r" % args[0])
    elif word == "door":
        if len(args) != 1 or args[0].lower() not in ("open", "closed"):
            err("expected 'door open' or 'door closed'")
        scn.door = args[0].lower()
    elif word == "calibrated":
        if len(args) != 1:
            err("expected 'calibrated yes', 'calibrated no' or 'calibrated <lock>,<unlock>'")
        a = args[0].lower()
        if a in ("yes", "true", "on"):
            scn.calibration = "ends"
        elif a in ("no", "false", "off"):
            scn.calibration = None
        else:
            m = re.match(r"^(-?\d+),(-?\d+)$", a)
            if not m:
                err("calibrated takes yes, no or <lock>,<unlock> (two integers), not %r" % args[0])
            scn.calibration = (int(m.group(1)), int(m.group(2)))
    elif word == "key":
        if len(args) != 3:
            err("expected 'key <kind> <ident> <user>'")
        _kind(args[0], err)
        if any(k[:2] == tuple(args[:2]) for k in scn.keys):
            err("key %s %s is already enrolled" % (args[0], args[1]))
        scn.keys.append(tuple(args))
    elif word == "nfc":
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            err("expected 'nfc on' or 'nfc off'")
        scn.nfc = args[0].lower() == "on"
    else:
        err("unknown setup line %r (seed, world, set, bolt, door, calibrated, key, nfc; "
            "or 'at <time> <action>', 'run until <time>', 'expect')" % word)


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
            try:
                where = float(where)
            except ValueError:
                err("turn to lock, unlock or an angle in degrees, not %r" % args[0])
        ms = _dur(args[1], err) if len(args) == 2 else DEFAULT_TURN_MS
        return "turn", (where, ms)
    if verb == "jam":
        at, moves, hold = None, 1, False
        for a in args:
            if a.lower() == "hold":
                hold = True
                continue
            if "=" not in a:
                err("jam takes at=<degrees>, moves=<n> and/or hold, not %r" % a)
            k, v = a.split("=", 1)
            try:
                if k == "at":
                    at = float(v)
                elif k == "moves":
                    moves = int(v)
                    if moves < 1:
                        raise ValueError
                else:
                    err("jam takes at=<degrees>, moves=<n> and/or hold, not %r" % a)
            except ValueError:
                err("bad value in %r" % a)
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
            err("unknown card %r (cards: %s)" % (args[0], ", ".join(NFC_CARDS)))
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
        if len(args) != 3:
            err("expected 'enroll <kind> <ident> <user>'")
        _kind(args[0], err)
        return "enroll", tuple(args)
    if verb == "revoke":
        if len(args) != 2:
            err("expected 'revoke <kind> <ident>'")
        _kind(args[0], err)
        return "revoke", tuple(args)
    if verb == "say":
        text = _strip_comment(raw).strip()
        text = text.split(None, 3)[3] if len(text.split(None, 3)) == 4 else ""
        return "say", (text,)
    err("unknown action %r (door, force door open, button, turn, jam, unjam, card, tap, reader, remote, "
        "set, calibrate, enroll, revoke, reboot, repair, say)" % tok[0])


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


def run(scn, verbose=False, mode="exact", fine_ms=5, seed=None):
    """Play a Scenario; returns a Result (ok False when the log differs from expect). Raises
    ScenarioError for an action the lock refuses (bad input at run time)."""
    door = VirtualDoor(seed=scn.seed if seed is None else seed, config=dict(scn.config) or None,
                       calibration=scn.calibration, keys=scn.keys, bolt=scn.bolt, door=scn.door,
                       mode=mode, fine_ms=fine_ms, start=False, nfc=scn.nfc, **scn.world)
    res = Result(scn, door)
    out = res.output

    def on_record(rec):
        s = format_record(rec)
        res.log.append(s)
        out.append(s)

    door.on_record = on_record
    door.world.on_note = lambda t, text: out.append("# %d %s" % (t, text))
    door.start()
    for act in scn.actions:
        door.schedule(act.t, _perform, door, act, out, verbose, scn.path)
    door.run_until(scn.until)
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


def _perform(door, act, out, verbose, path):
    v, a = act.verb, act.args
    if verbose and v != "say":
        out.append("# %d > %s" % (door.now, act.text))
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
            door.enroll(a[0], a[1], a[2])
        elif v == "revoke":
            door.revoke(a[0], a[1])
        elif v == "reboot":
            door.reboot()
        elif v == "repair":
            door.world.repair()
        elif v == "say":
            out.append("# %d %s" % (door.now, a[0]) if a[0] else "#")
    except ValueError as e:
        raise ScenarioError(path, act.line, "at %d, %s: refused: %s" % (act.t, act.text, e))


def format_output(res, log_only=False):
    return list(res.log if log_only else res.output)
