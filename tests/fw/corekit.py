# A test rig around LockCore (runs on CPython and MicroPython): fires armed timers exactly at their
# deadlines, tracks the commanded motor and every action, and renders the log with format_record.
from lockctl.core import LockCore
from lockctl.timers import Timers
from lockctl.record import format_record
from lockctl.codes import A_DRIVE, A_STOP, A_LOG, EV_TIMER

LOCK_POS = 1000
UNLOCK_POS = 3000
MID_POS = 2000


class Rig:
    def __init__(self, config=None, cal=(LOCK_POS, UNLOCK_POS), keys=None, pos=LOCK_POS, door_open=False, t=0):
        self.core = LockCore(config, cal, keys)
        self.timers = Timers()
        self.actions = []  # (t, action) for everything the core emitted
        self.log = []
        self.motor = 0
        self.motor_since = t
        self.drive_spans = []  # (direction, start, stop) of each finished drive
        self.now = t
        self._take(t, self.core.boot(t, pos, door_open))

    def _take(self, t, acts):
        for a in acts:
            self.actions.append((t, a))
            self.timers.apply(a)
            if a[0] == A_LOG:
                self.log.append(format_record(a[1]))
            elif a[0] == A_DRIVE:
                assert not self.core.door_open, "drive commanded while the door is open"
                if self.motor:
                    self.drive_spans.append((self.motor, self.motor_since, t))
                self.motor = a[1]
                self.motor_since = t
            elif a[0] == A_STOP:
                if self.motor:
                    self.drive_spans.append((self.motor, self.motor_since, t))
                self.motor = 0
        return acts

    def advance(self, t):
        """Fire every timer due up to t, each at its own deadline."""
        while True:
            d = self.timers.next_deadline()
            if d is None or d > t:
                break
            tid = self.timers.pop_due(d)
            self.now = d
            self._take(d, self.core.handle(d, EV_TIMER, tid))
        self.now = t

    def ev(self, t, kind, arg=None):
        self.advance(t)
        return self._take(t, self.core.handle(t, kind, arg))

    def drives(self):
        return [(t, a[1]) for (t, a) in self.actions if a[0] == A_DRIVE]

    def stops(self):
        return [t for (t, a) in self.actions if a[0] == A_STOP]
