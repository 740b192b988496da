"""`doorkit provision`: make a door directory (identity, secret, settings, an empty key book) and
change or show its settings (doorkit.provision does the work; docs/provisioning.md)."""
import re
import sys

from doorkit.errors import EXIT_CONFLICT, EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "create a door directory (id, secret, settings) and set or show its settings"

EPILOG = """examples:
  doorkit provision new doors/front --door-id front --name "Front door" --site HQ
  doorkit provision set doors/front --auto-lock on --auto-lock-delay 10s --button-unlock off
  doorkit provision set doors/front --held-open 2m --pin-tries 5 --pin-lockout 30s --utc-offset +09:00
  doorkit provision set doors/front --utc-offset=-05:00 --dst us     (a negative offset after '=')
  doorkit provision network doors/front --broker 192.168.1.10:1883 --wifi office --wifi-password pw
  doorkit provision network doors/front --off          (no hub link)
  doorkit provision broker-cert certs/ --ip 192.168.1.10 (a TLS certificate for the site's broker)
  doorkit provision network doors/front --broker 192.168.1.10 --tls-ca certs/broker.pem   (TLS, 8883)
  doorkit provision show doors/front

The door directory holds door.toml (readable; settings by the firmware's names), secret.key (the
door secret, mode 0600) and keys.json (users and credentials): back up the whole directory.
`doorkit image --door DIR` puts it on a board; `doorkit keys` manages its users.

""" + EXIT_HELP

# option -> (setting name, parser); the settings are the firmware's (firmware/lockctl/config.py)
_DUR_RE = re.compile(r"([0-9]{1,9})(ms|s|m|h)?\Z")
_OFF_RE = re.compile(r"(?:UTC)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?\Z", re.I)
UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, None: 1000}
DST = {"none": 0, "eu": 1, "us": 2}


def parse_onoff(text):
    t = text.lower()
    if t in ("on", "yes", "true", "1"):
        return True
    if t in ("off", "no", "false", "0"):
        return False
    raise UserError(EXIT_USAGE, "expected on or off, not %r" % text[:40])


def parse_ms(text, off=False):
    """'10s' / '500ms' / '2m' / '1h' / '30' (seconds) -> ms; 'off' -> 0 where off is allowed."""
    if off and text.lower() == "off":
        return 0
    m = _DUR_RE.match(text.strip().lower())
    if not m:
        raise UserError(EXIT_USAGE, "a duration is like 10s, 500ms, 2m or 1h%s, not %r"
                        % (" (or off)" if off else "", text[:40]))
    return int(m.group(1)) * UNITS[m.group(2)]


def parse_s(text):
    ms = parse_ms(text)
    if ms % 1000:
        raise UserError(EXIT_USAGE, "%r is not a whole number of seconds" % text[:40])
    return ms // 1000


def parse_offset(text):
    """'+09:00' / '-05:30' / 'UTC+9' / '+0530' -> minutes east of UTC."""
    m = _OFF_RE.match(text.strip())
    if not m:
        raise UserError(EXIT_USAGE, "a UTC offset is like +09:00, -05:30 or UTC+1, not %r" % text[:40])
    mins = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if int(m.group(3) or 0) >= 60:
        raise UserError(EXIT_USAGE, "a UTC offset's minutes are 00..59, not %r" % text[:40])
    return -mins if m.group(1) == "-" else mins


def parse_dst(text):
    if text.lower() not in DST:
        raise UserError(EXIT_USAGE, "--dst is one of none, eu, us, not %r" % text[:40])
    return DST[text.lower()]


def parse_int(text):
    if not re.match(r"[0-9]{1,9}\Z", text):
        raise UserError(EXIT_USAGE, "expected a whole number, not %r" % text[:40])
    return int(text)


OPTIONS = (
    ("--auto-lock", "on|off", "auto_lock", parse_onoff, "lock by itself after the door closes"),
    ("--auto-lock-delay", "TIME", "auto_lock_ms", parse_ms, "from the door closing to auto-lock (e.g. 3s)"),
    ("--button-unlock", "on|off", "button_unlock", parse_onoff, "the inside button may operate the lock"),
    ("--held-open", "TIME|off", "held_open_ms", lambda t: parse_ms(t, off=True),
     "door-held-open alarm after this long open (off: none)"),
    ("--pin-tries", "N", "pin_tries", parse_int, "wrong PINs in a row before the keypad locks out (3..10)"),
    ("--pin-lockout", "TIME", "pin_lockout_s", parse_s, "first keypad lockout; each further wrong PIN doubles it"),
    ("--utc-offset", "+HH:MM", "utc_offset_min", parse_offset, "the door's local time zone (schedules use it)"),
    ("--dst", "none|eu|us", "dst_rule", parse_dst, "daylight saving rule"),
)


