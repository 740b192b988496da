"""Attendance from the door history: clock-in and clock-out per user and work day, for HR systems.

    ents, notes = entries(records, door="front", site="hq", codes={1: "E0012"}, offset_min=540)
    days = work_days(ents, mode=FIRST_LAST, now=datetime.datetime.now(datetime.timezone.utc))
    punch_rows(days) / daily_rows(days)      # the two CSV layouts (PUNCH_COLUMNS, DAILY_COLUMNS)

An *entry* is an UNLOCK done by a credential of a known user (a card, FeliCa, a phone, a PIN; by
default not a remote unlock, which someone else may have done for them): button, manual and
automatic operations have no user and are never entries. The user is the HR user code of the door's
key book. A *work day* runs from the day start (05:00 by default, per user for night shifts) to the
same time the next morning: the first entry of a work day is the clock-in, the last one the
clock-out. A work day is *closed*, and may be sent, once its end has passed.

Entries flagged abnormal still count; the flags go in the remarks: `retried` (the unlock's move
failed once and was retried), `not-opened` (the door was not opened before the lock relocked),
`held-open` (the door stood open past held_open_ms), `jammed` (the bolt jammed before it locked
again).
Nothing is guessed: an entry the door could not date (its clock was not set in that boot), a user
index the key book does not know, a user code with two names, or one user in several offices are
reported (see check_users) and left out."""
import datetime

import doorkit  # noqa: F401  (the firmware packages on the path)
from lockctl import codes as C
from lockctl.eventlog import correct_times
from lockctl.record import KIND_NAMES, kind_code
from lockctl.schedule import DST_NONE, local_seconds

EVERY = "every"
FIRST_LAST = "first-last"
UNAPPROVED = "unapproved"
MODES = (EVERY, FIRST_LAST, UNAPPROVED)
DAY_START = 5 * 60  # minutes after midnight: 05:00
DEFAULT_METHODS = ("iso14443a", "felica", "phone", "pin")
METHODS = KIND_NAMES[1:] + ("remote",)

PUNCH_COLUMNS = ("user_code", "name", "work_date", "punch", "time", "door", "site", "method", "status", "remarks")
DAILY_COLUMNS = ("user_code", "name", "work_date", "clock_in", "clock_out", "clock_in_door", "clock_out_door",
                 "status", "remarks")

_MOVES = (C.LOG_LOCK, C.LOG_UNLOCK, C.LOG_MANUAL_LOCK, C.LOG_MANUAL_UNLOCK, C.LOG_BOOT)


class Entry:
    """One entry: code (HR user code), door, site, when (an aware datetime, the door's local time),
    method (credential kind name, or 'remote'), seq (the door's record), flags (abnormal, a list)."""

    __slots__ = ("code", "door", "site", "when", "method", "seq", "flags")

    def __init__(self, code, door, site, when, method, seq, flags=()):
        self.code = code
        self.door = door
        self.site = site
        self.when = when
        self.method = method
        self.seq = seq
        self.flags = list(flags)

    def __repr__(self):
        return "Entry(%r, %r, %s, %s%s)" % (self.code, self.door, self.when.isoformat(), self.method,
                                            " " + ",".join(self.flags) if self.flags else "")


def method_name(src):
    if src == C.SRC_REMOTE:
        return "remote"
    if type(src) is int and 0 < src <= C.KIND_LAST:
        return KIND_NAMES[src]
    return None


def parse_methods(text):
    """'felica,phone' -> ('felica', 'phone'); ValueError naming the known methods otherwise."""
    got = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    for m in got:
        if m != "remote":
            kind_code(m)  # ValueError naming the kinds
    if not got:
        raise ValueError("no method given (known: %s)" % ", ".join(METHODS))
    return got


def local_time(t, offset_min=0, dst_rule=DST_NONE):
    """Unix seconds -> an aware datetime in the door's local time (its UTC offset and DST rule, as
    the firmware's schedules count it)."""
    off = local_seconds(int(t), offset_min, dst_rule) - int(t)
    return datetime.datetime.fromtimestamp(t, datetime.timezone(datetime.timedelta(seconds=off)))


