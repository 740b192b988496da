# A core-level door for the benchmarks (MicroPython subset: runs on both runtimes).
#
# MiniDoor = LockCore (its own timers: next_deadline() / EV_TIMER) + the real HBridgeMotor driver on
# stand-in legs and current sense + a plain motor/knob model in pot counts, standing in for App +
# sim world when a benchmark wants the core alone:
#   - the knob moves SPEED counts per ms while the motor drives it, between the end stops LOCK and
#     UNLOCK (the core is calibrated to exactly those), sampled every `tick` ms while anything moves;
#   - a jam blocks the next `n` motor drives (back-off drives included) or all until unjam();
#   - a blocked motor draws stall current: the driver's own stall watch reports EV_STALL;
#   - a hand turn moves the knob linearly; the motor cannot move a held knob;
#   - while nothing moves, time jumps to the core's next timer deadline (fired exactly at it).
# Every event it feeds can be recorded as (t, kind, code) ints for a later replay (see core_events).
from drivers.motor import HBridgeMotor
from lockctl.core import LockCore
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_TIMER,
    A_DRIVE, A_STOP, A_LOG, TOWARD_LOCK, TOWARD_UNLOCK,
)

LOCK = 800  # pot counts at the lock end stop (the sim world's default: 800 + 30 counts/deg x 0 deg)
UNLOCK = 3500  # ... and at the unlock end stop (90 deg)
BOLT = (LOCK + UNLOCK) // 2  # the door opens only with the knob past here
SPEED = 4.5  # counts per ms: 150 deg/s x 30 counts/deg
I_FREE = 15000  # motor current (u16 sense reading) turning freely / blocked, as in the sim world
I_STALL = 60000


class Lcg:
    """Tiny deterministic generator, same numbers on CPython and MicroPython."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 12345) & 0x7FFFFFFF

    def below(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 8) % n

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)


def knob_zone(pos, core):
    """'lock' / 'unlock' / 'mid' for a position reading, as the core reads it (core.at_end)."""
    e = core.at_end(pos)
    return "lock" if e == TOWARD_LOCK else ("unlock" if e == TOWARD_UNLOCK else "mid")


class _Leg:
    """An H-bridge input: remembers its duty."""

    def __init__(self):
        self.duty = 0

    def duty_u16(self, v=None):
        if v is None:
            return self.duty
        self.duty = v


class _Sense:
    """The motor current sense: stall current while the door's model says the motor is blocked."""

    def __init__(self, door):
        self.door = door

    def read_u16(self):
        d = self.door
        if d.motor == 0:
            return 0
        return I_STALL if d.blocked else I_FREE


class MiniDoor:
    def __init__(self, config=None, keys=None, creds=(), tick=10, pos=LOCK):
        self.core = LockCore(config, (LOCK, UNLOCK), keys)
        self.drv = HBridgeMotor(_Leg(), _Leg(), current_adc=_Sense(self))  # the board's stall watch
        self.blocked = False
        self.tick = tick
        self.t = 0
        self.pos = pos
        self.fpos = float(pos)
        self.motor = 0
        self.jam_drives = 0  # the next n drives cannot turn the knob
        self.jammed_move = False
        self.hand = None  # (t0, p0, t1, p1)
        self.door_open = False
        self.creds = creds  # credential tuples; recorded by index
        self.events = 0  # events fed to the core (timers included)
        self.logs = {}  # log code -> count
        self.drives = 0
        self.rec = None  # callable(t, kind, code) or None
        self.on_log = None  # callable(record) or None
        self._take(self.core.boot(0, pos, False))

    # ------------------------------------------------------------------ feeding the core
    def feed(self, kind, arg=None):
        if self.rec is not None:
            if kind == EV_CREDENTIAL:
                code = self.creds.index(arg)
            elif kind == EV_DOOR:
                code = 1 if arg else 0
            elif kind == EV_POSITION:
                code = arg
            else:
                code = 0
            self.rec(self.t, kind, code)
        self.events += 1
        self._take(self.core.handle(self.t, kind, arg))

    def _take(self, actions):
        for a in actions:
            k = a[0]
            if k == A_DRIVE:
                self.motor = a[1]
                self.drv.drive(a[1], self.t)
                self.blocked = False
                self.drives += 1
                self.jammed_move = self.jam_drives > 0
                if self.jammed_move:
                    self.jam_drives -= 1
            elif k == A_STOP:
                self.motor = 0
                self.drv.brake()
                self.jammed_move = False
            elif k == A_LOG:
                c = a[1][1]
                self.logs[c] = self.logs.get(c, 0) + 1
                if self.on_log is not None:
                    self.on_log(a[1])

    # ------------------------------------------------------------------ the world
    def busy(self):
        return self.motor != 0 or self.hand is not None

    def _move(self, t):
        """Knob position at time t (called once per tick)."""
        h = self.hand
        if h is not None:
            t0, p0, t1, p1 = h
            if t >= t1:
                self.hand = None
                self.fpos = float(p1)
            else:
                self.fpos = p0 + (p1 - p0) * (t - t0) / (t1 - t0)
            blocked = True
        elif self.motor == 0:
            return
        elif self.jammed_move:
            blocked = True
        else:
            p = self.fpos + self.motor * SPEED * (t - self.t)
            blocked = False
            if p >= UNLOCK:
                p = float(UNLOCK)
                blocked = self.motor > 0
            elif p <= LOCK:
                p = float(LOCK)
                blocked = self.motor < 0
            self.fpos = p
        self.t = t
        p = int(self.fpos + 0.5)
        if p != self.pos:
            self.pos = p
            self.feed(EV_POSITION, p)
        if self.motor == 0:
            return
        self.blocked = blocked
        if self.drv.poll(t):  # the driver's stall watch (inrush window, then stall_ms of stall current)
            self.feed(EV_STALL)

    def _fire(self, t):
        d = self.core.next_deadline()
        if d is not None and d <= t:
            self.feed(EV_TIMER)

    def run_to(self, t_end):
        """Let virtual time pass up to t_end: ticks while anything moves, jumps otherwise."""
        core = self.core
        while True:
            if self.busy():
                t = self.t + self.tick
                if t > t_end:
                    return
                self._move(t)
                self._fire(t)
            else:
                d = core.next_deadline()
                if d is None or d > t_end:
                    self.t = t_end
                    return
                if d > self.t:
                    self.t = d
                self._fire(self.t)

    def run_for(self, ms):
        self.run_to(self.t + ms)

    def settle(self, limit_ms=60000):
        """Run until nothing moves and no timer is armed (at most limit_ms more)."""
        end = self.t + limit_ms
        while self.t < end:
            if self.busy():
                self.run_to(self.t + self.tick)
            else:
                d = self.core.next_deadline()
                if d is None:
                    return
                self.run_to(min(d, end))

    # ------------------------------------------------------------------ people
    def door(self, is_open):
        if is_open != self.door_open:
            self.door_open = is_open
            self.feed(EV_DOOR, is_open)

    def can_open(self):
        return self.pos >= BOLT

    def button(self):
        self.feed(EV_BUTTON)

    def credential(self, cred):
        self.feed(EV_CREDENTIAL, cred)

    def turn(self, target, ms=600):
        self.hand = (self.t, self.pos, self.t + ms, target)

    def jam(self, drives=1000000000):
        self.jam_drives = drives

    def unjam(self):
        self.jam_drives = 0
        self.jammed_move = False
