"""`doorkit logs`: pull the board's event log into the door's local history (SQLite), acknowledging
on the board only what the file holds; show it or export it as CSV (doorkit.history does the work)."""
import argparse
import os
import sys

from doorkit.errors import EXIT_DATA, EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "pull the board's event log into the door's history (SQLite); show it or export it as CSV"

HISTORY_FILE = "history.sqlite"

EPILOG = """examples:
  doorkit logs pull --port /dev/ttyUSB0 --door doors/front
      take the board's new records into doors/front/history.sqlite, then acknowledge them
  doorkit logs show --door doors/front --keybook doors/front/keys.json --utc-offset +09:00 --last 20
  doorkit logs export --door doors/front --csv front.csv

A pull resumes after the last record the history holds and never stores one twice; the board is
told to forget a record (ack) only once it is committed in the file. A board of another door, or
one whose log was wiped, is refused (exit 5): pull it into another --history file.
CSV columns: seq,boot,time,since_boot_ms,code,event,detail,user,who (time: ISO 8601 in the door's
UTC offset when the board's clock dates the record, else since_boot_ms).

""" + EXIT_HELP


def _where(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--door", metavar="DIR", help="door directory (made by doorkit provision): DIR/" + HISTORY_FILE)
    g.add_argument("--history", metavar="FILE", help="the history file itself")


def _people(p):
    p.add_argument("--keybook", metavar="FILE", help="key book (JSON, KeyBook.state()) to show users by name")
    p.add_argument("--utc-offset", metavar="+HH:MM", help="show times in this UTC offset (default UTC)")


def register(p):
    p.epilog = EPILOG
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    fmt = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser("pull", help="take the board's new records into the history and acknowledge them",
                       formatter_class=fmt, epilog=EPILOG, allow_abbrev=False)
    s.add_argument("--port", required=True, help="the board: /dev/ttyUSB0, COM3 or socket://127.0.0.1:8266")
    _where(s)
    s.add_argument("--door-id", metavar="ID", help="refuse a board that is not this door")
    s = sub.add_parser("show", help="print the history as a table", formatter_class=fmt, epilog=EPILOG,
                       allow_abbrev=False)
    _where(s)
    _people(s)
    s.add_argument("--last", metavar="N", type=int, help="only the last N records")
    s = sub.add_parser("export", help="write the history as CSV", formatter_class=fmt, epilog=EPILOG,
                       allow_abbrev=False)
    _where(s)
    _people(s)
    s.add_argument("--csv", metavar="FILE", required=True, help="the CSV file to write ('-': stdout)")


def history_path(args, must_exist):
    if args.history is not None:
        path = args.history
    elif args.door is not None:
        if not os.path.isdir(args.door):
            raise UserError(EXIT_DATA, "door directory %s: no such directory" % args.door)
        path = os.path.join(args.door, HISTORY_FILE)
    else:
        raise UserError(EXIT_USAGE, "give --door DIR or --history FILE")
    if must_exist and not os.path.exists(path):
        raise UserError(EXIT_DATA, "history %s: no such file (doorkit logs pull makes it)" % path)
    return path


def names_from(path):
    """user index -> name from a key book file (the JSON of KeyBook.state()), or None."""
    if path is None:
        return None
    import json
    from doorkit.keybook import KeyBook
    try:
        with open(path, encoding="utf-8") as f:
            st = json.load(f)
        return KeyBook.from_state(b"", b"", st).names()
    except FileNotFoundError:
        raise UserError(EXIT_DATA, "key book %s: no such file" % path)
    except OSError as e:
        raise UserError(EXIT_DATA, "key book %s: %s" % (path, e.strerror or e))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(EXIT_DATA, "key book %s: not a doorkit key book (%s)" % (path, str(e) or type(e).__name__))


def _offset(text):
    if text is None:
        return None
    from doorkit.history import parse_utc_offset
    try:
        return parse_utc_offset(text)
    except ValueError as e:
        raise UserError(EXIT_USAGE, "--utc-offset: %s" % e)


def door_defaults(args):
    """From a door directory made by doorkit provision (--door DIR with a door.toml): the door id a
    pull checks the board against, the UTC offset of its times and its users' names, where the
    options do not give them."""
    if getattr(args, "door", None) is None or not os.path.exists(os.path.join(args.door, "door.toml")):
        return
    from doorkit import provision
    door, keys = provision.open_keys(args.door)  # UserError(EXIT_DATA) for a corrupt directory
    if hasattr(args, "door_id") and args.door_id is None:
        args.door_id = door.door_id
    if getattr(args, "utc_offset", "") is None:
        m = int(door.config.get("utc_offset_min", 0))
        args.utc_offset = "%s%02d:%02d" % ("-" if m < 0 else "+", abs(m) // 60, abs(m) % 60)
    if getattr(args, "keybook", "") is None:
        args.names = {i: keys.who(c) for c, i in keys.book.users.items()}


def run(args):
    from doorkit.history import History, table
    door_defaults(args)
    if args.action is None:
        raise UserError(EXIT_USAGE, "give an action: pull, show or export (doorkit logs --help)")
    if args.action == "pull":
        path = history_path(args, must_exist=False)
        from doorkit.link import open_link
        from doorkit.progress import Bar
        with open_link(args.port) as ln, History(path) as h, Bar("doorkit logs", kind="count") as bar:
            res = h.pull(ln, door=args.door_id, on_progress=lambda d, t: bar.update(d, t, "pulling"))
        sys.stdout.write("door %s: %d new record%s, history up to seq %d, board acknowledged up to %d (%s)\n"
                         % (res.door, res.added, "" if res.added == 1 else "s", res.last_seq, res.cursor, path))
        return EXIT_OK
    path = history_path(args, must_exist=True)
    names = getattr(args, "names", None) or names_from(args.keybook)
    off = _offset(args.utc_offset)
    with History(path) as h:
        if args.action == "show":
            if args.last is not None and args.last < 0:
                raise UserError(EXIT_USAGE, "--last takes a count >= 0, not %d" % args.last)
            rows = h.events(names, off, last=args.last)
            sys.stdout.write(table(rows) if rows else "no records in %s\n" % path)
            return EXIT_OK
        if args.csv == "-":
            h.export_csv(sys.stdout, names, off)
            return EXIT_OK
        n = h.export_csv(args.csv, names, off)
    sys.stderr.write("%s: %d record%s\n" % (args.csv, n, "" if n == 1 else "s"))
    return EXIT_OK