def register(p):
    p.epilog = EPILOG
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    n = sub.add_parser("new", help="make a door directory with a fresh secret", allow_abbrev=False)
    n.add_argument("dir", metavar="DIR")
    n.add_argument("--door-id", required=True, metavar="ID", help="the door's id (1..16 of A-Z a-z 0-9 . _ -)")
    n.add_argument("--name", default="", help="a name for people (e.g. 'Front door')")
    n.add_argument("--site", default="", help="where the door is")
    s = sub.add_parser("set", help="change the door's settings (or name/site)", allow_abbrev=False)
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--name", help="a new name")
    s.add_argument("--site", help="a new site")
    for parent in (n, s):
        for flag, metavar, _name, _parse, help_ in OPTIONS:
            parent.add_argument(flag, metavar=metavar, help=help_)
    w = sub.add_parser("show", help="print the door's identity and settings", allow_abbrev=False)
    w.add_argument("dir", metavar="DIR")
    k = sub.add_parser("network", help="the hub's link: broker, Wi-Fi (docs/network.md)", allow_abbrev=False)
    k.add_argument("dir", metavar="DIR")
    k.add_argument("--broker", metavar="IP[:PORT]", help="the MQTT broker (an IPv4 address; port 1883 by default)")
    k.add_argument("--prefix", help="the topic prefix (default doorkit)")
    k.add_argument("--keepalive", type=int, metavar="S", help="MQTT keepalive, 5..3600 s (default 60)")
    k.add_argument("--user", help="the broker's user name")
    k.add_argument("--password", help="the broker's password")
    k.add_argument("--wifi", metavar="SSID", help="the Wi-Fi network the board joins")
    k.add_argument("--wifi-password", metavar="PW", help="its password")
    k.add_argument("--tls-ca", metavar="FILE", help="TLS to the broker: the certificate the lock pins (PEM or DER; "
                   "the broker's own, e.g. from provision broker-cert, or its CA's); port 8883 unless given")
    k.add_argument("--tls-name", metavar="NAME", help="the name the broker's certificate holds, when not its IP address")
    k.add_argument("--no-tls", action="store_true", help="back to plain MQTT")
    k.add_argument("--off", action="store_true", help="remove the hub link")
    c = sub.add_parser("broker-cert", help="make a self-signed TLS certificate for the site's broker "
                       "(docs/network.md)", allow_abbrev=False)
    c.add_argument("out", metavar="DIR", help="where broker.pem and broker-key.pem are written")
    c.add_argument("--ip", action="append", default=[], metavar="IP", help="an IPv4 address the locks dial (repeatable)")
    c.add_argument("--name", action="append", default=[], metavar="NAME", help="a DNS name it holds (repeatable)")
    c.add_argument("--days", type=int, default=3650, help="how long it is valid (default 3650)")


def _changes(args):
    from doorkit.provision import check_config
    out = {}
    for flag, _m, name, parse, _h in OPTIONS:
        v = getattr(args, flag[2:].replace("-", "_"))
        if v is not None:
            try:
                out[name] = parse(v)
            except UserError as e:
                raise UserError(e.code, "%s: %s" % (flag, e))
            check_config({name: out[name]}, what="%s %s" % (flag, v))  # the firmware's range, before
            #                                                             anything is written
    return out


