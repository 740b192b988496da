"""`doorkit enroll`: read a card tapped on a USB PN532 reader at the desk (or on the door's own
reader, door:PORT) and give it to a user of a door directory (doorkit.provision.enroll does the work; docs/provisioning.md)."""
import sys

from doorkit.errors import EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "enrol a card by tapping it on a USB PN532 reader at the desk or on the door's own reader"

EPILOG = """examples:
  doorkit enroll doors/front --reader /dev/ttyUSB0 --user E0012
  doorkit enroll doors/front --reader /dev/ttyUSB0 --user V001 --until 2027-01-31 --timeout 60
  doorkit enroll doors/front --reader door:/dev/ttyUSB1 --user E0013     the door's own reader

The reader is a PN532 board on a USB-serial adapter (HSU, 115200 baud). Type A cards (MIFARE,
NTAG: the UID) and FeliCa cards (Suica: the IDm) are read. A card that is already registered is
refused, naming its owner; nothing changes then. `doorkit keys push` takes the new card to the door.
With door:PORT the board at PORT (a serial port or socket://127.0.0.1:8266) reads the card on the
door's own PN532 instead; its lock stops meanwhile and runs again afterwards.

""" + EXIT_HELP


def register(p):
    from doorkit.commands.keys import _validity
    p.epilog = EPILOG
    p.add_argument("dir", metavar="DIR", help="the door directory")
    p.add_argument("--reader", required=True, metavar="PORT", 
                   help="serial port of the desk PN532 (/dev/ttyUSB0), or door:PORT: the door's own reader")
    p.add_argument("--user", required=True, metavar="CODE", help="the user the card is for")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="how long to wait for a tap (30 s)")
    _validity(p)


def run(args):
    from doorkit.commands.keys import validity_args
    from doorkit.provision.enroll import enroll
    if not 0 < args.timeout <= 3600:
        raise UserError(EXIT_USAGE, "--timeout is 0..3600 seconds")
    if sys.stderr.isatty():
        sys.stderr.write("tap the card on the reader at %s ...\n" % args.reader)
    kind, ident = enroll(args.dir, args.user, args.reader, timeout_s=args.timeout, **validity_args(args))
    sys.stdout.write("%s %s enrolled for %s\n" % (kind, ident, args.user))
    return EXIT_OK
