# LockCore: the sans-IO lock controller.
#
# Inputs are events with a caller-supplied monotonic time in ms; outputs are action tuples (see
# codes.py). Nothing in here touches hardware, clocks, asyncio or the network, so the same object runs
# on the board, in the simulator, in the benchmarks and under hypothesis.
#
#   core = LockCore(config, calibration, keys)
#   actions = core.boot(now_ms, position, door_open)     # never moves the bolt
#   actions = core.handle(now_ms, EV_DOOR, True)         # ... one call per event
#   d = core.next_deadline()                             # the core owns its timers: at d feed
#   actions = core.handle(d, EV_TIMER)                   # EV_TIMER and it fires what is due
#
# One state variable, `mode` (M_*), drives everything; `state` is its public coarse view. The
# (mode x event) table is docs/core.md's, walked cell by cell by tests/test_core_table.py.
#
# Invariants the tests check: the motor is never driven toward the lock end while the door is open
# (it may retract the bolt); every drive is covered by an armed T_MOTION / T_BACKOFF deadline; a
# malformed event raises LockError before anything changes.
from micropython import const

from lockctl import config as _config
from lockctl.errors import LockError
from lockctl.codes import (
    UNCALIBRATED, LOCKED, UNLOCKING, UNLOCKED, LOCKING, JAMMED, CALIBRATING,
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE,
    EV_CONFIG, EV_CALIBRATE, EV_READER, EV_SENSOR, EV_CLOCK, EV_BATTERY, EV_LAST,
    A_DRIVE, A_STOP, A_LOG, A_INDICATE, A_SAVE, TOWARD_UNLOCK, TOWARD_LOCK,
    T_AUTOLOCK, T_MOTION, T_BACKOFF, T_HELD,
    IND_OK, IND_DENIED, IND_ALARM, IND_CLEAR, IND_LOCKED, IND_UNLOCKED, IND_CALIBRATE, IND_BATTERY,
    LOG_BOOT, LOG_LOCK, LOG_UNLOCK, LOG_MANUAL_LOCK, LOG_MANUAL_UNLOCK, LOG_REFUSED, LOG_DENIED,
    LOG_DOOR_OPEN, LOG_DOOR_CLOSE, LOG_FORCED_OPEN, LOG_HELD_OPEN, LOG_RETRY, LOG_JAM, LOG_JAM_CLEAR,
    LOG_ABORT, LOG_CALIBRATED, LOG_CAL_FAIL, LOG_CONFIG, LOG_READER_DOWN, LOG_READER_UP,
    LOG_CLOCK_SET, LOG_PIN_LOCKOUT, LOG_BATTERY, BATT_OK, BATT_CRITICAL,
    KIND_LAST, KIND_PIN, SRC_BUTTON, SRC_REMOTE, SRC_AUTO, SRC_RELOCK, SRC_BOOT,
    R_UNCALIBRATED, R_CALIBRATING, R_DOOR_OPEN, R_BUTTON_OFF, R_NOT_CALIBRATING, R_BUSY, R_NO_POSITION,
    R_NO_KEYS, R_STALL, R_TIMEOUT, R_REVERSED, R_NO_END_STOP, R_SPAN, R_CANCELLED, R_DOOR_SENSOR, R_LAST,
    R_UNKNOWN, R_PIN_LOCKOUT, R_USE_TALLY, R_BATTERY, R_STORE,
)

__all__ = ["LockCore", "LockError"]

# modes: the core's one state variable (the rows of docs/core.md's table; names in lockctl/record.py)
_M_UNCALIBRATED = const(0)
_M_LOCKED = const(1)
_M_UNLOCKED = const(2)
_M_JAMMED = const(3)
_M_UNLOCKING = const(4)  # driving toward the unlock end
_M_UNLOCK_BACKOFF = const(5)  # an unlock attempt failed: reversing briefly before the retry
_M_LOCKING = const(6)  # driving toward the lock end
_M_LOCK_BACKOFF = const(7)  # a lock attempt failed: reversing briefly before the retry
_M_CAL_UNLOCK = const(8)  # auto calibration: sweeping to the unlock end stop
_M_CAL_LOCK = const(9)  # auto calibration: sweeping to the lock end stop
_M_MARK_LOCK = const(10)  # manual calibration: waiting for "mark" at the locked position
_M_MARK_UNLOCK = const(11)  # manual calibration: waiting for "mark" at the unlocked position

_STATE_OF = (UNCALIBRATED, LOCKED, UNLOCKED, JAMMED, UNLOCKING, UNLOCKING, LOCKING, LOCKING,
             CALIBRATING, CALIBRATING, CALIBRATING, CALIBRATING)

# where the bolt is, from the position sensor and the calibration
_Z_MID = const(0)
_Z_LOCK = const(1)
_Z_UNLOCK = const(2)

_RETRACT = const(0)  # source of the lock's own retraction after a door opened mid-lock: not logged

_NO_ACTIONS = ()  # shared result of an event that changes nothing
_PIN_LOCKOUT_MAX_S = const(3600)
_CLOCK_MIN = const(946684800)  # 2000-01-01: an RTC reading before this is an unset clock


