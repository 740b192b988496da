# A test rig around LockCore (runs on CPython and MicroPython): fires the core's timers exactly at
# their deadlines (core.next_deadline(), EV_TIMER), tracks the commanded motor and every action, and
# renders the log with format_record.
from lockctl.core import LockCore
from lockctl.record import format_record
from lockctl.codes import A_DRIVE, A_STOP, A_LOG, EV_TIMER, T_MOTION, T_BACKOFF, TOWARD_LOCK, UNLOCKING, LOCKING

LOCK_POS = 1000
UNLOCK_POS = 3000
MID_POS = 2000


class Rig:
    def __init__(self, config=None, cal=(LOCK_POS, UNLOCK_POS), keys=None, pos=LOCK_POS, door_open=False, t=0,
                 keep=True):
        self.keep = keep  # False: keep no history (long random walks in a 96k heap); max_span still tracked
        self.max_span = 0
        self.digest = 0  # running hash of the log text
        self.log_count = 0
        self.core = LockCore(config, cal, keys)
        self.actions = []  # (t, action) for everything the core emitted
        self.batches = []  # (event kind or None for boot, actions) per call, when keep
        self.log = []
        self.motor = 0
        self.motor_since = t
        self.drive_spans = []  # (direction, start, stop) of each finished drive
        self.now = t
        self._take(t, self.core.boot(t, pos, door_open))

    def _take(self, t, acts, kind=None):
        if self.keep:
            self.batches.append((kind, acts))
        for a in acts:
            if self.keep:
                self.actions.append((t, a))
            if a[0] == A_LOG:
                line = format_record(a[1])
                self.log_count += 1
                h = self.digest
                for ch in line:
                    h = (h * 31 + ord(ch)) & 0xFFFFFFFF
                self.digest = h
                if self.keep:
                    self.log.append(line)
            elif a[0] == A_DRIVE:
                # the bolt is never thrown with the door open or unknown (retracting it is allowed)
                assert not ((self.core.door_open or not self.core.door_known) and a[1] == TOWARD_LOCK), \
                    "lock drive with the door open"
                self._end_span(t)
                self.motor = a[1]
                self.motor_since = t
            elif a[0] == A_STOP:
                self._end_span(t)
                self.motor = 0
        return acts

    def _end_span(self, t):
        if self.motor:
            if t - self.motor_since > self.max_span:
                self.max_span = t - self.motor_since
            if self.keep:
                self.drive_spans.append((self.motor, self.motor_since, t))

    def advance(self, t):
        """Fire every timer due up to t, each at its own deadline."""
        core = self.core
        while True:
            d = core.next_deadline()
            if d is None or d > t:
                break
            if d < core.now:
                d = core.now  # due already (a deadline moved below the clock by a rebase)
            self.now = d
            self._take(d, core.handle(d, EV_TIMER), EV_TIMER)
        self.now = t

    def ev(self, t, kind, arg=None):
        self.advance(t)
        return self._take(t, self.core.handle(t, kind, arg), kind)

    def drives(self):
        return [(t, a[1]) for (t, a) in self.actions if a[0] == A_DRIVE]

    def stops(self):
        return [t for (t, a) in self.actions if a[0] == A_STOP]


def motion_bound(core):
    """Longest the core may leave the motor running in one direction."""
    c = core.cfg
    return max(c["jam_ms"], c["backoff_ms"], c["cal_ms"])


def check_invariants(rig):
    """What must hold after every event, whatever came before."""
    core = rig.core
    assert core.motor == rig.motor
    if core.door_open or not core.door_known:
        assert rig.motor != TOWARD_LOCK, "motor throwing the bolt with the door open or unknown"
    if core.state in (UNLOCKING, LOCKING):
        # a drive never runs with the knob already in its target's zone (it would have arrived);
        # a back-off (the motor the other way) may
        target = 1 if core.state == UNLOCKING else -1
        if core.motor == target:
            assert core.at_end(core.pos) != target, "driving with the knob at the target"
    if rig.motor:
        # a deadline that will stop it is armed, no further out than the bound
        due = [d for d in (core.deadline(T_MOTION), core.deadline(T_BACKOFF)) if d is not None]
        assert due and min(due) <= rig.motor_since + motion_bound(core), "motor running with no stop deadline"
    assert rig.max_span <= motion_bound(core), "motor ran %d ms" % rig.max_span

