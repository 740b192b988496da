"""`doorkit history`: the fleet's events (doorkit fleet serve's database), filtered, as a table or CSV."""
import csv
import datetime
import sys

from doorkit.errors import EXIT_DATA, EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "the fleet's event history: filter by door, user, kind and time; table or CSV"

EPILOG = """examples:
  doorkit history --db fleet.sqlite --doors doors/
  doorkit history --db fleet.sqlite --doors doors/ --door front --kind UNLOCK --since 2026-12-01
  doorkit history --db fleet.sqlite --doors doors/ --user E0012 --csv alice.csv
  doorkit history --db postgresql://fleet@db/fleet --doors doors/ --until 2026-12-31T18:00

--doors (door directories) gives names to user numbers and each door's UTC offset; without it the
users show as numbers and times in UTC. --kind takes record names (UNLOCK, DENIED, ...; docs/records.md),
comma-separated. --since/--until are local dates or times (YYYY-MM-DD[THH:MM]) at the door.

""" + EXIT_HELP

COLUMNS = ("door",) + ("seq", "boot", "time", "since_boot_ms", "code", "event", "detail", "user", "who")


def register(p):
    p.epilog = EPILOG
    p.add_argument("--db", default="fleet.sqlite", metavar="PATH|URL", help="the collector's database")
    p.add_argument("--doors", action="append", metavar="DIR", help="door directories (names, UTC offsets)")
    p.add_argument("--door", action="append", metavar="ID", help="only this door (repeatable)")
    p.add_argument("--user", metavar="CODE", help="only this user's records")
    p.add_argument("--kind", metavar="NAMES", help="only these record kinds, e.g. UNLOCK,DENIED")
    p.add_argument("--since", metavar="WHEN", help="from this local date/time on")
    p.add_argument("--until", metavar="WHEN", help="up to this local date/time")
    p.add_argument("--csv", metavar="FILE", help="write CSV here instead of a table ('-' for stdout)")


def _when(text, flag):
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(EXIT_USAGE, "%s is YYYY-MM-DD or YYYY-MM-DDTHH:MM, not %r" % (flag, text))


def run(args):
    from doorkit.fleet import FleetDB, FleetError
    from doorkit.history import event_rows, table
    from lockctl.record import LOG_NAMES
    kinds = None
    if args.kind:
        kinds = {k.strip().upper() for k in args.kind.split(",") if k.strip()}
        bad = sorted(kinds - set(LOG_NAMES[1:]))
        if bad:
            raise UserError(EXIT_USAGE, "--kind %s: no such record (docs/records.md)" % ", ".join(bad))
    since = _when(args.since, "--since") if args.since else None
    until = _when(args.until, "--until") if args.until else None
    info = {}
    if args.doors:
        from doorkit.commands.fleet import doors_from
        from doorkit.provision import load_keys
        for d, door in doors_from(args.doors).items():
            keys = load_keys(door)
            names = {i: "%s (%s)" % (c, keys.users.get(c, {}).get("name", "")) for i, c in keys.book.names().items()}
            info[d] = (names, door.config.get("utc_offset_min", 0) * 60, {c: i for i, c in keys.book.names().items()})
    try:
        db = FleetDB(args.db)
    except FleetError as e:
        raise UserError(EXIT_DATA, str(e))
    rows = []
    try:
        for d in args.door or db.doors():
            names, off, codes = info.get(d, (None, 0, {}))
            if args.user is not None and args.user not in codes:
                continue
            for r in event_rows(db.records(d), names, off):
                if kinds is not None and r["event"] not in kinds:
                    continue
                if args.user is not None and r["user"] != str(codes[args.user]):
                    continue
                if since or until:
                    if not r["time"]:
                        continue  # a record without a wall-clock time cannot be placed
                    t = datetime.datetime.fromisoformat(r["time"]).replace(tzinfo=None)
                    if (since and t < since) or (until and t > until):
                        continue
                rows.append(dict(r, door=d))
    finally:
        db.close()
    if args.csv:
        out = sys.stdout if args.csv == "-" else None
        try:
            f = out or open(args.csv, "w", newline="", encoding="utf-8")
        except OSError as e:
            raise UserError(EXIT_DATA, "CSV file %s: %s" % (args.csv, e.strerror or e))
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        if out is None:
            f.close()
            print("%d record(s) written to %s" % (len(rows), args.csv))
        return EXIT_OK
    if not rows:
        print("no records")
        return EXIT_OK
    by_door = {}
    for r in rows:
        by_door.setdefault(r["door"], []).append(r)
    for d, rs in by_door.items():
        print("door %s" % d)
        sys.stdout.write(table(rs))
    return EXIT_OK
