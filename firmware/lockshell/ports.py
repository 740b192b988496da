# Input ports: how App reads each input source and what it feeds the lock core. A port is any object
# with
#   kind                     the event kind (EV_*) it feeds (a FAULT record of its failure names it)
#   poll(app, now_ms, tick)  read the source once; feed events with app.feed(now_ms, kind, arg)
#   next_deadline()          tick at which poll() has something to do with the inputs unchanged, or
#                            None
#   busy()                   True while the source can change at any moment and must be sampled
#                            every few ms (a contact settling, the motor running, a reader command)
# and optionally resync(app, now_ms), called after the core was rebuilt, to tell the new core what
# the port already reported to the old one, and lost(app, now_ms), called after its poll() raised,
# to tell the core what losing that input means. Later features (keypad, network) plug in as ports with
# App.add_port(); App.poll() and App's action sinks stay as they are. Nothing here allocates per
# poll while nothing happens.
from lockctl.codes import EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_READER, EV_SENSOR


class DoorPort:
    """The reed switch (a Debounced, True = open) -> EV_DOOR. A reed input that cannot be read is
    a door that may be open (EV_SENSOR (EV_DOOR, False)), until it reads again; then the core gets
    the door as it is."""
    kind = EV_DOOR

    def __init__(self, door):
        self.door = door
        self.failed = False  # the last poll raised: the core was told the door is unknown

    def poll(self, app, now, tick):
        self.door.poll(tick)
        if self.failed:
            self.failed = False
            app.feed(now, EV_SENSOR, (EV_DOOR, True))
        v = self.door.value
        if v != app.core.door_open:  # an edge, or the door as it is after a loss or a rebuild
            app.feed(now, EV_DOOR, v)

    def lost(self, app, now):
        self.failed = True
        app.feed(now, EV_SENSOR, (EV_DOOR, False))

    def resync(self, app, now):
        if self.failed:
            app.feed(now, EV_SENSOR, (EV_DOOR, False))

    def next_deadline(self):
        return self.door.next_deadline()

    def busy(self):
        return self.door.settling


class ButtonPort:
    """The inside button (a Debounced, True = pressed) -> EV_BUTTON on each press."""
    kind = EV_BUTTON

    def __init__(self, button):
        self.button = button

    def poll(self, app, now, tick):
        if self.button.poll(tick):
            app.feed(now, EV_BUTTON, None)

    def next_deadline(self):
        return self.button.next_deadline()

    def busy(self):
        return self.button.settling


class PositionPort:
    """The thumb-turn sensor (.read() -> int) -> EV_POSITION whenever the reading changes."""
    kind = EV_POSITION

    def __init__(self, sensor):
        self.sensor = sensor
        self.last = sensor.read()

    def poll(self, app, now, tick):
        p = self.sensor.read()
        if p != self.last:
            self.last = p
            app.feed(now, EV_POSITION, p)

    def next_deadline(self):
        return None

    def busy(self):
        return False


class StallPort:
    """The motor driver's stall watch -> EV_STALL."""
    kind = EV_STALL

    def __init__(self, motor):
        self.motor = motor

    def poll(self, app, now, tick):
        if self.motor.poll(tick):
            app.feed(now, EV_STALL, None)

    def next_deadline(self):
        return self.motor.next_deadline()

    def busy(self):
        return self.motor.running


class ReaderPort:
    """The card reader's polling policy (lockshell/nfc.py NfcReader) -> EV_CREDENTIAL / EV_READER:
    ("card", kind, ident) a credential; ("refused", kind, ident, reason) one the reader already
    refused; ("down", code) / ("up",) the reader's status."""
    kind = EV_READER

    def __init__(self, reader):
        self.reader = reader

    def poll(self, app, now, tick):
        ev = self.reader.poll(tick)  # one bounded step of the reader's conversation
        if ev is None:
            return
        what = ev[0]
        if what == "card":
            app.feed(now, EV_CREDENTIAL, (ev[1], ev[2]))
        elif what == "refused":
            app.feed(now, EV_CREDENTIAL, (ev[1], ev[2], ev[3]))
        elif what == "down":
            app.feed(now, EV_READER, ev[1])
        else:
            app.feed(now, EV_READER, 0)

    def next_deadline(self):
        return self.reader.next_deadline()  # None while a command runs: then busy()

    def busy(self):
        return self.reader.next_deadline() is None

    def resync(self, app, now):
        if self.reader.down:
            app.feed(now, EV_READER, self.reader.error or -1)