class LockCore:
    def __init__(self, config=None, calibration=None, keys=None, pin_fails=0):
        self.cfg = _config.merged(config, {})
        self.cal = None
        if calibration is not None:
            self.cal = self._check_cal(calibration)
        self.keys = keys
        self.mode = _M_UNCALIBRATED
        self.door_open = False
        self.door_known = True  # False while the door sensor cannot be read (EV_SENSOR): maybe open
        self.pos = None
        self.motor = 0  # direction last commanded: 0 stopped, +1 toward unlock, -1 toward lock
        self.alarm = False
        self.reader_down = False
        self.battery = BATT_OK  # BATT_* from EV_BATTERY
        self.pin_fails = pin_fails if type(pin_fails) is int and pin_fails > 0 else 0  # wrong PINs in a row
        self._pin_until = None  # the keypad is locked out until this time (ms)
        self._wall = None  # (now ms, Unix s) of the last EV_CLOCK: the wall clock; None while unset
        self.now = 0
        self._booted = False
        self._out = None
        self._due = {}  # the core's timers: id (T_*) -> deadline ms; the only timer table
        self._rest = _Z_MID  # zone the bolt was in when it last came to rest
        self._dir = 0  # target of the current (or last) move
        self._src = None  # its source (SRC_* / KIND_*, or _RETRACT) and user
        self._who = None
        self._attempt = 0
        self._jam = False  # a jam is outstanding: cleared only by a move that ran, or a hand turn
        self._also = None  # [(src, who)] of others who asked for the move under way
        self._auto_src = SRC_AUTO  # source the pending T_AUTOLOCK will log
        self._opened_at = 0  # when the door last opened (held-open alarm)
        self._held = False  # the held-open alarm went off for this opening
        self._cal_prev = None
        self._cal_mark = None
        self._edges_key = None  # position_edges() cache: (calibration, zone_pct) it was made for
        self._edges = ()

    # ------------------------------------------------------------------ public API
    @property
    def state(self):
        """The reported state (UNCALIBRATED, LOCKED, UNLOCKING, ...): the coarse view of mode."""
        return _STATE_OF[self.mode]

    def boot(self, now, position, door_open, resume=None, boots=0, wall=None):
        """Start from the sensors. Never drives the motor. The one timer it may arm: a door found
        closed and unlocked is relocked after relock_ms (auto_lock and relock_on_boot on).

        resume: (alarm, jammed, relock) when the shell rebuilds the core after a fault: an alarm and
        a jam of the core it replaces stand; relock: a closed door whose bolt the fault stopped
        anywhere short of the lock end relocks after relock_ms (the shell says so for a first fault,
        not for one that keeps coming back). boots: the boot count the BOOT record carries; wall:
        the RTC's time at now (Unix s) if it kept time, else None (no CLOCK_SET record for it)."""
        if self._booted:
            raise LockError("boot() called twice")
        if type(now) is not int:
            raise LockError("time must be an int")
        self._check_pos(position)
        if door_open is not True and door_open is not False:
            raise LockError("door_open must be True or False")
        if resume is not None and (type(resume) is not tuple or len(resume) != 3):
            raise LockError("resume must be (alarm, jammed, relock)")
        if wall is not None and (type(wall) is not int or wall < 0):
            raise LockError("wall must be Unix seconds or None")
        self._booted = True
        self.now = now
        if wall is not None and wall >= _CLOCK_MIN:
            self._wall = (now, wall)
        self.pos = position
        self.door_open = door_open
        self._out = None
        self._settle()
        if resume is not None and resume[1] and self.mode != _M_UNCALIBRATED:
            self.mode = _M_JAMMED  # the jam stands until a move runs or a hand turns the knob
            self._jam = True
        self._log(LOG_BOOT, (self.state, boots if type(boots) is int and boots > 0 else 0), None)
        if self.pin_fails >= self.cfg["pin_tries"]:
            self._pin_until = now + self._lockout_ms()  # a reboot does not end a PIN lockout
        if resume is not None and resume[0]:
            self._set_alarm()  # the alarm of the core this one replaces goes on
        if door_open:
            self._opened_at = now
            if self.cfg["held_open_ms"]:
                self._arm(T_HELD, self.cfg["held_open_ms"])
        elif resume is not None:
            if resume[2] and self.mode == _M_UNLOCKED:
                self._arm_relock("relock_ms", SRC_RELOCK)  # the fault stopped a move short of the end
        elif (self.mode == _M_UNLOCKED and self.cfg["relock_on_boot"] and self._zone(position) == _Z_UNLOCK):
            # clearly at the unlock end with the door shut (not somewhere between the ends, where a
            # jam may have left it): relock after the normal grace, exactly as after an unlock
            self._arm_relock("relock_ms", SRC_BOOT)
        return self._take()

    def handle(self, now, kind, arg=None):
        """Feed one event; returns the actions to carry out, in order (a shared empty tuple when the
        event changes nothing)."""
        if not self._booted:
            raise LockError("boot() first")
        if type(now) is not int or now < self.now:
            raise LockError("time must be an int that never goes backwards")
        arg = self._check_event(kind, arg)
        self.now = now
        self._out = None
        if kind == EV_POSITION:
            self._on_position(arg)
        elif kind == EV_TIMER:
            self._on_timer()
        elif kind == EV_DOOR:
            if arg:
                self._on_door_open()
            else:
                self._on_door_close()
        elif kind == EV_BUTTON:
            self._on_button()
        elif kind == EV_STALL:
            self._on_stall()
        elif kind == EV_CREDENTIAL:
            self._on_credential(arg[0], arg[1], arg[2] if len(arg) == 3 else None)
        elif kind == EV_REMOTE:
            self._on_remote(arg[0], arg[1])
        elif kind == EV_CONFIG:
            self._on_config(arg)
        elif kind == EV_READER:
            self._on_reader(arg)
        elif kind == EV_SENSOR:
            self._on_sensor(arg[1])
        elif kind == EV_CLOCK:
            self._on_clock(arg)
        elif kind == EV_BATTERY:
            self._on_battery(arg[0], arg[1])
        else:  # EV_CALIBRATE
            self._on_calibrate(arg)
        return self._take()  # most events change nothing: no allocation

    def next_deadline(self):
        """The earliest armed timer deadline (ms), or None: at that time feed EV_TIMER."""
        due = self._due
        best = None
        for tid in due:  # (not .values(): that view is a heap object on MicroPython)
            t = due[tid]
            if best is None or t < best:
                best = t
        return best

    def wall_time(self, at=None):
        """Wall-clock time now (or at the core time `at`, ms) in Unix seconds, UTC, or None while the
        clock is unset."""
        w = self._wall
        if w is None:
            return None
        return w[1] + ((self.now if at is None else at) - w[0]) // 1000

    def local_time(self):
        """Local time now in seconds (UTC + utc_offset_min + DST), or None while the clock is unset:
        what credential schedules are checked against."""
        u = self.wall_time()
        if u is None:
            return None
        from lockctl.schedule import local_seconds  # (loaded with the key store, not before)
        return local_seconds(u, self.cfg["utc_offset_min"], self.cfg["dst_rule"])

    def pin_locked_out(self):
        """True while the keypad is locked out after wrong PINs."""
        return self._pin_until is not None and self.now < self._pin_until

    def deadline(self, tid):
        """Deadline (ms) of the core's timer tid, or None when it is not armed."""
        return self._due.get(tid)

    def rebase(self, delta):
        """The caller moves its clock back by delta ms (to keep times in MicroPython's small-int
        range on a board that runs for months): shift the core's own time and deadlines with it.
        Records already emitted keep their times; the caller adds its epoch when it stores them."""
        if type(delta) is not int or delta < 0:
            raise LockError("rebase delta must be a non-negative int")
        # the core's own time may go below zero (no event for longer than delta): it only has to
        # never go backwards, and a deadline that moves below the caller's time is simply due
        self.now -= delta
        self._opened_at -= delta
        if self._wall is not None:
            self._wall = (self._wall[0] - delta, self._wall[1])
        if self._pin_until is not None:
            self._pin_until -= delta
        due = self._due
        for tid in due:
            due[tid] -= delta

    def position_edges(self):
        """Sorted positions e at which the core's reading of the knob differs between e - 1 and e
        (zone edges, the midpoint). A runner that skips time must sample the knob when it crosses
        one; between them the core ignores position changes while the motor is idle."""
        cal = self.cal
        if cal is None:
            return ()
        key = (cal, self.cfg["zone_pct"])
        if self._edges_key == key:
            return self._edges
        lo, hi = cal
        tol = self._tol()
        m = (lo + hi) // 2
        edges = []
        for e in (lo - tol, lo + tol + 1, hi - tol, hi + tol + 1, m, m + 1):
            if e not in edges and self._reading(e - 1) != self._reading(e):
                edges.append(e)
        edges.sort()
        self._edges_key = key
        self._edges = tuple(edges)
        return self._edges

    def raw_position_matters(self):
        """True while the core keeps the raw position it is given (a calibration records an end
        stop's or a mark's reading): a runner that skips time must then sample every change of the
        knob. Otherwise only crossings of position_edges() change what the core does."""
        return self.mode >= _M_CAL_UNLOCK

    def at_end(self, pos):
        """Where the core reads position pos: TOWARD_LOCK (-1) in the lock end's zone, TOWARD_UNLOCK
        (+1) in the unlock end's, 0 between the ends or uncalibrated."""
        z = self._zone(pos)
        return TOWARD_LOCK if z == _Z_LOCK else (TOWARD_UNLOCK if z == _Z_UNLOCK else 0)

    def _reading(self, pos):
        return self._zone(pos), self._nearer_unlock(pos)

    # ------------------------------------------------------------------ validation
    def _check_cal(self, cal):
        if not isinstance(cal, (tuple, list)) or len(cal) != 2:
            raise LockError("calibration must be (lock_pos, unlock_pos)")
        lock, unlock = cal
        if type(lock) is not int or type(unlock) is not int:
            raise LockError("calibration positions must be ints")
        if abs(unlock - lock) < self.cfg["min_span"]:
            raise LockError("calibration span %d is below min_span" % abs(unlock - lock))
        return (lock, unlock)

    @staticmethod
    def _check_pos(p):
        if p is not None and type(p) is not int:
            raise LockError("position must be an int or None")

    def _check_event(self, kind, arg):
        """Raise LockError for a malformed event; return its argument (a settings change: the
        checked copy)."""
        if type(kind) is not int or kind < EV_DOOR or kind > EV_LAST:
            raise LockError("unknown event kind %r" % (kind,))
        if kind == EV_DOOR:
            if arg is not True and arg is not False:
                raise LockError("door event takes True (open) or False (closed)")
        elif kind == EV_POSITION:
            if type(arg) is not int:
                raise LockError("position must be an int")
        elif kind == EV_CREDENTIAL:
            if type(arg) is not tuple or not (len(arg) == 2 or len(arg) == 3):
                raise LockError("credential must be (kind, ident) or (kind, ident, reason)")
            if type(arg[0]) is not int or arg[0] < 1 or arg[0] > KIND_LAST:
                raise LockError("credential kind must be a KIND_* code")
            if type(arg[1]) is not str or not (arg[1] or len(arg) == 3):
                raise LockError("credential ident must be a non-empty str (empty only when refused)")
            if len(arg) == 3 and (type(arg[2]) is not int or arg[2] < 1 or arg[2] > R_LAST):
                raise LockError("credential refusal reason must be an R_* code")
        elif kind == EV_REMOTE:
            if type(arg) is not tuple or len(arg) != 2 or (arg[0] != "lock" and arg[0] != "unlock"):
                raise LockError("remote must be ('lock' | 'unlock', user)")
            if arg[1] is not None and type(arg[1]) is not str and type(arg[1]) is not int:
                raise LockError("remote user must be a str, an int or None")
        elif kind == EV_CONFIG:
            changes = _config.check(arg)
            span = changes.get("min_span")
            if span is not None and self.cal is not None and abs(self.cal[1] - self.cal[0]) < span:
                raise LockError("min_span above the current calibration span")
            return changes
        elif kind == EV_CALIBRATE:
            if arg != "auto" and arg != "manual" and arg != "mark" and arg != "cancel":
                raise LockError("calibrate takes auto, manual, mark or cancel")
        elif kind == EV_TIMER or kind == EV_BUTTON or kind == EV_STALL:
            if arg is not None:
                raise LockError("this event takes no argument")
        elif kind == EV_READER:
            if type(arg) is not int or arg > 0:
                raise LockError("reader status must be 0 (up) or a negative error code")
        elif kind == EV_SENSOR:
            if type(arg) is not tuple or len(arg) != 2 or arg[0] != EV_DOOR or (arg[1] is not True and arg[1] is not False):
                raise LockError("sensor status must be (EV_DOOR, True | False)")
        elif kind == EV_CLOCK:
            if arg is not None and (type(arg) is not int or arg < 0 or arg > 0xFFFFFFFF):
                raise LockError("clock takes Unix seconds (0..2**32-1) or None")
        elif kind == EV_BATTERY:
            if (type(arg) is not tuple or len(arg) != 2 or type(arg[0]) is not int or not BATT_OK <= arg[0] <= BATT_CRITICAL
                    or type(arg[1]) is not int or arg[1] < 0):
                raise LockError("battery takes (BATT_* level, mV)")
        return arg

    # ------------------------------------------------------------------ small helpers
    def _take(self):
        out = self._out
        self._out = None
        return out if out is not None else _NO_ACTIONS

    def _emit(self, action):
        out = self._out
        if out is None:
            out = self._out = []
        out.append(action)

    def _log(self, code, arg, who):
        self._emit((A_LOG, (self.now, code, arg, who)))

    def _show(self, pattern):
        self._emit((A_INDICATE, pattern))

    def _arm(self, tid, delay):
        self._due[tid] = self.now + delay

    def _cancel(self, tid):
        self._due.pop(tid, None)

    def _pop_due(self):
        """Forget and return the earliest timer due by now (ties: the lower id), or None."""
        due = self._due
        best = None
        for tid in due:
            t = due[tid]
            # ties go to the lower id: dict order differs between CPython and MicroPython
            if t <= self.now and (best is None or t < due[best] or (t == due[best] and tid < best)):
                best = tid
        if best is not None:
            del due[best]
        return best

    def _drive(self, direction):
        self.motor = direction
        self._emit((A_DRIVE, direction))

    def _stop(self):
        self.motor = 0
        self._emit((A_STOP,))

    def _tol(self):
        cal = self.cal
        tol = abs(cal[1] - cal[0]) * self.cfg["zone_pct"] // 100
        return tol if tol > 0 else 1

    def _nearer_unlock(self, pos):
        return abs(pos - self.cal[1]) < abs(pos - self.cal[0])

    def _zone(self, pos):
        cal = self.cal
        if cal is None or pos is None:
            return _Z_MID
        tol = self._tol()
        if abs(pos - cal[0]) <= tol:
            return _Z_LOCK
        if abs(pos - cal[1]) <= tol:
            return _Z_UNLOCK
        return _Z_MID

    def _thrown(self):
        """The bolt holds the door: the knob at the lock end or nearer it than the unlock end."""
        p = self.pos
        return self.cal is not None and p is not None and self._zone(p) != _Z_UNLOCK and not self._nearer_unlock(p)

    def _door_maybe_open(self):
        return self.door_open or not self.door_known

    def _idle(self):
        m = self.mode
        return m == _M_LOCKED or m == _M_UNLOCKED or m == _M_JAMMED

    def _moving(self):
        return _M_UNLOCKING <= self.mode <= _M_LOCK_BACKOFF

    def _calibrating(self):
        return self.mode >= _M_CAL_UNLOCK

    def _target(self):
        return _Z_UNLOCK if self._dir == TOWARD_UNLOCK else _Z_LOCK

    def _settle(self):
        """Mode from the sensors alone (boot, after calibration)."""
        if self.cal is None:
            self.mode = _M_UNCALIBRATED
            self._rest = _Z_MID
            return
        z = self._zone(self.pos)
        self._rest = z
        # between the ends the bolt does not secure the door: report it as unlocked
        self.mode = _M_LOCKED if z == _Z_LOCK else _M_UNLOCKED

    def _arm_relock(self, delay_key, src):
        if self.cfg["auto_lock"] and not self.door_open and self.door_known:
            self._auto_src = src
            self._arm(T_AUTOLOCK, self.cfg[delay_key])

    def _set_alarm(self):
        # every alarm event re-arms the sound (the shell's signals decide how long it plays)
        self.alarm = True
        self._show(IND_ALARM)

    def _clear_alarm(self):
        if self.alarm:
            self.alarm = False
            self._show(IND_CLEAR)

    # ------------------------------------------------------------------ motion
    def _request(self, direction, src, who):
        """Someone asked to lock or unlock; everything that may refuse it is checked here."""
        m = self.mode
        reason = 0
        if m == _M_UNCALIBRATED:
            reason = R_UNCALIBRATED
        elif m >= _M_CAL_UNLOCK:
            reason = R_CALIBRATING
        elif self.door_open and not (direction == TOWARD_UNLOCK and (m == _M_UNLOCKED or m == _M_UNLOCKING)):
            reason = R_DOOR_OPEN
        elif direction == TOWARD_LOCK and not self.door_known:
            reason = R_DOOR_SENSOR  # the door may be open: the bolt is not thrown blind
        elif direction == TOWARD_LOCK and self.battery == BATT_CRITICAL:
            reason = R_BATTERY  # the last of the battery is kept for letting people out
        if reason:
            self._log(LOG_REFUSED, reason, who)
            self._show(IND_DENIED)
            return
        if self._moving():
            if direction == self._dir:
                if self._src == _RETRACT:  # the lock's own retraction becomes this unlock
                    self._src = src
                    self._who = who
                elif who is not None:  # someone else asked for the same move: recorded on arrival
                    if self._also is None:
                        self._also = []
                    self._also.append((src, who))
                return  # already on its way there
            self._halt()
            self._log(LOG_ABORT, R_REVERSED, self._who)
        self._cancel(T_AUTOLOCK)
        self._dir = direction
        self._src = src
        self._who = who
        self._also = None
        if self.door_open or self._zone(self.pos) == self._target():
            self._arrived(False)  # already there: record the operation, nothing moves
            return
        self._attempt = 0
        self._start_drive()

    def _start_drive(self):
        self.mode = _M_UNLOCKING if self._dir == TOWARD_UNLOCK else _M_LOCKING
        if self._zone(self.pos) == self._target():
            self._arrived(True)  # a retry that finds the knob there already (a hand took it there)
            return
        self._drive(self._dir)
        self._arm(T_MOTION, self.cfg["jam_ms"])

    def _halt(self):
        """Stop the motor and forget the move's timers (the caller sets the mode)."""
        if self.motor:
            self._stop()
        self._cancel(T_MOTION)
        self._cancel(T_BACKOFF)

    def _arrived(self, moved):
        """The bolt is where the request wanted it (moved: a move really ran to get there)."""
        self._halt()
        jam = self._jam
        if jam and moved:
            self._jam = False
            self._log(LOG_JAM_CLEAR, None, None)
            self._clear_alarm()
        # a request that needed no move while jammed records the operation and leaves the jam
        stays_jammed = jam and not moved
        # where the knob really is (the target's zone, or anywhere when the door opened mid-move)
        self._rest = self._zone(self.pos)
        also = self._also
        self._also = None
        if self._dir == TOWARD_UNLOCK:
            self.mode = _M_JAMMED if stays_jammed else _M_UNLOCKED
            if self._src == _RETRACT:  # the lock's own retraction: auto-lock follows the close
                self._arm_relock("auto_lock_ms", SRC_AUTO)
                return
            self._log(LOG_UNLOCK, self._src, self._who)
            if also is not None:  # others granted the same unlock while it was under way
                for src, who in also:
                    self._log(LOG_UNLOCK, src, who)
            self._show(IND_UNLOCKED)
            self._arm_relock("relock_ms", SRC_RELOCK)
        else:
            self.mode = _M_JAMMED if stays_jammed else _M_LOCKED
            self._log(LOG_LOCK, self._src, self._who)
            if also is not None:
                for src, who in also:
                    self._log(LOG_LOCK, src, who)
            self._show(IND_LOCKED)

    def _failed(self, why):
        """The current attempt did not reach its end: stop now, back off and retry once, then jam."""
        self._stop()
        self._cancel(T_MOTION)
        if self._attempt == 0:
            self._attempt = 1
            self._log(LOG_RETRY, why, self._who)
            back = -self._dir
            # the back-off never throws the bolt with the door open (a retraction retries at once)
            if self.cfg["backoff_ms"] and not (self._door_maybe_open() and back == TOWARD_LOCK):
                self.mode = _M_UNLOCK_BACKOFF if self._dir == TOWARD_UNLOCK else _M_LOCK_BACKOFF
                self._drive(back)
                self._arm(T_BACKOFF, self.cfg["backoff_ms"])
            else:
                self._start_drive()
            return
        self.mode = _M_JAMMED
        self._jam = True
        self._also = None
        self._rest = self._zone(self.pos)
        self._log(LOG_JAM, self._dir, self._who)
        self._set_alarm()

    def _end_backoff(self):
        self._halt()
        self._start_drive()

    def _retract(self):
        """The door opened while the bolt was being thrown: pull it back so the door can close."""
        self._dir = TOWARD_UNLOCK
        self._src = _RETRACT
        self._who = None
        self._also = None
        self._attempt = 0
        self._start_drive()

    # ------------------------------------------------------------------ event handlers
    def _on_position(self, pos):
        self.pos = pos
        m = self.mode
        if m == _M_UNLOCKING or m == _M_LOCKING:
            if self._zone(pos) == self._target():
                self._arrived(True)
            return
        if not self._idle():
            return  # backing off, calibrating or uncalibrated: positions are only recorded
        z = self._zone(pos)
        if z == _Z_MID:
            # a part-way turn: once the knob is nearer the unlock end than the lock end the bolt no
            # longer secures the door, so it counts as unlocked (and auto-lock follows)
            if m == _M_LOCKED and self._nearer_unlock(pos):
                self._rest = z
                self._manual(_M_UNLOCKED, LOG_MANUAL_UNLOCK, IND_UNLOCKED)
                self._arm_relock("relock_ms", SRC_RELOCK)
            return
        if z == self._rest:
            return
        self._rest = z
        # the knob reached an end while the motor was idle: someone turned it by hand
        if z == _Z_LOCK and m != _M_LOCKED:
            self._manual(_M_LOCKED, LOG_MANUAL_LOCK, IND_LOCKED)
            self._cancel(T_AUTOLOCK)
        elif z == _Z_UNLOCK and m != _M_UNLOCKED:
            self._manual(_M_UNLOCKED, LOG_MANUAL_UNLOCK, IND_UNLOCKED)
            self._arm_relock("relock_ms", SRC_RELOCK)

    def _manual(self, mode, code, pattern):
        if self.mode == _M_JAMMED or self._jam:
            self._jam = False
            self._log(LOG_JAM_CLEAR, None, None)
            self._clear_alarm()
        self.mode = mode
        self._log(code, None, None)
        self._show(pattern)

    def _on_stall(self):
        """The motor driver reports stall current."""
        m = self.mode
        if m == _M_UNLOCKING or m == _M_LOCKING:
            # (never at the target: a drive arrives the moment the knob is in the target's zone,
            # and one that would start there arrives at once)
            self._failed(R_STALL)
        elif m == _M_UNLOCK_BACKOFF or m == _M_LOCK_BACKOFF:
            self._end_backoff()
        elif m == _M_CAL_UNLOCK or m == _M_CAL_LOCK:
            self._cal_end_stop()

    def _on_timer(self):
        while True:
            tid = self._pop_due()
            if tid is None:
                return
            m = self.mode
            if tid == T_AUTOLOCK:
                if not self.door_open and self.door_known and (m == _M_UNLOCKED or m == _M_JAMMED):
                    self._request(TOWARD_LOCK, self._auto_src, None)
            elif tid == T_MOTION:
                if m == _M_UNLOCKING or m == _M_LOCKING:
                    self._failed(R_TIMEOUT)
                elif m == _M_CAL_UNLOCK or m == _M_CAL_LOCK:
                    self._cal_fail(R_NO_END_STOP)
                elif m == _M_MARK_LOCK or m == _M_MARK_UNLOCK:
                    self._cal_fail(R_TIMEOUT)  # an abandoned manual calibration
            elif tid == T_BACKOFF:
                if m == _M_UNLOCK_BACKOFF or m == _M_LOCK_BACKOFF:
                    self._end_backoff()
            elif tid == T_HELD:
                if self.door_open:
                    self._held = True
                    self._log(LOG_HELD_OPEN, None, None)
                    self._set_alarm()

    def _on_door_open(self):
        if self.door_open:
            return
        self.door_open = True
        self._opened_at = self.now
        self._held = False
        m = self.mode
        moving = self._moving()
        sweep = m == _M_CAL_UNLOCK or m == _M_CAL_LOCK
        # never throw the bolt with the door open: stop before anything else
        if moving:
            self._halt()
        elif sweep:
            self._halt_cal_sweep()
        self._log(LOG_DOOR_OPEN, None, None)
        self._cancel(T_AUTOLOCK)
        if moving:
            if self._dir == TOWARD_UNLOCK:
                self._arrived(True)  # the door opened, so the bolt is clear: the unlock did its job
            else:
                self._log(LOG_ABORT, R_DOOR_OPEN, self._who)
                z = self._zone(self.pos)
                self._rest = z
                if z == _Z_UNLOCK:
                    self.mode = _M_UNLOCKED
                else:
                    self._retract()  # so the door can close again; auto-lock follows the close
        elif sweep:
            self._cal_fail(R_DOOR_OPEN)
        elif m == _M_LOCKED or ((m == _M_UNLOCKED or m == _M_JAMMED) and self._thrown()):
            self._log(LOG_FORCED_OPEN, None, None)
            self._set_alarm()
        if self.cfg["held_open_ms"]:
            self._arm(T_HELD, self.cfg["held_open_ms"])

    def _on_door_close(self):
        if not self.door_open:
            return
        self.door_open = False
        self.door_known = True  # False while the door sensor cannot be read (EV_SENSOR): maybe open
        self._log(LOG_DOOR_CLOSE, None, None)
        self._cancel(T_HELD)
        m = self.mode
        if m != _M_JAMMED:
            self._clear_alarm()  # held-open / forced-open alarms end when the door shuts
        # auto-lock, unless the bolt is already at the lock end (a lock jammed there: nothing to do)
        if (m == _M_UNLOCKED or m == _M_JAMMED) and self._zone(self.pos) != _Z_LOCK:
            self._arm_relock("auto_lock_ms", SRC_AUTO)

    def _on_button(self):
        m = self.mode
        if m == _M_MARK_LOCK or m == _M_MARK_UNLOCK:
            self._cal_mark_step()  # during manual calibration the button confirms a position
            return
        if not self.cfg["button_unlock"]:
            self._log(LOG_REFUSED, R_BUTTON_OFF, None)
            self._show(IND_DENIED)
            return
        # the button only unlocks (people press it to leave): when already unlocked the press is
        # recorded and the relock grace starts again; it never throws the bolt in someone's face
        self._request(TOWARD_UNLOCK, SRC_BUTTON, None)

    def _on_credential(self, kind, ident, refused):
        pin = kind == KIND_PIN
        if pin:
            ident_log = ""  # a PIN is never logged, not even a wrong one
        else:
            ident_log = ident
        if pin and self.pin_locked_out():
            user, reason = None, R_PIN_LOCKOUT  # not even looked up, nor counted (a refused entry too)
        elif refused is not None:
            user, reason = None, refused  # the reader already said no (e.g. a phone's bad answer)
        elif self.keys is None:
            user, reason = None, R_NO_KEYS
        else:
            user, reason = self.keys.check(kind, ident, self.local_time())
            if user is not None and not self.keys.consume(kind, ident):
                user, reason = None, R_USE_TALLY  # a counted use that could not be recorded: no
        if pin and reason != R_PIN_LOCKOUT and reason != R_STORE and reason != R_NO_KEYS:
            # (a lookup that could not answer neither counts nor ends a run of wrong PINs: guesses
            # landing in an unreadable key store block must not reset the back-off)
            self._count_pin(user is not None or reason != R_UNKNOWN)
        if user is None:
            self._log(LOG_DENIED, reason, (kind, ident_log))
            self._show(IND_DENIED)
            if pin and self.pin_fails >= self.cfg["pin_tries"] and reason == R_UNKNOWN:
                ms = self._lockout_ms()
                self._pin_until = self.now + ms
                self._log(LOG_PIN_LOCKOUT, ms // 1000, None)
                self._set_alarm()
            return
        self._show(IND_OK)
        self._request(TOWARD_UNLOCK, kind, user)

    def _count_pin(self, known):
        """A PIN entry was looked up: a known PIN (valid now or not) ends a run of wrong ones; an
        unknown one adds to it. The count is saved: it survives a reboot."""
        n = 0 if known else self.pin_fails + 1
        if n != self.pin_fails:
            self.pin_fails = n
            self._emit((A_SAVE, "pin_fails", n))

    def _lockout_ms(self):
        """Lockout after the run of wrong PINs so far: pin_lockout_s, doubled for each one past
        pin_tries, at most an hour."""
        s = self.cfg["pin_lockout_s"]
        extra = self.pin_fails - self.cfg["pin_tries"]
        while extra > 0 and s < _PIN_LOCKOUT_MAX_S:
            s *= 2
            extra -= 1
        return min(s, _PIN_LOCKOUT_MAX_S) * 1000

    def _on_clock(self, unix):
        """The wall clock was set (or read at boot): Unix seconds at now; None = unset."""
        if unix is None or unix < _CLOCK_MIN:
            self._wall = None
            return
        self._wall = (self.now, unix)
        self._log(LOG_CLOCK_SET, (unix, self.now), None)

    def _on_battery(self, level, mv):
        if level == self.battery:
            return
        was = self.battery
        self.battery = level
        self._log(LOG_BATTERY, (level, mv), None)
        if level != BATT_OK:
            self._show(IND_BATTERY)
        if (was == BATT_CRITICAL and level != BATT_CRITICAL and self.mode == _M_UNLOCKED and T_AUTOLOCK not in self._due
                and self._zone(self.pos) != _Z_LOCK):
            # the locks refused while critical: a closed door left unlocked locks again, as after a close
            self._arm_relock("auto_lock_ms", SRC_AUTO)

    def _on_remote(self, cmd, user):
        self._request(TOWARD_LOCK if cmd == "lock" else TOWARD_UNLOCK, SRC_REMOTE, user)

    def _on_config(self, changes):
        before = self.cfg["auto_lock"]
        self.cfg.update(changes)
        for k in sorted(changes):
            self._log(LOG_CONFIG, (_config.SETTINGS[k][0], changes[k]), None)
        self._emit((A_SAVE, "config", dict(self.cfg)))
        if before and not self.cfg["auto_lock"]:
            self._cancel(T_AUTOLOCK)
        elif not before and self.cfg["auto_lock"] and self.mode == _M_UNLOCKED:
            self._arm_relock("relock_ms", SRC_RELOCK)
        if "held_open_ms" in changes and self.door_open and not self._held:
            # the pending held-open alarm follows the new setting (0: off), counted from the opening
            self._cancel(T_HELD)
            ms = self.cfg["held_open_ms"]
            if ms:
                self._due[T_HELD] = self._opened_at + ms

    def _on_sensor(self, ok):
        """The door sensor stopped (ok False) or started again (ok True) reading. While it cannot
        be read the door may be open: no auto-lock, no lock request, and a lock move under way is
        stopped and the bolt pulled back, as for a door that opens. (The shell logs the fault.)"""
        if ok == self.door_known:
            return
        self.door_known = ok
        if ok:
            if self._idle() and self.mode != _M_LOCKED and not self.door_open and self._zone(self.pos) != _Z_LOCK:
                self._arm_relock("auto_lock_ms", SRC_AUTO)  # the door is known shut again
            return
        self._cancel(T_AUTOLOCK)
        m = self.mode
        if m == _M_UNLOCK_BACKOFF:
            self._end_backoff()  # a back-off throws the bolt a little: retry toward unlock at once
        elif m == _M_LOCKING or m == _M_LOCK_BACKOFF or m == _M_CAL_LOCK:
            if m == _M_CAL_LOCK:
                self._cal_fail(R_DOOR_SENSOR)  # (which pulls the bolt back)
            else:
                self._halt()
                self._log(LOG_ABORT, R_DOOR_SENSOR, self._who)
                if self._zone(self.pos) == _Z_UNLOCK:
                    self.mode = _M_UNLOCKED
                else:
                    self._retract()

    def _on_reader(self, code):
        """The card reader went down (code < 0) or came back (0). The lock itself works on
        regardless: button, auto-lock, manual turns and remote commands need no reader."""
        down = code != 0
        if down == self.reader_down:
            return
        self.reader_down = down
        if down:
            self._log(LOG_READER_DOWN, code, None)
        else:
            self._log(LOG_READER_UP, None, None)

    # ------------------------------------------------------------------ calibration
    def _on_calibrate(self, what):
        m = self.mode
        if what == "cancel":
            if self._calibrating():
                self._cal_fail(R_CANCELLED)
            else:
                self._log(LOG_REFUSED, R_NOT_CALIBRATING, None)
            return
        if what == "mark":
            if m == _M_MARK_LOCK or m == _M_MARK_UNLOCK:
                self._cal_mark_step()
            else:
                self._log(LOG_REFUSED, R_NOT_CALIBRATING, None)
            return
        if self._moving() or self._calibrating():
            self._log(LOG_REFUSED, R_BUSY, None)
            return
        if what == "auto" and self._door_maybe_open():  # (its lock sweep throws the bolt)
            self._log(LOG_REFUSED, R_DOOR_OPEN if self.door_open else R_DOOR_SENSOR, None)
            self._show(IND_DENIED)
            return
        self._cancel(T_AUTOLOCK)
        self._cal_prev = self.cal
        self._show(IND_CALIBRATE)
        if what == "auto":
            self.mode = _M_CAL_UNLOCK
            self._drive(TOWARD_UNLOCK)
            self._arm(T_MOTION, self.cfg["cal_ms"])
        else:
            self.mode = _M_MARK_LOCK
            self._arm(T_MOTION, self.cfg["manual_cal_ms"])

    def _cal_end_stop(self):
        self._halt_cal_sweep()
        if self.pos is None:
            self._cal_fail(R_NO_POSITION)
        elif self.mode == _M_CAL_UNLOCK:
            if not self.door_known:
                self._cal_fail(R_DOOR_SENSOR)  # the door sensor failed during the unlock sweep
                return
            self._cal_mark = self.pos
            self.mode = _M_CAL_LOCK
            self._drive(TOWARD_LOCK)
            self._arm(T_MOTION, self.cfg["cal_ms"])
        else:
            self._cal_done(self.pos, self._cal_mark)

    def _halt_cal_sweep(self):
        if self.motor:
            self._stop()
        self._cancel(T_MOTION)

    def _cal_mark_step(self):
        if self.pos is None:
            self._log(LOG_REFUSED, R_NO_POSITION, None)
            return
        if self.mode == _M_MARK_LOCK:
            self._cal_mark = self.pos
            self.mode = _M_MARK_UNLOCK
            self._show(IND_OK)
            self._arm(T_MOTION, self.cfg["manual_cal_ms"])  # the installer gets the time again
        else:
            self._cal_done(self._cal_mark, self.pos)

    def _cal_done(self, lock, unlock):
        if abs(unlock - lock) < self.cfg["min_span"]:
            self._cal_fail(R_SPAN)
            return
        self._cancel(T_MOTION)
        self.cal = (lock, unlock)
        self._emit((A_SAVE, "calibration", self.cal))
        self._log(LOG_CALIBRATED, self.cal, None)
        if self._jam:  # the knob went to both ends (by the motor or by hand): nothing is stuck
            self._jam = False
            self._log(LOG_JAM_CLEAR, None, None)
        self._settle()
        self._clear_alarm()
        self._show(IND_LOCKED if self.mode == _M_LOCKED else IND_UNLOCKED)
        self._relock_after_calibration()

    def _cal_fail(self, reason):
        self._halt_cal_sweep()
        self.cal = self._cal_prev
        self._log(LOG_CAL_FAIL, reason, None)
        self._settle()
        if self._jam and self.cal is not None:
            self.mode = _M_JAMMED  # a jam from before the calibration still stands
        self._show(IND_DENIED)
        if self._door_maybe_open() and self.cal is not None and self._zone(self.pos) != _Z_UNLOCK:
            self._retract()  # the door opened as the sweep threw the bolt: pull it back
            return
        self._relock_after_calibration()

    def _relock_after_calibration(self):
        # a calibration that leaves the bolt back must not leave the door unlocked for good
        if self.mode == _M_UNLOCKED:
            self._arm_relock("relock_ms", SRC_RELOCK)
