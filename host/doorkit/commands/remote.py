"""`doorkit remote`: a signed command to a door over the broker (lock, unlock, clock, status, url-key)."""
import datetime
import sys
import time

from doorkit.errors import EXIT_BOARD, EXIT_HELP, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UserError

HELP = "lock or unlock a door (or set its clock, ask its state) over the MQTT broker"

EPILOG = """examples:
  doorkit remote unlock doors/front --broker 192.168.1.10:1883 --user E0012
  doorkit remote lock doors/front --broker 192.168.1.10:1883
  doorkit remote clock doors/front --broker 192.168.1.10:1883      (the board's clock from this one)
  doorkit remote status doors/front --broker 192.168.1.10:1883
  doorkit remote url-key doors/front --id 7 --for 2h --user E0012   (a remote-unlock window)
  doorkit remote url-key doors/front --id 7 --from "2026-12-24 09:00" --until "2026-12-24 18:00"
  doorkit remote unlock doors/front --url-key 7                     (acts only inside window 7)
  doorkit remote url-key doors/front --close 7

Each command is signed with the door's secret and a counter kept in the door directory
(remote.json, saved before the command is sent: a command can never act twice), expires after
--ttl seconds, and is sent QoS 1, never retained. The lock's answer is printed; a refusal names
its reason (exit 5); no answer within --timeout is exit 4.

A URL key is a window the lock itself keeps (ids 1..65535, up to 16 open, at most a year long,
kept on its flash): an unlock naming it acts only while the lock's clock is inside the window,
and not after it is closed, whoever signs it. --from/--until are the door's local time
(YYYY-MM-DD HH:MM, or with an offset); without --from it opens when the lock takes it.

""" + EXIT_HELP

OPS = ("lock", "unlock", "clock", "status", "url-key")