def entries(records, door, site="", codes=None, offset_min=0, dst_rule=DST_NONE, methods=DEFAULT_METHODS):
    """A door's records (seq, boot, wall, t, code, arg, who) in seq order -> (entries, notes):
    the entries (Entry) and notes, {"undated": n, "unknown": {user index: n}} of the UNLOCKs left
    out. codes: user index -> HR user code (the key book's names()); offset_min, dst_rule: the
    door's utc_offset_min and dst_rule settings."""
    codes = codes or {}
    recs = correct_times(list(records))
    out = []
    undated = 0
    unknown = {}
    for i, (seq, _boot, wall, t, code, arg, who) in enumerate(recs):
        if code != C.LOG_UNLOCK or type(who) is not int:
            continue
        m = method_name(arg)
        if m is None or m not in methods:
            continue
        if who not in codes:
            unknown[who] = unknown.get(who, 0) + 1
            continue
        if not wall:
            undated += 1
            continue
        out.append(Entry(codes[who], door, site, local_time(t, offset_min, dst_rule), m, seq,
                         _flags(recs, i)))
    return out, {"undated": undated, "unknown": unknown}


def _flags(recs, i):
    """The abnormal flags of the unlock recs[i]: a retry of its move, then what happened up to the
    next move (a jam, the door held open, a relock with the door never opened)."""
    flags = []
    if i and recs[i - 1][4] == C.LOG_RETRY and recs[i - 1][6] == recs[i][6]:
        flags.append("retried")
    for r in recs[i + 1:]:
        code, arg = r[4], r[5]
        if code == C.LOG_JAM and "jammed" not in flags:
            flags.append("jammed")
        elif code == C.LOG_HELD_OPEN and "held-open" not in flags:
            flags.append("held-open")
        elif code in _MOVES:
            if code == C.LOG_LOCK and arg == C.SRC_RELOCK:  # the firmware's relock: never opened
                flags.append("not-opened")
            break
    return flags


def check_users(books):
    """books: {door: (site, {code: name})} -> (problems, left_out): one-line problems and the set of
    user codes they leave out: a code with two names (duplicate codes, also codes that differ only
    in case or spaces), a user at doors of several sites (several offices)."""
    problems = []
    out = set()
    names = {}  # code -> {name: [doors]}
    sites = {}  # code -> {site: [doors]}
    folded = {}  # casefolded code -> {codes}
    for door in sorted(books):
        site, users = books[door]
        for code, name in users.items():
            names.setdefault(code, {}).setdefault(name, []).append(door)
            sites.setdefault(code, {}).setdefault(site, []).append(door)
            folded.setdefault(code.strip().casefold(), set()).add(code)
    for code in sorted(names):
        if len(names[code]) > 1:
            problems.append("user code %s has %d names (%s): a duplicate code, left out" % (
                code, len(names[code]), "; ".join("%r at %s" % (n, ", ".join(ds)) for n, ds in
                                                 sorted(names[code].items()))))
            out.add(code)
        if len(sites[code]) > 1:
            problems.append("user %s is in several offices (%s): left out" % (
                code, "; ".join("%s: %s" % (s or "(no site)", ", ".join(ds)) for s, ds in sorted(sites[code].items()))))
            out.add(code)
    for key in sorted(folded):
        if len(folded[key]) > 1:
            cs = sorted(folded[key])
            problems.append("user codes %s differ only in case or spaces: duplicate codes, left out" % ", ".join(
                repr(c) for c in cs))
            out.update(cs)
    return problems, out


def work_date(when, day_start=DAY_START):
    """The work day (a date) an aware local time belongs to, for a day start in minutes."""
    return (when - datetime.timedelta(minutes=day_start)).date()


def day_end(date, day_start, tz):
    """When work day `date` ends: day_start the next morning, in tz."""
    nxt = date + datetime.timedelta(days=1)
    return datetime.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz) + datetime.timedelta(minutes=day_start)


