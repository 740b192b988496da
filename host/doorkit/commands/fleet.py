"""`doorkit fleet serve`: the collector of every door's events, state and command results (doorkit.fleet)."""
import os
import sys
import time

from doorkit.errors import EXIT_BOARD, EXIT_DATA, EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "collect the doors' events and state from an MQTT broker into SQLite or PostgreSQL"

EPILOG = """examples:
  doorkit fleet serve --doors doors/ --broker 192.168.1.10:1883
  doorkit fleet serve --doors doors/ --broker embedded             (amqtt on 127.0.0.1:1883)
  doorkit fleet serve --doors doors/ --db postgresql://fleet@db/fleet --group site-a   (one of several)
  doorkit fleet serve --doors doors/ --notify ./tell-owner.sh      (run for each unlock)
  doorkit fleet serve --doors doors/ --ha                          (Home Assistant discovery)

--doors is a door directory or a directory of them (their secrets check and sign what goes over
the broker). Each batch a lock sends is stored in one transaction and acknowledged to the lock
only after the commit; duplicates are impossible (the key is door + sequence number). Collectors
sharing --group and a database split the doors' events between them. It runs until Ctrl-C.
--notify CMD runs CMD for each new UNLOCK with DOORKIT_DOOR, DOORKIT_USER (code), DOORKIT_NAME,
DOORKIT_SOURCE and DOORKIT_TIME in its environment (docs/network.md). --ha announces each door to
Home Assistant (MQTT discovery: lock, door, battery, error, last user); --ha-commands also lets
Home Assistant's lock/unlock through (signed here): only with a broker ACL on PREFIX/+/ha/set.

""" + EXIT_HELP


def register(p):
    p.epilog = EPILOG
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    s = sub.add_parser("serve", help="run the collector until Ctrl-C", allow_abbrev=False)
    s.add_argument("--doors", required=True, action="append", metavar="DIR", help="door directories (repeatable)")
    s.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT|embedded",
                   help="the MQTT broker (default 127.0.0.1:1883); embedded: start amqtt here")
    s.add_argument("--broker-ca", metavar="FILE", help="TLS to the broker: trust this certificate (PEM; the one the doors pin, docs/network.md)")
    s.add_argument("--db", default="fleet.sqlite", metavar="PATH|URL", help="SQLite file or postgresql:// URL")
    s.add_argument("--prefix", default="doorkit", help="the topic prefix (default doorkit)")
    s.add_argument("--group", help="a shared-subscription group: several collectors, each event stored once")
    s.add_argument("--notify", metavar="CMD", help="run CMD for each new unlock")
    s.add_argument("--ha", action="store_true", help="Home Assistant MQTT discovery for every door")
    s.add_argument("--ha-commands", action="store_true",
                   help="(with --ha) bridge Home Assistant's lock/unlock into signed commands")
    s.add_argument("--for", dest="duration", type=float, metavar="S", help="stop after S seconds (tests, demos)")


def doors_from(paths):
    """{door_id: Door} of door directories, or directories holding them."""
    from doorkit.provision import DOOR_FILE, load_door
    out = {}
    for p in paths:
        if not os.path.isdir(p):
            raise UserError(EXIT_DATA, "door directory %s: no such directory" % p)
        dirs = [p] if os.path.exists(os.path.join(p, DOOR_FILE)) else sorted(
            os.path.join(p, d) for d in os.listdir(p) if os.path.exists(os.path.join(p, d, DOOR_FILE)))
        if not dirs:
            raise UserError(EXIT_DATA, "%s holds no door directory (no %s)" % (p, DOOR_FILE))
        for d in dirs:
            door = load_door(d)
            if door.door_id in out:
                raise UserError(EXIT_DATA, "door %s is in both %s and %s" % (door.door_id, out[door.door_id].path, d))
            out[door.door_id] = door
    return out


def parse_broker(text, ca=None):
    """--broker HOST:PORT (and --broker-ca FILE, checked readable) -> (host, port)."""
    if ca is not None:
        import os
        if not os.path.isfile(ca) or not os.access(ca, os.R_OK):
            raise UserError(EXIT_USAGE, "--broker-ca %s: no such readable file" % ca)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(EXIT_USAGE, "--broker is HOST:PORT, not %r" % text)
    return host, int(port)


