"""`doorkit keys`: a door's users (with roles), their credentials (cards, phones, PINs with
validity and schedules), the HR CSV import, and the signed key bundles built from them and pushed
to the board (doorkit.provision does the work; docs/provisioning.md)."""
import sys

from doorkit.errors import EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "manage a door's users, roles and credentials; import HR's CSV; build and push key bundles"

EPILOG = """examples:
  doorkit keys user add doors/front E0001 --name "Aiko Owner" --role super
  doorkit keys import doors/front hr.csv           (columns user_code,name,cards[,role])
  doorkit keys add doors/front E0012 --card 04A1B2C3 --until 2027-03-31
  doorkit keys add doors/front E0013 --pin 4711 --days mon-fri --window 09:00-18:00
  doorkit keys list doors/front
  doorkit keys remove doors/front --card 04A1B2C3
  doorkit keys bundle doors/front -o front.bundle  (a signed delta; --full for all of it)
  doorkit keys push doors/front --port /dev/ttyUSB0
  doorkit keys push doors/front --broker 192.168.1.10:1883   (over the hub's link, docs/network.md)

roles (kept here, the lock does not know them): super (super manager), manager, member; the first
user of a door is its super manager, and a door always keeps one. Card ids are hex as the reader
reports them; an 8-byte id is FeliCa, 4/7/10 bytes ISO14443A (or say felica:ID, iso14443a:ID).

""" + EXIT_HELP


def _validity(p):
    p.add_argument("--from", dest="start", metavar="DATE", help="first valid day (YYYY-MM-DD, the door's local date)")
    p.add_argument("--until", metavar="DATE", help="last valid day (YYYY-MM-DD)")
    p.add_argument("--schedule", choices=("always", "weekly", "daily", "once"),
                   help="default: weekly with --days, daily with --window alone, else always")
    p.add_argument("--days", help="weekdays, e.g. mon-fri or sat,sun")
    p.add_argument("--window", help="time of day, e.g. 09:00-18:00 (22:00-06:00 crosses midnight)")
    p.add_argument("--uses", type=int, default=0, help="use limit (0 unlimited, up to 255)")


def _cred(p, required=True):
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--card", metavar="ID", help="card id in hex (kind by length, or KIND:ID)")
    g.add_argument("--felica", metavar="IDM", help="FeliCa IDm (16 hex digits)")
    g.add_argument("--phone", metavar="ID", help="phone id (hex)")
    g.add_argument("--pin", metavar="DIGITS", help="a door-release PIN (4..8 digits)")


def register(p):
    p.epilog = EPILOG
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    u = sub.add_parser("user", help="add, re-role or remove a user", allow_abbrev=False)
    us = u.add_subparsers(dest="user_action", metavar="add|role|remove", parser_class=type(p))
    a = us.add_parser("add", help="add a user (or rename one)", allow_abbrev=False)
    a.add_argument("dir", metavar="DIR")
    a.add_argument("code", metavar="CODE", help="the HR user code")
    a.add_argument("--name", required=True, help="the user's name as people read it")
    a.add_argument("--role", choices=("super", "manager", "member"),
                   help="default: super for a door's first user, else member")
    r = us.add_parser("role", help="change a user's role", allow_abbrev=False)
    r.add_argument("dir", metavar="DIR")
    r.add_argument("code", metavar="CODE")
    r.add_argument("role", choices=("super", "manager", "member"))
    d = us.add_parser("remove", help="remove a user and their credentials", allow_abbrev=False)
    d.add_argument("dir", metavar="DIR")
    d.add_argument("code", metavar="CODE")
    c = sub.add_parser("add", help="give a user a credential", allow_abbrev=False)
    c.add_argument("dir", metavar="DIR")
    c.add_argument("code", metavar="CODE", help="the user's code")
    _cred(c)
    _validity(c)
    x = sub.add_parser("remove", help="take a credential away", allow_abbrev=False)
    x.add_argument("dir", metavar="DIR")
    _cred(x)
    ls = sub.add_parser("list", help="users, roles and credentials", allow_abbrev=False)
    ls.add_argument("dir", metavar="DIR")
    i = sub.add_parser("import", help="import the CSV that HR hands over", allow_abbrev=False)
    i.add_argument("dir", metavar="DIR")
    i.add_argument("csv", metavar="FILE")
    b = sub.add_parser("bundle", help="write the next signed bundle to a file", allow_abbrev=False)
    b.add_argument("dir", metavar="DIR")
    b.add_argument("-o", "--out", required=True, metavar="FILE")
    b.add_argument("--full", action="store_true", help="all credentials, not a delta")
    q = sub.add_parser("push", help="install the key list on the board (over USB, or the hub's link)",
                       allow_abbrev=False)
    q.add_argument("dir", metavar="DIR")
    q.add_argument("--port", help="the board: /dev/ttyUSB0, or socket://127.0.0.1:8266")
    q.add_argument("--broker", metavar="HOST:PORT", help="instead of --port: through the MQTT broker the door's "
                                                         "hub is on (signed pieces)")
    q.add_argument("--broker-ca", metavar="FILE", help="TLS to the broker: trust this certificate (PEM; the one the doors pin, docs/network.md)")
    q.add_argument("--full", action="store_true", help="send all credentials, not a delta")
    q.add_argument("--force", action="store_true", help="replace a key list on the board that is newer than "
                                                        "this directory knows (pushed from another copy)")


