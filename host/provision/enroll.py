"""Card enrolment: read one card tapped on a reader and add it to a user's credentials.

The desk reader is a PN532 on a USB-serial adapter (HSU at 115200 baud), driven by Adafruit's
CircuitPython PN532 client (adafruit_pn532.uart.PN532_UART) over pyserial: each round asks for a
type A card (InListPassiveTarget 106 kbps) and then a FeliCa card (InListPassiveTarget 212 kbps
with a wildcard Polling, through the client's generic call_function), until a card answers or the
time is up.

A reader is any object with `read(timeout_s) -> (kind, ident) or None`; DeskReader is the USB
one, DoorReader (`--reader door:PORT`) the door's own PN532, read by the board itself
(lockshell.service.read_card over doorkit.link)."""
import time

from doorkit.errors import EXIT_BOARD, EXIT_DATA, EXIT_MISMATCH, EXIT_USAGE, UserError

from . import open_keys, save_keys

CMD_IN_LIST_PASSIVE_TARGET = 0x4A
CMD_RF_CONFIGURATION = 0x32
FELICA_POLL = bytes([0x01, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x00])  # 1 target, 212 kbps, Polling SC FFFF
TYPE_A_POLL = bytes([0x01, 0x00])  # 1 target, 106 kbps type A
MAX_RETRIES = bytes([0x05, 0xFF, 0x01, 0x02])  # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation = 2 tries


class DeskReader:
    """A PN532 on a serial port (e.g. /dev/ttyUSB0) through Adafruit's PN532_UART over pyserial."""

    def __init__(self, port, baudrate=115200):
        import serial
        from adafruit_pn532.uart import PN532_UART
        self.port = port
        try:
            self.serial = serial.Serial(port, baudrate, timeout=0.1)
        except (serial.SerialException, OSError) as e:
            raise UserError(EXIT_BOARD, "no reader at %s: %s" % (port, _why(e)))
        try:
            self.pn = PN532_UART(self.serial)  # wakes the chip, SAMConfiguration, GetFirmwareVersion
            # a finite number of activation tries: each poll answers at once, found or not
            self.pn.call_function(CMD_RF_CONFIGURATION, params=MAX_RETRIES)
        except (RuntimeError, OSError) as e:
            self.close()
            raise UserError(EXIT_BOARD, "no PN532 answers at %s (%s)" % (port, _why(e)))

    def _poll(self, params):
        try:
            r = self.pn.call_function(CMD_IN_LIST_PASSIVE_TARGET, response_length=32, params=params, timeout=0.5)
        except RuntimeError:
            return None  # a garbled frame: the next round asks again
        if not r or r[0] < 1:
            return None
        return bytes(r)

    def read(self, timeout_s):
        end = time.monotonic() + timeout_s
        while True:
            r = self._poll(TYPE_A_POLL)  # Tg, SENS_RES(2), SEL_RES, NFCIDLength, NFCID1
            if r is not None and len(r) >= 6 and len(r) >= 6 + r[5]:
                return "iso14443a", r[6:6 + r[5]].hex().upper()
            r = self._poll(FELICA_POLL)  # Tg, POL_RES length, 01, IDm(8), PMm(8)
            if r is not None and len(r) >= 12 and r[3] == 0x01:
                return "felica", r[4:12].hex().upper()
            if time.monotonic() >= end:
                return None

    def close(self):
        try:
            self.serial.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _why(e):
    return (getattr(e, "strerror", None) or str(e) or type(e).__name__).splitlines()[0]


class DoorReader:
    """The door's own PN532, read by the board (lockshell.service.read_card over doorkit.link):
    port is the board's (/dev/ttyUSB0, socket://127.0.0.1:8266). The firmware stops while the link
    is open and runs again once it is closed."""

    def __init__(self, port):
        from doorkit.link import open_link
        self.port = port
        self.link = open_link(port)

    def read(self, timeout_s):
        ms = max(1, int(timeout_s * 1000))
        try:
            got = self.link.call("read_card", ms, timeout=timeout_s + 15)
        except UserError as e:
            if DOOR_READER_DOWN in str(e):
                raise UserError(EXIT_BOARD, "the card reader of the door at %s does not answer" % self.port)
            raise
        if got is None:
            return None
        if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(x, str) for x in got)):
            raise UserError(EXIT_BOARD, "the board at %s answered %.60r, not a card" % (self.port, got))
        kind, ident = got
        if kind == "iso-dep":  # a phone (or an ISO-DEP card) that the door reads by a random UID
            raise UserError(EXIT_DATA, "the card answered with a random UID (%s, as phones do): it is different at "
                                       "every tap and cannot be enrolled" % ident)
        return kind, ident

    def close(self):
        self.link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


DOOR_READER_DOWN = "the door's card reader does not answer"  # lockshell.service.READER_DOWN


def door_reader(port):
    """The door's own reader (lockshell.service.read_card over doorkit.link)."""
    if not port:
        raise UserError(EXIT_USAGE, "--reader door:PORT needs the board's port (door:/dev/ttyUSB0)")
    return DoorReader(port)


def open_reader(spec):
    """A reader from the --reader argument: a serial port of a desk PN532, or door:PORT."""
    if spec.startswith("door:"):
        return door_reader(spec[5:])
    return DeskReader(spec)


def enroll(path, user, reader, timeout_s=30, **validity):
    """Read one card on `reader` (an object with read(timeout_s), or a --reader string) and add it
    to user `user` of the door at `path`; -> (kind, ident). A card already registered ->
    EXIT_CONFLICT naming its owner; no card within timeout_s -> EXIT_MISMATCH."""
    door, keys = open_keys(path)
    if user not in keys.users:
        raise UserError(EXIT_DATA, "no user with code %s (add them first: doorkit keys user add)" % user)
    own = isinstance(reader, str)
    rd = open_reader(reader) if own else reader
    try:
        got = rd.read(timeout_s)
    finally:
        if own:
            rd.close()
    if got is None:
        raise UserError(EXIT_MISMATCH, "no card was tapped within %g s" % timeout_s)
    kind, ident = got
    if kind == "iso14443a" and len(ident) == 8 and ident.startswith("08"):
        raise UserError(EXIT_DATA, "the card answered with a random UID (%s, as phones do): it is different at "
                                   "every tap and cannot be enrolled" % ident)
    keys.add_credential(user, kind, ident, **validity)  # a card registered to anyone: EXIT_CONFLICT
    save_keys(door, keys)
    return kind, ident
