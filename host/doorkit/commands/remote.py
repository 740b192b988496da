"""`doorkit remote`: a signed command to a door over the broker (lock, unlock, clock, status)."""
import sys
import time

from doorkit.errors import EXIT_BOARD, EXIT_HELP, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UserError

HELP = "lock or unlock a door (or set its clock, ask its state) over the MQTT broker"

EPILOG = """examples:
  doorkit remote unlock doors/front --broker 192.168.1.10:1883 --user E0012
  doorkit remote lock doors/front --broker 192.168.1.10:1883
  doorkit remote clock doors/front --broker 192.168.1.10:1883      (the board's clock from this one)
  doorkit remote status doors/front --broker 192.168.1.10:1883

Each command is signed with the door's secret and a counter kept in the door directory
(remote.json, saved before the command is sent: a command can never act twice), expires after
--ttl seconds, and is sent QoS 1, never retained. The lock's answer is printed; a refusal names
its reason (exit 5); no answer within --timeout is exit 4.

""" + EXIT_HELP

OPS = ("lock", "unlock", "clock", "status")


def register(p):
    p.epilog = EPILOG
    p.add_argument("op", choices=OPS, metavar="|".join(OPS))
    p.add_argument("dir", metavar="DIR", help="the door directory")
    p.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT")
    p.add_argument("--prefix", default="doorkit")
    p.add_argument("--user", metavar="CODE", help="(unlock/lock) done for this user: the lock logs them")
    p.add_argument("--ttl", type=int, default=60, metavar="S", help="the command expires after S s (default 60)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="wait this long for the answer")


def run(args):
    from doorkit.commands.fleet import parse_broker
    from doorkit.fleet import FleetError, Remote
    from doorkit.provision import load_door, load_keys, next_command_counter
    from lockctl import codes as C
    from lockctl.record import reason_name
    if not 1 <= args.ttl <= 86400:
        raise UserError(EXIT_USAGE, "--ttl is 1..86400 seconds")
    host, port = parse_broker(args.broker)
    door = load_door(args.dir)
    user = None
    if args.user is not None:
        keys = load_keys(door)
        idx = {code: i for i, code in keys.book.names().items()}
        if args.user not in idx:
            raise UserError(EXIT_USAGE, "no user %s at door %s" % (args.user, door.door_id))
        user = idx[args.user]
    op = {"lock": C.OP_LOCK, "unlock": C.OP_UNLOCK, "clock": C.OP_CLOCK, "status": C.OP_STATUS}[args.op]
    payload = int(time.time()).to_bytes(4, "little") if op == C.OP_CLOCK else b""
    try:
        rem = Remote(door.door_id, door.secret, lambda at_least=0: next_command_counter(args.dir, at_least), host,
                     port, args.prefix)
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
        raise UserError(EXIT_REFUSED, "door %s refused %s: %s" % (door.door_id, args.op, reason_name(r.get("reason"))))
    sys.stdout.write("door %s: %s done (command %d)\n" % (door.door_id, args.op, r["counter"]))
    return EXIT_OK