def cred_arg(args):
    """(kind, ident) from --card/--felica/--phone/--pin."""
    from doorkit.provision.hr import card_kind
    if args.card is not None:
        return card_kind(args.card.strip())
    if args.felica is not None:
        return "felica", args.felica.strip()
    if args.phone is not None:
        return "phone", args.phone.strip()
    return "pin", args.pin.strip()


def validity_args(args):
    out = {}
    for k in ("start", "until", "schedule", "days", "window"):
        v = getattr(args, k, None)
        if v is not None:
            out[k] = v
    if getattr(args, "uses", 0):
        out["uses"] = args.uses
    return out


def describe(cred, secret_pins=True):
    """One credential of KeyBook.credentials() in words."""
    from doorkit.keybook import DAYS
    kind, ident, _user, prof, frm, to, uses, enabled = cred
    import datetime
    from doorkit.keybook import EPOCH
    parts = ["%-9s %s" % (kind, "****" if (kind == "pin" and secret_pins) else ident)]
    t, mask, s, e = prof
    win = "%02d:%02d-%02d:%02d" % (s // 60, s % 60, e // 60, e % 60)
    if t == 1:
        parts.append(",".join(d for i, d in enumerate(DAYS) if mask >> i & 1) + " " + win)
    elif t == 2:
        parts.append("daily " + win)
    elif t == 3:
        parts.append("once " + win)
    if frm:
        parts.append("from " + (EPOCH + datetime.timedelta(days=frm)).isoformat())
    if to != 0xFFFF:
        parts.append("until " + (EPOCH + datetime.timedelta(days=to)).isoformat())
    if uses:
        parts.append("%d uses" % uses)
    if not enabled:
        parts.append("disabled")
    return "  ".join(parts)


def run(args):
    from doorkit import provision as P
    out = sys.stdout
    act = args.action
    if act is None:
        raise UserError(EXIT_USAGE, "give an action: user, add, remove, list, import, bundle or push "
                                    "(see doorkit keys --help)")
    if act == "user":
        if args.user_action is None:
            raise UserError(EXIT_USAGE, "give doorkit keys user add, role or remove")
        door, keys = P.open_keys(args.dir)
        if args.user_action == "add":
            new = keys.add_user(args.code, args.name, args.role)
            msg = "%s %s, %s" % ("added" if new else "updated", keys.who(args.code),
                                 P.ROLE_NAMES[keys.users[args.code]["role"]])
        elif args.user_action == "role":
            keys.set_role(args.code, args.role)
            msg = "%s is now %s" % (keys.who(args.code), P.ROLE_NAMES[args.role])
        else:
            who = keys.who(args.code)
            n = keys.remove_user(args.code)
            msg = "removed %s and %d credential%s" % (who, n, "" if n == 1 else "s")
        P.save_keys(door, keys)
        out.write(msg + "\n")
        return EXIT_OK
    if act == "add":
        door, keys = P.open_keys(args.dir)
        kind, ident = keys.add_credential(args.code, *cred_arg(args), **validity_args(args))
        P.save_keys(door, keys)
        out.write("%s: %s %s added\n" % (keys.who(args.code), kind, "****" if kind == "pin" else ident))
        return EXIT_OK
    if act == "remove":
        door, keys = P.open_keys(args.dir)
        kind, ident = cred_arg(args)
        owner = keys.remove_credential(kind, ident)
        P.save_keys(door, keys)
        out.write("%s: %s %s removed\n" % (keys.who(owner), kind, "****" if kind == "pin" else ident.upper()))
        return EXIT_OK
    if act == "list":
        door, keys = P.open_keys(args.dir)
        rows = keys.listing()
        for code, name, role, creds in rows:
            out.write("%s  %s  [%s]\n" % (code, name, P.ROLE_NAMES[role]))
            for c in creds:
                out.write("    %s\n" % describe(c))
        n = sum(len(r[3]) for r in rows)
        out.write("%d user%s, %d credential%s; the door has key list version %d\n"
                  % (len(rows), "" if len(rows) == 1 else "s", n, "" if n == 1 else "s", keys.book.version))
        return EXIT_OK
    if act == "import":
        from doorkit.provision import hr
        added, updated, cards = hr.import_csv(args.dir, args.csv)
        out.write("%s: %d user%s added, %d updated, %d card%s added\n"
                  % (args.csv, added, "" if added == 1 else "s", updated, cards, "" if cards == 1 else "s"))
        return EXIT_OK
    if act == "bundle":
        from doorkit.provision import push
        data, version, kind = push.build(args.dir, full=args.full)
        try:
            with open(args.out, "wb") as f:
                f.write(data)
        except OSError as e:
            raise UserError(EXIT_USAGE, "cannot write %s: %s" % (args.out, e.strerror or e))
        out.write("%s: %s bundle, version %d, %d bytes\n" % (args.out, kind, version, len(data)))
        return EXIT_OK
    from doorkit.provision import push
    from doorkit.progress import Bar
    if (args.port is None) == (args.broker is None):
        raise UserError(EXIT_USAGE, "keys push needs --port PORT or --broker HOST:PORT (one of them)")
    with Bar("doorkit keys push", total=len(push.STEPS), width=22) as bar:
        def step(name, nbytes=0):
            bar.update(push.STEPS.index(name), None, "%s %d bytes" % (name, nbytes) if nbytes else name)
        if args.broker is not None:
            version, kind, count = _push_mqtt(args, push, step)
        else:
            version, kind, count = push.push(args.dir, args.port, full=args.full, on_step=step, force=args.force)
    out.write("%s: %s key list version %d installed (%s credentials on the board)\n"
              % (args.port or "door over " + args.broker, kind, version, "?" if count is None else count))
    return EXIT_OK


def _push_mqtt(args, push, step):
    from doorkit.commands.fleet import parse_broker
    from doorkit.errors import EXIT_BOARD
    from doorkit.fleet import FleetError, MqttLink, Remote
    from doorkit.provision import load_door, next_command_counter
    host, port = parse_broker(args.broker, args.broker_ca)
    door = load_door(args.dir)
    try:
        rem = Remote(door.door_id, door.secret, lambda at_least=0: next_command_counter(args.dir, at_least), host,
                     port, tls_ca=args.broker_ca)
    except FleetError as e:
        raise UserError(EXIT_BOARD, str(e))
    try:
        return push.push(args.dir, "broker %s" % args.broker, full=args.full, link=MqttLink(rem), on_step=step,
                         force=args.force)
    except FleetError as e:
        raise UserError(EXIT_BOARD, str(e))
    finally:
        rem.close()
