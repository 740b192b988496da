"""`doorkit attendance`: clock-in/clock-out per user and work day from the fleet's history, as CSV for HR."""
import csv
import datetime
import hashlib
import io
import json
import os
import sys

from doorkit.errors import EXIT_DATA, EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "attendance for HR: clock-in and clock-out per user and work day, as CSV"

EPILOG = """examples:
  doorkit attendance --db fleet.sqlite --doors doors/ --start 2026-12-01
  doorkit attendance --db fleet.sqlite --doors doors/ --start 2026-12-01 --csv december.csv
  doorkit attendance --db fleet.sqlite --doors doors/ --mode every --csv punches.csv
  doorkit attendance --db fleet.sqlite --doors doors/ --shifts night.csv --csv -
  doorkit attendance --db fleet.sqlite --doors doors/ --link hr-link.json --start 2026-12-01 --csv today.csv

An entry is an unlock by a user's card, FeliCa, phone or PIN (--methods; 'remote' adds remote
unlocks done for a user). The first entry of a work day at any door is the clock-in, the last the
clock-out; a work day runs from --day-start (05:00) to the same time the next morning and is written
once it has ended (--include-open writes the running day too, status 'open'). --mode every makes
each entry a punch; --mode unapproved marks a clock-in 'unapproved' when the user punched by
another method earlier that work day (--other-punches FILE: user_code,time; or an unlock by a
method not in --methods). Night shifts: --shifts FILE (user_code,day_start) moves a user's day
start, e.g. 12:00 for a shift from 22:00 to 07:00. Abnormal entries still count and are named in
remarks: retried, not-opened, held-open, jammed; no-clock-out for a day with one entry.

Users are keyed by the user code of the door directories' key books. Not guessed, reported on
stderr and left out: a code with two names (duplicate codes), a user at doors of several sites
(several offices), entries the door could not date or of a user the key book does not know.

--link FILE keeps a link to an HR system: the start date (entries before it are never sent) and
the work days already sent; each run writes only the days closed since, and a sent day that
changed (records of an offline door arriving late) is reported for --resend DATE.

layouts (--layout): daily (first-last, unapproved) user_code,name,work_date,clock_in,clock_out,
clock_in_door,clock_out_door,status,remarks; punches (any mode) user_code,name,work_date,punch,
time,door,site,method,status,remarks. Times are the door's local time, YYYY-MM-DD HH:MM:SS.

""" + EXIT_HELP

LINK_FORMAT = 1


def register(p):
    from doorkit.attendance import DEFAULT_METHODS, MODES
    p.epilog = EPILOG
    p.add_argument("--db", default="fleet.sqlite", metavar="PATH|URL", help="the collector's database")
    p.add_argument("--doors", action="append", required=True, metavar="DIR",
                   help="door directories (key books with the user codes, sites, UTC offsets)")
    p.add_argument("--mode", choices=MODES, help="every entry a punch, first and last only (default), or "
                                                 "first-last with unapproved clock-ins")
    p.add_argument("--layout", choices=("daily", "punches"), help="CSV layout (default: daily, punches for "
                                                                  "--mode every)")
    p.add_argument("--start", metavar="DATE", help="the first work day to send (YYYY-MM-DD)")
    p.add_argument("--until", metavar="DATE", help="the last work day to send (default: the last one closed)")
    p.add_argument("--day-start", default="05:00", metavar="HH:MM", help="when a work day starts (05:00)")
    p.add_argument("--shifts", metavar="FILE", help="CSV user_code,day_start: users whose day starts elsewhere")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS), metavar="LIST",
                   help="what counts as an entry (default %(default)s; also iso-dep, remote)")
    p.add_argument("--other-punches", metavar="FILE", help="CSV user_code,time: punches by another method "
                                                           "(--mode unapproved)")
    p.add_argument("--include-open", action="store_true", help="also the work days that have not ended")
    p.add_argument("--link", metavar="FILE", help="the HR link's state: send each closed day once")
    p.add_argument("--resend", action="append", metavar="DATE", help="with --link: send this work day again")
    p.add_argument("--csv", metavar="FILE", help="write CSV here instead of a table ('-' for stdout)")


def _date(text, flag):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise UserError(EXIT_USAGE, "%s is a date YYYY-MM-DD, not %r" % (flag, text))


def _warn(msg):
    sys.stderr.write("doorkit attendance: warning: %s\n" % msg)


def _shifts(path):
    from doorkit.attendance import parse_hhmm
    from doorkit.provision.hr import read_rows
    out = {}
    for line, row in read_rows(path, ("user_code", "day_start"), ()):
        try:
            out[row["user_code"]] = parse_hhmm(row["day_start"])
        except ValueError as e:
            raise UserError(EXIT_DATA, "%s line %d: day_start: %s" % (os.path.basename(path), line, e))
    return out