def fmt_setting(name, v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if name.endswith("_ms"):
        if v == 0 and name == "held_open_ms":
            return "off"
        return "%g s" % (v / 1000.0) if v % 1000 == 0 or v >= 1000 else "%d ms" % v
    if name.endswith("_s"):
        return "%d s" % v
    if name == "utc_offset_min":
        return "UTC%s%02d:%02d" % ("-" if v < 0 else "+", abs(v) // 60, abs(v) % 60)
    if name == "dst_rule":
        return {0: "none", 1: "eu", 2: "us"}.get(v, str(v))
    return str(v)


def show(door, out):
    out.write("door %s%s%s\n" % (door.door_id, " (%s)" % door.name if door.name else "",
                                 ", site %s" % door.site if door.site else ""))
    out.write("directory %s\n" % door.path)
    for k in door.config:
        out.write("  %-15s %s\n" % (k, fmt_setting(k, door.config[k])))
    net = door.network
    out.write("hub link %s\n" % ("broker %s:%d, prefix %s, keepalive %d s%s%s" % (
        net["broker"], net["port"], net["prefix"], net["keepalive"],
        ", Wi-Fi %s" % net["wifi"]["ssid"] if net.get("wifi") else "", _tls_text(net)) if net else "off"))


def run(args):
    from doorkit import provision as P
    if args.action is None:
        raise UserError(EXIT_USAGE, "give an action: new, set, network, broker-cert or show (see doorkit provision --help)")
    if args.action == "new":
        d = P.create_door(args.dir, args.door_id, name=args.name, site=args.site, config=_changes(args))
        sys.stdout.write("%s: door %s created (secret in %s; back up the directory)\n"
                         % (args.dir, d.door_id, P.SECRET_FILE))
        return EXIT_OK
    if args.action == "broker-cert":
        return _broker_cert(args)
    if args.action == "network":
        if args.off and (args.no_tls or any(getattr(args, a) is not None for a in (
                "broker", "prefix", "keepalive", "user", "password", "wifi", "wifi_password", "tls_ca", "tls_name"))):
            raise UserError(EXIT_USAGE, "--off takes no other setting")
        if args.no_tls and (args.tls_ca is not None or args.tls_name is not None):
            raise UserError(EXIT_USAGE, "--no-tls takes no --tls-ca or --tls-name")
        net = P.set_network(args.dir, broker=args.broker, prefix=args.prefix, keepalive=args.keepalive,
                            wifi_ssid=args.wifi, wifi_password=args.wifi_password, user=args.user,
                            password=args.password, off=args.off, tls_ca=args.tls_ca, tls_name=args.tls_name,
                            no_tls=args.no_tls)
        sys.stdout.write(("hub link: broker %s:%d, prefix %s%s%s\n" % (
            net["broker"], net["port"], net["prefix"], ", Wi-Fi %s" % net["wifi"]["ssid"] if net.get("wifi") else "",
            _tls_text(net))) if net else "hub link: off\n")
        sys.stdout.write("(on the board with doorkit image --door DIR, or doorkit deploy --door DIR)\n")
        return EXIT_OK
    if args.action == "set":
        ch = _changes(args)
        if not ch and args.name is None and args.site is None:
            raise UserError(EXIT_USAGE, "nothing to set: give a setting (see doorkit provision set --help)")
        P.load_door(args.dir)  # a bad directory is named before the settings are
        if args.name is not None or args.site is not None:
            P.set_info(args.dir, name=args.name, site=args.site)
        cfg = P.set_config(args.dir, **ch)
        for k in ch:
            sys.stdout.write("%s %s\n" % (k, fmt_setting(k, cfg[k])))
        return EXIT_OK
    show(P.load_door(args.dir), sys.stdout)
    return EXIT_OK


def _tls_text(net):
    t = net.get("tls")
    if not t:
        return ""
    from doorkit.tlscert import describe
    return ", TLS pinned to %s%s" % (describe(t["ca"]), " as %s" % t["name"] if t.get("name") else "")


def _broker_cert(args):
    import os
    from doorkit.tlscert import make_broker_cert
    cert, key = make_broker_cert(args.ip, args.name, args.days)
    cp, kp = os.path.join(args.out, "broker.pem"), os.path.join(args.out, "broker-key.pem")
    for p in (cp, kp):
        if os.path.exists(p):
            raise UserError(EXIT_CONFLICT, "%s exists: a new certificate would lock every door pinned to it out "
                            "(move it away first)" % p)
    try:
        os.makedirs(args.out, exist_ok=True)
        fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        with open(cp, "wb") as f:
            f.write(cert)
    except OSError as e:
        raise UserError(EXIT_USAGE, "%s: %s" % (args.out, e.strerror or e))
    sys.stdout.write("%s: the broker's certificate (pin it: provision network DIR --tls-ca %s)\n%s: its key "
                     "(for the broker only; readable by the broker's user)\n" % (cp, cp, kp))
    return EXIT_OK
