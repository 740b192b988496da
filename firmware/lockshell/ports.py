# Input ports: how App reads each input source and what it feeds the lock core. A port is any object
# with
#   poll(app, now_ms, tick)  read the source once; feed events with app.feed(now_ms, kind, arg)
#   next_deadline()          tick at which poll() has something to do with the inputs unchanged, or
#                            None
#   busy()                   True while the source can change at any moment and must be sampled
#                            every few ms (a contact settling, the motor running, a reader command)
# and optionally resync(app, now_ms), called after the core was rebuilt, to tell the new core what
# the port already reported to the old one. Later features (keypad, network) plug in as ports with
# App.add_port(); App.poll() and App's action sinks stay as they are. Nothing here allocates per
# poll while nothing happens.
from lockctl.codes import EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_READER


class DoorPort:
    """The reed switch (a Debounced, True = open) -> EV_DOOR."""

    def __init__(self, door):
        self.door = door

    def poll(self, app, now, tick):
        v = self.door.poll(tick)
        if v is not None:
            app.feed(now, EV_DOOR, v)

    def next_deadline(self):
        return self.door.next_deadline()

    def busy(self):
        return self.door.settling


class ButtonPort:
    """The inside button (a Debounced, True = pressed) -> EV_BUTTON on each press."""

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