def _other(path, offsets):
    """{code: [aware datetimes]} of the other punches file; naive times are the user's doors' local
    time. offsets: {code: (utc_offset_min, dst_rule)}."""
    from doorkit.provision.hr import read_rows
    out = {}
    for line, row in read_rows(path, ("user_code", "time"), ("method",)):
        try:
            t = datetime.datetime.fromisoformat(row["time"])
        except ValueError:
            raise UserError(EXIT_DATA, "%s line %d: time is YYYY-MM-DD HH:MM[:SS][+HH:MM], not %r"
                            % (os.path.basename(path), line, row["time"]))
        code = row["user_code"]
        if t.tzinfo is None:
            if code not in offsets:
                continue  # not a user of these doors
            t = _localize(t, *offsets[code])
        out.setdefault(code, []).append(t)
    return out


def _localize(naive, offset_min, dst_rule):
    """A naive local time at a door (its UTC offset and DST rule) -> an aware datetime."""
    from doorkit.attendance import local_time
    utc = naive.replace(tzinfo=datetime.timezone.utc)
    off = datetime.timedelta(minutes=offset_min)
    for _ in range(2):  # standard time first, then the offset in force then
        off = local_time((utc - off).timestamp(), offset_min, dst_rule).utcoffset()
    return naive.replace(tzinfo=datetime.timezone(off))


class Link:
    """The HR link's state file: start date, mode, layout and the work days sent (date -> digest of
    the rows sent for it)."""

    def __init__(self, path):
        self.path = path
        self.start = self.mode = self.layout = None
        self.sent = {}
        self.exists = os.path.exists(path)
        if not self.exists:
            return
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            if d.get("format") != LINK_FORMAT:
                raise ValueError("format %r, this doorkit reads %d" % (d.get("format"), LINK_FORMAT))
            self.start = datetime.date.fromisoformat(d["start"])
            self.mode, self.layout = d["mode"], d["layout"]
            self.sent = dict(d["sent"])
            for k, v in self.sent.items():
                datetime.date.fromisoformat(k)
                if not isinstance(v, str):
                    raise ValueError("sent %s: %r" % (k, v))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise UserError(EXIT_DATA, "link file %s: not a doorkit attendance link (%s)" % (path, e))

    def save(self):
        from doorkit.provision import _atomic_write
        body = {"format": LINK_FORMAT, "start": self.start.isoformat(), "mode": self.mode, "layout": self.layout,
                "sent": dict(sorted(self.sent.items()))}
        try:
            _atomic_write(self.path, (json.dumps(body, indent=1) + "\n").encode())
        except OSError as e:
            raise UserError(EXIT_DATA, "link file %s: %s" % (self.path, e.strerror or e))


def _digest(rows):
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]


def _books(doors):
    """{door: (site, {code: name}, {index: code}, utc offset s)} of the door directories."""
    from doorkit.provision import load_keys
    out = {}
    for d, door in doors.items():
        keys = load_keys(door)
        codes = keys.book.names()
        users = {c: keys.users.get(c, {}).get("name", "") for c in codes.values()}
        out[d] = (door.site, users, codes, (door.config.get("utc_offset_min", 0), door.config.get("dst_rule", 0)))
    return out


def _plural(n, what):
    return "%d %s%s" % (n, what, "" if n == 1 else "s")


