"""`doorkit clock`: set the board's real-time clock (UTC) from the host's clock or a given time,
or show what it reads (lockshell.service.set_clock / clock over doorkit.link)."""
import sys
import time

from doorkit.errors import EXIT_HELP, EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, UserError

HELP = "set the board's clock (UTC) or show what it reads"

# the RTC reads a year before 2024 as "never set" (lockshell/clock.py); it keeps years up to 2099
FIRST = 1704067200  # 2024-01-01T00:00:00Z
END = 4102444800  # 2100-01-01T00:00:00Z
SLACK_S = 2  # a read-back this far from what was set is still the same setting (the call takes time)

EPILOG = """examples:
  doorkit clock set --port /dev/ttyUSB0                 the host's clock, now
  doorkit clock set --port socket://127.0.0.1:8266 --time 2026-12-02T09:30:00+09:00
  doorkit clock show --port /dev/ttyUSB0

The board keeps UTC; --time takes ISO 8601 with its UTC offset (Z or +HH:MM), or "now". main.py
reads the clock when it starts again (doorkit reset or a power-up keeps it; a power cut loses it).

""" + EXIT_HELP


def register(p):
    import argparse
    p.epilog = EPILOG
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    fmt = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser("set", help="set the board's clock", formatter_class=fmt, epilog=EPILOG, allow_abbrev=False)
    s.add_argument("--port", required=True, help="the board: /dev/ttyUSB0, COM3 or socket://127.0.0.1:8266")
    s.add_argument("--time", metavar="ISO|now", default="now",
                   help="the time to set: ISO 8601 with a UTC offset, or now (default)")
    s = sub.add_parser("show", help="print what the board's clock reads", formatter_class=fmt, epilog=EPILOG,
                       allow_abbrev=False)
    s.add_argument("--port", required=True, help="the board: /dev/ttyUSB0, COM3 or socket://127.0.0.1:8266")


def utc(unix):
    """Unix seconds -> '2026-12-02T00:30:00Z'."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def parse_time(text, now=None):
    """'now' or ISO 8601 with a UTC offset -> Unix seconds (int); UserError(EXIT_USAGE) otherwise."""
    import datetime
    if text.strip().lower() == "now":
        t = int(time.time() if now is None else now)
    else:
        try:
            d = datetime.datetime.fromisoformat(text.strip())
        except ValueError:
            raise UserError(EXIT_USAGE, "--time %s: not an ISO 8601 time (e.g. 2026-12-02T09:30:00+09:00) "
                                        "or now" % text)
        if d.tzinfo is None:
            raise UserError(EXIT_USAGE, "--time %s: give its UTC offset (Z or +HH:MM): the board keeps UTC" % text)
        t = int(d.timestamp())
    if not FIRST <= t < END:
        raise UserError(EXIT_USAGE, "--time %s: the board's clock takes 2024-01-01 .. 2099-12-31 (UTC), not %s"
                        % (text, utc(t) if 0 <= t < 253402300800 else t))
    return t


def run(args):
    if args.action is None:
        raise UserError(EXIT_USAGE, "give an action: set or show (doorkit clock --help)")
    want = parse_time(args.time) if args.action == "set" else None
    from doorkit.link import open_link
    with open_link(args.port) as ln:
        if args.action == "set":
            got = ln.call("set_clock", want)
        else:
            got = ln.call("clock")
        host = time.time()
    if got is not None and type(got) is not int:
        raise UserError(EXIT_MISMATCH, "the board's clock gave %.40r, not Unix seconds" % (got,))
    if args.action == "show":
        if got is None:
            sys.stdout.write("board clock: not set since power-up (doorkit clock set --port %s)\n" % args.port)
        else:
            sys.stdout.write("board clock: %s (%+d s from this computer)\n" % (utc(got), got - int(host)))
        return EXIT_OK
    if got is None or abs(got - want) > SLACK_S:
        raise UserError(EXIT_MISMATCH, "board clock set to %s but it reads back %s"
                        % (utc(want), "unset" if got is None else utc(got)))
    sys.stdout.write("board clock set to %s; it reads back %s\n" % (utc(want), utc(got)))
    return EXIT_OK