def _notifier(cmd, doors):
    import subprocess
    from doorkit.provision import load_keys
    from lockctl.codes import LOG_UNLOCK
    from lockctl.record import source_name
    names = {}
    for d, door in doors.items():
        try:
            keys = load_keys(door)
            names[d] = {i: (code, keys.users.get(code, {}).get("name", "")) for i, code in keys.book.names().items()}
        except UserError:
            names[d] = {}

    def on_event(door, r):
        if r[4] != LOG_UNLOCK:
            return
        code, name = names.get(door, {}).get(r[6], ("", "")) if type(r[6]) is int else ("", "")
        env = dict(os.environ, DOORKIT_DOOR=door, DOORKIT_USER=code, DOORKIT_NAME=name,
                   DOORKIT_SOURCE=source_name(r[5]), DOORKIT_TIME=str(r[3]) if r[2] else "")
        try:
            subprocess.Popen(cmd, shell=True, env=env, stdin=subprocess.DEVNULL)
        except OSError as e:
            sys.stderr.write("doorkit fleet: --notify %s: %s\n" % (cmd, e))
    return on_event


def _user_names(doors):
    """{door: {user index: "CODE (Name)"}} from the door directories' key books."""
    from doorkit.provision import load_keys
    out = {}
    for d, door in doors.items():
        try:
            keys = load_keys(door)
        except UserError:
            continue
        out[d] = {i: "%s (%s)" % (c, keys.users.get(c, {}).get("name", "")) for i, c in keys.book.names().items()}
    return out


def run(args):
    if args.action != "serve":
        raise UserError(EXIT_USAGE, "give an action: serve (see doorkit fleet --help)")
    from doorkit.fleet import Collector, FleetDB, FleetError
    doors = doors_from(args.doors)
    broker = None
    if args.broker == "embedded":
        if args.broker_ca is not None:
            raise UserError(EXIT_USAGE, "--broker-ca is for a TLS broker of your own: the embedded one is plain MQTT")
        from doorkit.broker import Broker, BrokerError
        try:
            broker = Broker("amqtt", port=1883).start()
        except BrokerError as e:
            raise UserError(EXIT_BOARD, "embedded broker: %s" % e)
        host, port = broker.host, broker.port
    else:
        host, port = parse_broker(args.broker, args.broker_ca)
    try:
        db = FleetDB(args.db)
    except FleetError as e:
        raise UserError(EXIT_DATA, str(e))
    if args.ha_commands and not args.ha:
        raise UserError(EXIT_USAGE, "--ha-commands goes with --ha")
    ha = {d: door.name for d, door in doors.items()} if args.ha else None
    hac = None
    if args.ha_commands:
        from doorkit.provision import next_command_counter
        hac = {d: (lambda at_least=0, p=door.path: next_command_counter(p, at_least)) for d, door in doors.items()}
    try:
        col = Collector(db, {d: door.secret for d, door in doors.items()}, host, port, args.prefix, args.group,
                        on_event=_notifier(args.notify, doors) if args.notify else None, ha=ha, ha_commands=hac,
                        tls_ca=args.broker_ca)
        if args.ha:
            col.names = _user_names(doors)
        col.start()
    except FleetError as e:
        raise UserError(EXIT_BOARD, str(e))
    print("doorkit fleet: collecting %d door(s) from %s:%d into %s%s" % (
        len(doors), host, port, args.db, " (group %s)" % args.group if args.group else ""), flush=True)
    end = None if args.duration is None else time.monotonic() + args.duration
    last = (0, 0)
    try:
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
            now = (col.stored, col.refused)
            if now != last:
                print("stored %d event(s) in all (%d duplicate(s) ignored, %d refused)" % (
                    col.stored, col.duplicates, col.refused), flush=True)
                last = now
    finally:
        col.stop()
        db.close()
        if broker is not None:
            broker.close()
    return EXIT_OK