def register(p):
    p.epilog = EPILOG
    p.add_argument("op", choices=OPS, metavar="|".join(OPS))
    p.add_argument("dir", metavar="DIR", help="the door directory")
    p.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT")
    p.add_argument("--broker-ca", metavar="FILE", help="TLS to the broker: trust this certificate (PEM; the one the doors pin, docs/network.md)")
    p.add_argument("--prefix", default="doorkit")
    p.add_argument("--user", metavar="CODE", help="(unlock/lock) done for this user: the lock logs them")
    p.add_argument("--ttl", type=int, default=60, metavar="S", help="the command expires after S s (default 60)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="wait this long for the answer")
    p.add_argument("--url-key", type=int, metavar="ID", help="(unlock) only inside this URL key window")
    k = p.add_argument_group("url-key")
    k.add_argument("--id", type=int, metavar="ID", help="the window's id, 1..65535")
    k.add_argument("--from", dest="start", metavar="TIME", help="it opens then (default: when the lock takes it)")
    k.add_argument("--until", metavar="TIME", help="it closes then")
    k.add_argument("--for", dest="span", metavar="DURATION", help="it closes after this long: 90m, 2h, 3d")
    k.add_argument("--close", type=int, metavar="ID", help="close window ID now")


def _when(text, flag, tz):
    """'2026-12-24 09:00' (door-local) or with an offset -> Unix s."""
    try:
        t = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(EXIT_USAGE, "%s is a time YYYY-MM-DD HH:MM[+HH:MM], not %r" % (flag, text))
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return int(t.timestamp())


def _span(text):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in units or not t[:-1].isdigit() or not int(t[:-1]):
        raise UserError(EXIT_USAGE, "--for is a duration like 90m, 2h or 3d, not %r" % text)
    return int(t[:-1]) * units[t[-1]]


def _window(args, door):
    """-> (args bytes, text) of the url-key command."""
    from doorkit.attendance import local_time
    from lockctl.urlkey import MAX_ID, MAX_SPAN, window_args
    off, dst = door.config.get("utc_offset_min", 0), door.config.get("dst_rule", 0)
    now = int(time.time())
    tz = local_time(now, off, dst).tzinfo
    if args.close is not None:
        if args.id is not None or args.start or args.until or args.span:
            raise UserError(EXIT_USAGE, "--close ID takes no --id, --from, --until or --for")
        kid, frm, until = args.close, 0, 0
    else:
        if args.id is None:
            raise UserError(EXIT_USAGE, "url-key needs --id ID (or --close ID)")
        if (args.until is None) == (args.span is None):
            raise UserError(EXIT_USAGE, "url-key needs one of --until TIME or --for DURATION")
        kid = args.id
        frm = _when(args.start, "--from", tz) if args.start else 0  # 0: from when the lock takes it
        until = _when(args.until, "--until", tz) if args.until else (frm or now) + _span(args.span)
        if until <= (frm or now) and frm:
            raise UserError(EXIT_USAGE, "the window closes before it opens (--until is before --from)")
        if until - (frm or now) > MAX_SPAN:
            raise UserError(EXIT_USAGE, "a URL key window is at most a year")
        if until <= now:
            raise UserError(EXIT_USAGE, "that window is over already")
    if not 0 < kid <= MAX_ID:
        raise UserError(EXIT_USAGE, "a URL key id is 1..%d, not %d" % (MAX_ID, kid))

    def show(u):
        return local_time(u, off, dst).strftime("%Y-%m-%d %H:%M%z")
    text = ("url key %d closed" % kid) if not until else "url key %d open %s .. %s" % (
        kid, show(frm) if frm else "now", show(until))
    return window_args(kid, frm, until), text


def run(args):
    from doorkit.commands.fleet import parse_broker
    from doorkit.fleet import FleetError, Remote
    from doorkit.provision import load_door, load_keys, next_command_counter
    from lockctl import codes as C
    from lockctl.record import reason_name
    if not 1 <= args.ttl <= 86400:
        raise UserError(EXIT_USAGE, "--ttl is 1..86400 seconds")
    host, port = parse_broker(args.broker, args.broker_ca)
    door = load_door(args.dir)
    user = None
    if args.user is not None:
        keys = load_keys(door)
        idx = {code: i for i, code in keys.book.names().items()}
        if args.user not in idx:
            raise UserError(EXIT_USAGE, "no user %s at door %s" % (args.user, door.door_id))
        user = idx[args.user]
    if args.op != "url-key" and (args.id is not None or args.start or args.until or args.span or
                                 args.close is not None):
        raise UserError(EXIT_USAGE, "--id, --from, --until, --for and --close are for url-key")
    if args.url_key is not None and args.op != "unlock":
        raise UserError(EXIT_USAGE, "--url-key ID is for unlock")
    op = {"lock": C.OP_LOCK, "unlock": C.OP_UNLOCK, "clock": C.OP_CLOCK, "status": C.OP_STATUS,
          "url-key": C.OP_URL_KEY}[args.op]
    payload = int(time.time()).to_bytes(4, "little") if op == C.OP_CLOCK else b""
    done = args.op
    if op == C.OP_URL_KEY:
        payload, done = _window(args, door)
    elif args.url_key is not None:
        from lockctl.urlkey import MAX_ID, unlock_args
        if not 0 < args.url_key <= MAX_ID:
            raise UserError(EXIT_USAGE, "a URL key id is 1..%d, not %d" % (MAX_ID, args.url_key))
        payload = unlock_args(args.url_key)
        done = "unlock by url key %d" % args.url_key
    try:
        rem = Remote(door.door_id, door.secret, lambda at_least=0: next_command_counter(args.dir, at_least), host,
                     port, args.prefix, tls_ca=args.broker_ca)
    except FleetError as e:
        raise UserError(EXIT_BOARD, str(e))
    try:
        r = rem.send(op, payload, user=user, ttl=args.ttl, timeout=args.timeout)
    except FleetError as e:
        raise UserError(EXIT_BOARD, str(e))
    finally:
        rem.close()
    if r.get("reason") == C.R_DUPLICATE or (r.get("reason") == C.R_REPLAY and r.get("last") == r.get("counter")):
        sys.stdout.write("door %s: the lock had this %s already (it acted on it once; its first answer was lost)\n"
                         % (door.door_id, args.op))
        return EXIT_OK
    if not r.get("ok"):
        raise UserError(EXIT_REFUSED, "door %s refused %s: %s" % (door.door_id, done, reason_name(r.get("reason"))))
    sys.stdout.write("door %s: %s done (command %d)\n" % (door.door_id, done, r["counter"]))
    return EXIT_OK