def run(args):
    from doorkit import attendance as A
    from doorkit.commands.fleet import doors_from
    from doorkit.fleet import FleetDB, FleetError
    try:
        day_start = A.parse_hhmm(args.day_start)
    except ValueError as e:
        raise UserError(EXIT_USAGE, "--day-start: %s" % e)
    try:
        methods = A.parse_methods(args.methods)
    except ValueError as e:
        raise UserError(EXIT_USAGE, "--methods: %s" % e)
    start = _date(args.start, "--start") if args.start else None
    until = _date(args.until, "--until") if args.until else None
    resend = [_date(t, "--resend") for t in args.resend or ()]
    link = None
    if args.link:
        link = Link(args.link)
        if not args.csv:
            raise UserError(EXIT_USAGE, "--link sends days: it needs --csv FILE")
        if args.include_open:
            raise UserError(EXIT_USAGE, "--link sends closed work days only: --include-open is not for it")
        if not link.exists and start is None:
            raise UserError(EXIT_USAGE, "a new link needs --start DATE (entries before it are never sent)")
        for flag, given, kept in (("--start", start, link.start), ("--mode", args.mode, link.mode),
                                  ("--layout", args.layout, link.layout)):
            if link.exists and given is not None and given != kept:
                raise UserError(EXIT_USAGE, "link %s was made with %s %s; not %s (start a new link file)"
                                % (args.link, flag, kept, given))
        start = link.start or start
        args.mode = args.mode or link.mode
        args.layout = args.layout or link.layout
    elif resend:
        raise UserError(EXIT_USAGE, "--resend is for a --link")
    mode = args.mode or A.FIRST_LAST
    layout = args.layout or ("punches" if mode == A.EVERY else "daily")
    if layout == "daily" and mode == A.EVERY:
        raise UserError(EXIT_USAGE, "--mode every makes every entry a punch: it needs --layout punches")
    if start and until and until < start:
        raise UserError(EXIT_USAGE, "--until %s is before --start %s" % (until, start))

    doors = doors_from(args.doors)
    books = _books(doors)
    problems, left_out = A.check_users({d: (b[0], b[1]) for d, b in books.items()})
    names = {}
    offsets = {}
    for d in sorted(books):
        names.update(books[d][1])
        for c in books[d][1]:
            offsets.setdefault(c, books[d][3])
    shifts = _shifts(args.shifts) if args.shifts else {}
    other = _other(args.other_punches, offsets) if args.other_punches else {}
    for c in sorted(set(shifts) - set(names)):
        _warn("--shifts names user %s, who is in no key book of these doors" % c)

    if "://" not in args.db and not os.path.exists(args.db):
        raise UserError(EXIT_DATA, "database %s: no such file (doorkit fleet serve --db %s collects it)"
                        % (args.db, args.db))
    try:
        db = FleetDB(args.db)
    except FleetError as e:
        raise UserError(EXIT_DATA, str(e))
    ents = []
    try:
        for d in db.doors():
            if d not in books:
                _warn("door %s is in the database but not in --doors: its records are left out" % d)
                continue
            site, _users, codes, off = books[d]
            all_methods = A.METHODS if mode == A.UNAPPROVED else methods
            got, notes = A.entries(db.records(d), d, site, codes, off[0], off[1], all_methods)
            for e in got:
                if e.method in methods:
                    ents.append(e)
                else:
                    other.setdefault(e.code, []).append(e.when)
            if notes["undated"]:
                _warn("door %s: %s the door could not date (its clock was not set in that boot): left out"
                      % (d, _plural(notes["undated"], "entry")))
            for i, n in sorted(notes["unknown"].items()):
                _warn("door %s: %s of user number %d, who is not in its key book: left out"
                      % (d, _plural(n, "entry"), i))
            st = db.state(d)
            if st is not None and not st.get("online"):
                _warn("door %s is offline: records it takes meanwhile arrive later" % d)
    finally:
        db.close()
    for p in problems:
        _warn(p)

    now = datetime.datetime.now(datetime.timezone.utc)
    days = A.work_days(ents, mode, now, day_start, shifts, start, until, other, args.include_open, left_out)
    rows_of = A.daily_rows if layout == "daily" else A.punch_rows
    columns = A.DAILY_COLUMNS if layout == "daily" else A.PUNCH_COLUMNS
    by_date = {}
    for d in days:
        by_date.setdefault(d.date.isoformat(), []).append(d)
    if link is not None:
        changed = []
        send = []
        for date in sorted(by_date):
            digest = _digest(rows_of(by_date[date], names))
            if date not in link.sent or datetime.date.fromisoformat(date) in resend:
                send.append(date)
                link.sent[date] = digest
            elif link.sent[date] != digest:
                changed.append(date)
        for date in changed:
            _warn("work day %s changed after it was sent (records that arrived late): send it again with "
                  "--resend %s" % (date, date))
        days = [d for date in send for d in by_date[date]]
        link.mode, link.layout, link.start = mode, layout, start
    rows = rows_of(days, names)

    if args.csv:
        from doorkit.provision import _atomic_write
        buf = io.StringIO()
        w = csv.DictWriter(buf, columns, lineterminator="\r\n")  # what spreadsheet and HR imports expect
        w.writeheader()
        w.writerows(rows)
        if args.csv == "-":
            sys.stdout.write(buf.getvalue())
            sys.stdout.flush()
        else:
            try:
                _atomic_write(os.path.abspath(args.csv), buf.getvalue().encode("utf-8"))
            except OSError as e:
                raise UserError(EXIT_DATA, "CSV file %s: %s" % (args.csv, e.strerror or e))
        if link is not None:
            link.save()  # only once the CSV is on disk: a crash before this sends the days again
        if args.csv != "-":
            print("%s of %s written to %s" % (_plural(len(rows), "row"), _plural(len({d.code for d in days}),
                                                                                  "user"), args.csv))
        return EXIT_OK
    if not rows:
        print("no work days%s" % ("" if args.include_open else " closed (--include-open shows the running one)"))
        return EXIT_OK
    cells = [columns] + [tuple(r[c] for c in columns) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for c in cells:
        print("  ".join(c[i].ljust(widths[i]) for i in range(len(columns))).rstrip())
    return EXIT_OK