class Day:
    """A user's work day: code, date, entries (by time), open (its end has not passed), the punches
    [(kind, Entry, status)] of the mode (kind: clock_in / clock_out / punch; status: ok /
    unapproved / open) and remarks (day-level, a list)."""

    def __init__(self, code, date, ents, is_open):
        self.code = code
        self.date = date
        self.entries = ents
        self.open = is_open
        self.punches = []
        self.remarks = []


def work_days(ents, mode=FIRST_LAST, now=None, day_start=DAY_START, shifts=None, start=None, until=None,
              other=None, include_open=False, skip=()):
    """Entries of any doors -> [Day] sorted by (date, code): the days from `start` to `until` (dates,
    both optional), closed ones only unless include_open. shifts: {code: day start} for users whose
    day starts elsewhere (a night shift); other: {code: [aware datetimes]} punches by another method
    (mode UNAPPROVED); skip: user codes left out (check_users)."""
    if mode not in MODES:
        raise ValueError("mode is one of %s, not %r" % (", ".join(MODES), mode))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    shifts = shifts or {}
    other = other or {}
    groups = {}
    for e in ents:
        if e.code in skip:
            continue
        ds = shifts.get(e.code, day_start)
        groups.setdefault((e.code, work_date(e.when, ds)), []).append(e)
    days = []
    for (code, date), es in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if (start and date < start) or (until and date > until):
            continue
        es.sort(key=lambda e: (e.when, e.door, e.seq))
        ds = shifts.get(code, day_start)
        is_open = any(now < day_end(date, ds, e.when.tzinfo) for e in es)
        if is_open and not include_open:
            continue
        d = Day(code, date, es, is_open)
        ok = "open" if is_open else "ok"
        if mode == EVERY:
            d.punches = [("punch", e, ok) for e in es]
        else:
            first = es[0]
            status = ok
            if mode == UNAPPROVED and any(work_date(w, ds) == date and w < first.when for w in other.get(code, ())):
                status = "unapproved"
            d.punches = [("clock_in", first, status)]
            if len(es) > 1:
                d.punches.append(("clock_out", es[-1], ok))
            else:
                d.remarks.append("no-clock-out")
        days.append(d)
    return days


def _t(e):
    return e.when.strftime("%Y-%m-%d %H:%M:%S")


def punch_rows(days, names=None):
    """Days -> rows of PUNCH_COLUMNS (one punch a row). names: {code: name}."""
    names = names or {}
    rows = []
    for d in days:
        for kind, e, status in d.punches:
            rem = list(e.flags) + (d.remarks if kind == "clock_in" else [])
            rows.append({"user_code": d.code, "name": names.get(d.code, ""), "work_date": d.date.isoformat(),
                         "punch": kind, "time": _t(e), "door": e.door, "site": e.site, "method": e.method,
                         "status": status, "remarks": ";".join(rem)})
    return rows


def daily_rows(days, names=None):
    """Days of mode FIRST_LAST or UNAPPROVED -> rows of DAILY_COLUMNS (one user-day a row)."""
    names = names or {}
    rows = []
    for d in days:
        p = {kind: (e, status) for kind, e, status in d.punches}
        if "punch" in p:
            raise ValueError("the daily layout needs mode first-last or unapproved")
        cin, st = p["clock_in"]
        cout = p.get("clock_out", (None, None))[0]
        rem = ["clock_in " + f for f in cin.flags] + (["clock_out " + f for f in cout.flags] if cout else [])
        rows.append({"user_code": d.code, "name": names.get(d.code, ""), "work_date": d.date.isoformat(),
                     "clock_in": _t(cin), "clock_out": _t(cout) if cout else "", "clock_in_door": cin.door,
                     "clock_out_door": cout.door if cout else "", "status": st,
                     "remarks": ";".join(rem + d.remarks)})
    return rows


def parse_hhmm(text):
    """'05:00' -> 300 (minutes after midnight); ValueError otherwise."""
    hh, sep, mm = text.strip().partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2 or int(hh) > 23 or int(mm) > 59:
        raise ValueError("a time of day is HH:MM (00:00 .. 23:59), not %r" % text)
    return int(hh) * 60 + int(mm)
