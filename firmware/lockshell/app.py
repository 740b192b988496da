# The firmware shell: drivers -> LockCore -> actuators, and the asyncio loop that polls it.
#
# App holds no clock: poll(now_ms) is called by run() on the board (time.ticks_ms) and by the
# simulator (virtual time), so the board and the virtual board run exactly this code.
from micropython import const

from lockctl.core import LockCore, LockError
from lockctl.timers import Timers
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_TIMER, EV_CREDENTIAL, EV_READER,
    A_DRIVE, A_STOP, A_LOG, A_INDICATE, A_SAVE, IND_ALARM,
)

_MASK = const(0x3FFFFFFF)  # drivers and the reader compare times modulo 2**30 (ticks_ms period)
_HALF = const(0x20000000)
# run() moves the core's clock back by this much whenever it gets there (about 6.2 days), so every
# time on the board stays a small int (no heap allocation per time computation, however long the
# uptime); the drivers' tick goes on without a jump and log records keep absolute times.
REBASE_MS = const(0x20000000)

# A stop brakes the motor (shorted windings) for this long, then lets it coast: a braked motor
# makes the thumb-turn stiff, and people must be able to turn it by hand.
BRAKE_MS = const(150)


class App:
    """board: motor (HBridgeMotor), position (.read()), door (Debounced, True = open),
    button (Debounced, True = pressed), indicator (Indicator or None), reader (NfcReader or
    None; optional attribute).
    store: load() -> (config or None, calibration or None); save(what, data)."""

    def __init__(self, board, store, keys=None, log_size=200):
        self.board = board
        self.store = store
        self.keys = keys
        self.core = None
        self.timers = Timers()
        self.log = []
        self.log_size = log_size
        self.on_record = None
        self.faults = 0
        self.reader = getattr(board, "reader", None)
        self._last_pos = None
        self._coast_at = None  # when to release the brake
        self._epoch = 0  # ms the core's clock was moved back in all: added to log record times
        self._off = 0  # drivers' tick = now + _off (mod 2**30): unchanged across a rebase
        self._off_neg = -_MASK - 1  # _off - 2**30, so the sum never leaves the small ints
        self._now = 0  # the last poll's time and tick (to convert the reader's deadline)
        self._tick = 0

    def start(self, now_ms):
        """Boot the core from the sensors. Nothing here drives the motor."""
        config, cal = self.store.load()
        try:
            core = LockCore(config, cal, self.keys)
        except ValueError:
            # a stored setting or calibration that no longer validates: run on defaults and
            # uncalibrated (the core then refuses to drive) rather than guess
            core = LockCore(None, None, self.keys)
        self.core = core
        pos = self.board.position.read()
        self._last_pos = pos
        self._apply(core.boot(now_ms, pos, self.board.door.value), now_ms)

    def rebase(self, delta):
        """Move the clock that poll() is given back by delta ms (run() does it every REBASE_MS)."""
        self.core.rebase(delta)
        self.timers.rebase(delta)
        if self._coast_at is not None:
            self._coast_at -= delta
        self._epoch += delta
        self._off = (self._off + delta) & _MASK
        self._off_neg = self._off - _MASK - 1
        self._now -= delta

    def _ticks(self, now_ms):
        """The drivers' and the reader's time: continuous modulo 2**30 across rebases (they
        compare times modulo 2**30, so before any rebase it is simply now_ms)."""
        if not self._off:
            return now_ms
        if now_ms > _MASK - self._off:
            return now_ms + self._off_neg
        return now_ms + self._off

    def poll(self, now_ms):
        """Read every input once, feed the core, fire due timers. Door first: it can stop a move."""
        b = self.board
        t = self._ticks(now_ms)
        self._now = now_ms
        self._tick = t
        v = b.door.poll(t)
        if v is not None:
            self._feed(now_ms, EV_DOOR, v)
        if b.button.poll(t):
            self._feed(now_ms, EV_BUTTON, None)
        p = b.position.read()
        if p != self._last_pos:
            self._last_pos = p
            self._feed(now_ms, EV_POSITION, p)
        if b.motor.poll(t):
            self._feed(now_ms, EV_STALL, None)
        timers = self.timers
        while True:
            tid = timers.pop_due(now_ms)
            if tid is None:
                break
            self._feed(now_ms, EV_TIMER, tid)
        r = self.reader
        if r is not None:
            ev = r.poll(t)  # one bounded step of the PN532 conversation
            if ev is not None:
                self._reader_event(now_ms, ev)
        if self._coast_at is not None and now_ms >= self._coast_at:
            self._coast_at = None
            if not b.motor.running:
                b.motor.coast()
        ind = b.indicator
        if ind is not None:
            ind.poll(t)
            if self.core.alarm and not ind.busy:
                ind.show(IND_ALARM, t)  # another pattern (a denied card) ended the alarm sound

    def submit(self, now_ms, kind, arg):
        """An event from outside the board's own inputs (reader, network, installer).
        Bad input raises ValueError and changes nothing."""
        self._feed(now_ms, kind, arg)

    def busy(self):
        """True while the inputs or the motor need polling every few ms (the indicator does not
        count: its patterns never feed the core)."""
        b = self.board
        r = self.reader
        return (b.motor.running or b.door.settling or b.button.settling or self._coast_at is not None
                or (r is not None and r.next_deadline() is None))  # a reader command is running

    def next_deadline(self):
        """The earliest instant poll() has work to do without any input changing: a core timer or
        the brake release."""
        d = self.timers.next_deadline()
        c = self._coast_at
        if c is not None and (d is None or c < d):
            d = c
        if self.reader is not None:
            rd = self.reader.next_deadline()  # on the drivers' tick: convert
            if rd is not None:
                c = self._now + (((rd - self._tick + _HALF) & _MASK) - _HALF)
                if d is None or c < d:
                    d = c
        return d

    def _reader_event(self, now_ms, ev):
        """("card", kind, ident) -> a credential; ("refused", kind, ident, reason) -> a credential the
        reader already refused; ("down", code) / ("up",) -> reader status."""
        what = ev[0]
        if what == "card":
            self._feed(now_ms, EV_CREDENTIAL, (ev[1], ev[2]))
        elif what == "refused":
            self._feed(now_ms, EV_CREDENTIAL, (ev[1], ev[2], ev[3]))
        elif what == "down":
            self._feed(now_ms, EV_READER, ev[1])
        else:
            self._feed(now_ms, EV_READER, 0)

    def _feed(self, now_ms, kind, arg):
        try:
            actions = self.core.handle(now_ms, kind, arg)
        except LockError:
            raise  # bad input: the core changed nothing
        except Exception:
            # a fault inside the core: fail secure (motor braked), count it, let the loop report it
            self.board.motor.brake()
            self.faults += 1
            raise
        self._apply(actions, now_ms)

    def _apply(self, actions, now_ms):
        b = self.board
        for a in actions:
            k = a[0]
            if k == A_LOG:
                self._record(a[1])
            elif k == A_DRIVE:
                self._coast_at = None
                b.motor.drive(a[1], self._ticks(now_ms))
            elif k == A_STOP:
                b.motor.brake()
                self._coast_at = now_ms + BRAKE_MS
            elif self.timers.apply(a):
                pass
            elif k == A_INDICATE:
                if b.indicator is not None:
                    b.indicator.show(a[1], self._ticks(now_ms))
            elif k == A_SAVE:
                self.store.save(a[1], a[2])

    def _record(self, rec):
        if self._epoch:
            rec = (rec[0] + self._epoch, rec[1], rec[2], rec[3])
        log = self.log
        log.append(rec)
        if len(log) > self.log_size:
            log.pop(0)
        if self.on_record is not None:
            self.on_record(rec)


async def run(app, ticks_ms, ticks_diff, sleep_ms, period_ms=10, rounds=-1, rebase_ms=REBASE_MS):
    """The board's main loop. Clock and sleep are injected (time.ticks_ms, time.ticks_diff,
    asyncio.sleep_ms on the board) so tests can drive it. now never reaches rebase_ms: the App's
    clock is moved back instead, so times stay small ints for any uptime."""
    last = ticks_ms()
    now = 0
    app.start(now)
    while rounds:
        t = ticks_ms()
        now += ticks_diff(t, last)
        last = t
        if now >= rebase_ms:
            app.rebase(rebase_ms)
            now -= rebase_ms
        try:
            app.poll(now)
        except Exception as e:  # reported, motor already braked by App._feed; keep serving
            report_fault(e)
        await sleep_ms(period_ms)
        if rounds > 0:
            rounds -= 1


def report_fault(e):
    import sys
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__)
