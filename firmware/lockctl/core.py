# LockCore: the sans-IO lock controller.
#
# Inputs are events with a caller-supplied monotonic time in ms; outputs are action tuples (see
# codes.py). Nothing in here touches hardware, clocks, asyncio or the network, so the same object runs
# on the board, in the simulator, in the benchmarks and under hypothesis.
#
#   core = LockCore(config, calibration, keys)
#   actions = core.boot(now_ms, position, door_open)     # never moves the bolt
#   actions = core.handle(now_ms, EV_DOOR, True)         # ... one call per event
#
# Invariants the tests check: no A_DRIVE is ever emitted while the door is open; every A_DRIVE is
# covered by an armed T_MOTION / T_BACKOFF deadline; a malformed event raises LockError before
# anything changes.
from micropython import const

from lockctl import config as _config
from lockctl.timers import Timers
from lockctl.codes import (
    UNCALIBRATED, LOCKED, UNLOCKING, UNLOCKED, LOCKING, JAMMED, CALIBRATING, STATE_NAMES,
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_REACHED, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE,
    EV_CONFIG, EV_CALIBRATE, EV_READER,
    A_DRIVE, A_STOP, A_ARM, A_CANCEL, A_LOG, A_INDICATE, A_SAVE, TOWARD_UNLOCK, TOWARD_LOCK,
    T_AUTOLOCK, T_MOTION, T_BACKOFF, T_HELD,
    IND_OK, IND_DENIED, IND_ALARM, IND_CLEAR, IND_LOCKED, IND_UNLOCKED, IND_CALIBRATE,
    LOG_BOOT, LOG_LOCK, LOG_UNLOCK, LOG_MANUAL_LOCK, LOG_MANUAL_UNLOCK, LOG_REFUSED, LOG_DENIED,
    LOG_DOOR_OPEN, LOG_DOOR_CLOSE, LOG_FORCED_OPEN, LOG_HELD_OPEN, LOG_RETRY, LOG_JAM, LOG_JAM_CLEAR,
    LOG_ABORT, LOG_CALIBRATED, LOG_CAL_FAIL, LOG_CONFIG, LOG_READER_DOWN, LOG_READER_UP,
)

# where the bolt is, from the position sensor and the calibration
_Z_MID = const(0)
_Z_LOCK = const(1)
_Z_UNLOCK = const(2)

# what the motor logic is doing
_PH_IDLE = const(0)
_PH_DRIVE = const(1)  # driving toward the target end
_PH_BACKOFF = const(2)  # reversing briefly after a failed attempt
_PH_CAL_UNLOCK = const(3)  # auto calibration: sweeping to the unlock end stop
_PH_CAL_LOCK = const(4)  # auto calibration: sweeping to the lock end stop
_PH_MAN_LOCK = const(5)  # manual calibration: waiting for "mark" at the locked position
_PH_MAN_UNLOCK = const(6)  # manual calibration: waiting for "mark" at the unlocked position


_NO_ACTIONS = ()  # shared result of an event that changes nothing


class LockError(ValueError):
    """A malformed event or call; raised before the core changes anything."""


class LockCore:
    def __init__(self, config=None, calibration=None, keys=None):
        self.cfg = _config.merged(config, {})
        self.cal = None
        if calibration is not None:
            self.cal = self._check_cal(calibration)
        self.keys = keys
        self.state = UNCALIBRATED
        self.door_open = False
        self.pos = None
        self.motor = 0  # direction last commanded: 0 stopped, +1 toward unlock, -1 toward lock
        self.alarm = False
        self.reader_down = False
        self.now = 0
        self._booted = False
        self._out = None
        self._timers = Timers()  # the core's own copy: a timer event that does not match is stale
        self._phase = _PH_IDLE
        self._rest = _Z_MID  # zone the bolt was in when it last came to rest
        self._dir = 0  # target of the current move
        self._src = None
        self._who = None
        self._attempt = 0
        self._was_jammed = False
        self._auto_src = None
        self._cal_prev = None
        self._cal_mark = None
        self._edges_key = None  # position_edges() cache: (calibration, zone_pct) it was made for
        self._edges = ()

    # ------------------------------------------------------------------ public API
    def boot(self, now, position, door_open):
        """Start from the sensors. Never drives the motor and never arms an auto-lock."""
        if self._booted:
            raise LockError("boot() called twice")
        if type(now) is not int or now < 0:
            raise LockError("time must be a non-negative int")
        self._check_pos(position)
        self._booted = True
        self.now = now
        self.pos = position
        self.door_open = bool(door_open)
        self._out = None
        self._settle()
        self._log(LOG_BOOT, STATE_NAMES[self.state], None)
        if self.door_open and self.cfg["held_open_ms"]:
            self._arm(T_HELD, self.cfg["held_open_ms"])
        out = self._out
        self._out = None
        return out if out is not None else _NO_ACTIONS

    def handle(self, now, kind, arg=None):
        """Feed one event; returns the actions to carry out, in order (a shared empty tuple when the
        event changes nothing)."""
        if not self._booted:
            raise LockError("boot() first")
        if type(now) is not int or now < self.now:
            raise LockError("time must be an int that never goes backwards")
        self._check_event(kind, arg)
        self.now = now
        self._out = None
        if kind == EV_POSITION:
            self._on_position(arg)
        elif kind == EV_TIMER:
            self._on_timer(arg)
        elif kind == EV_DOOR:
            if arg:
                self._on_door_open()
            else:
                self._on_door_close()
        elif kind == EV_BUTTON:
            self._on_button()
        elif kind == EV_STALL or kind == EV_REACHED:
            self._on_end(kind == EV_STALL)
        elif kind == EV_CREDENTIAL:
            self._on_credential(arg[0], arg[1], arg[2] if len(arg) == 3 else None)
        elif kind == EV_REMOTE:
            self._request(TOWARD_LOCK if arg[0] == "lock" else TOWARD_UNLOCK, "remote", arg[1])
        elif kind == EV_CONFIG:
            self._on_config(arg)
        elif kind == EV_READER:
            self._on_reader(arg)
        else:  # EV_CALIBRATE
            self._on_calibrate(arg)
        out = self._out
        self._out = None
        return out if out is not None else _NO_ACTIONS  # most events change nothing: no allocation

    def next_deadline(self):
        return self._timers.next_deadline()

    def deadline(self, tid):
        """Deadline (ms) of the core's timer tid, or None when it is not armed."""
        return self._timers.deadline(tid)

    def rebase(self, delta):
        """The caller moves its clock back by delta ms (to keep times in MicroPython's small-int
        range on a board that runs for months): shift the core's own time and deadlines with it.
        Records already emitted keep their times; the caller adds its epoch when it stores them."""
        if type(delta) is not int or delta < 0:
            raise LockError("rebase delta must be a non-negative int")
        # the core's own time may go below zero (no event for longer than delta): it only has to
        # never go backwards, and a deadline that moves below the caller's time is simply due
        self.now -= delta
        self._timers.rebase(delta)

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
        tol = self._tol()
        lo, hi = cal
        m = (lo + hi) // 2
        edges = []
        for e in (lo - tol, lo + tol + 1, hi - tol, hi + tol + 1, m, m + 1):
            if e not in edges and self._reading(e - 1) != self._reading(e):
                edges.append(e)
        edges.sort()
        self._edges_key = key
        self._edges = tuple(edges)
        return self._edges

    def _reading(self, pos):
        return self._zone(pos), self._nearer_unlock(pos)

    @property
    def state_name(self):
        return STATE_NAMES[self.state]

    # ------------------------------------------------------------------ validation
    def _check_cal(self, cal):
        try:
            lock, unlock = cal
        except (TypeError, ValueError):
            raise LockError("calibration must be (lock_pos, unlock_pos)")
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
        if kind == EV_POSITION:
            if type(arg) is not int:
                raise LockError("position must be an int")
        elif kind == EV_CREDENTIAL:
            if not isinstance(arg, tuple) or not (len(arg) == 2 or (len(arg) == 3 and type(arg[2]) is str)):
                raise LockError("credential must be (kind, ident) or (kind, ident, reason)")
        elif kind == EV_REMOTE:
            if not isinstance(arg, tuple) or len(arg) != 2 or arg[0] not in ("lock", "unlock"):
                raise LockError("remote must be ('lock' | 'unlock', user)")
        elif kind == EV_CONFIG:
            changes = _config.check(arg)  # raises ValueError (LockError's base) naming the bad key
            span = changes.get("min_span")
            if span is not None and self.cal is not None and abs(self.cal[1] - self.cal[0]) < span:
                raise LockError("min_span above the current calibration span")
        elif kind == EV_CALIBRATE:
            if arg not in ("auto", "manual", "mark", "cancel"):
                raise LockError("calibrate takes auto, manual, mark or cancel")
        elif kind == EV_TIMER:
            if type(arg) is not int:
                raise LockError("timer id must be an int")
        elif kind == EV_READER:
            if type(arg) is not int or arg > 0:
                raise LockError("reader status must be 0 (up) or a negative error code")
        elif type(kind) is not int or kind < EV_DOOR or kind > EV_READER:
            raise LockError("unknown event kind %r" % (kind,))

    # ------------------------------------------------------------------ small helpers
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
        t = self.now + delay
        self._timers.arm(tid, t)
        self._emit((A_ARM, tid, t))

    def _cancel(self, tid):
        if self._timers.cancel(tid):
            self._emit((A_CANCEL, tid))

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

    def _settle(self):
        """State from the sensors alone (boot, after calibration)."""
        if self.cal is None:
            self.state = UNCALIBRATED
            self._rest = _Z_MID
            return
        z = self._zone(self.pos)
        self._rest = z
        # between the ends the bolt does not secure the door: report it as unlocked
        self.state = LOCKED if z == _Z_LOCK else UNLOCKED

    def _arm_relock(self, delay_key, src):
        if self.cfg["auto_lock"] and not self.door_open:
            self._auto_src = src
            self._arm(T_AUTOLOCK, self.cfg[delay_key])

    def _set_alarm(self):
        if not self.alarm:
            self.alarm = True
            self._show(IND_ALARM)

    def _clear_alarm(self):
        if self.alarm:
            self.alarm = False
            self._show(IND_CLEAR)

    # ------------------------------------------------------------------ motion
    def _request(self, direction, src, who):
        """Someone asked to lock or unlock; everything that may refuse it is checked here."""
        reason = None
        if self.state == UNCALIBRATED:
            reason = "uncalibrated"
        elif self.state == CALIBRATING:
            reason = "calibrating"
        elif self.door_open and not (direction == TOWARD_UNLOCK and self.state == UNLOCKED):
            reason = "door-open"
        if reason is not None:
            self._log(LOG_REFUSED, reason, who)
            self._show(IND_DENIED)
            return
        moving = self._phase == _PH_DRIVE or self._phase == _PH_BACKOFF
        if moving:
            if direction == self._dir:
                return  # already on its way there
            self._halt()
            self._log(LOG_ABORT, "reversed", self._who)
        self._cancel(T_AUTOLOCK)
        target = _Z_UNLOCK if direction == TOWARD_UNLOCK else _Z_LOCK
        self._dir = direction
        self._src = src
        self._who = who
        if self.state == JAMMED:
            self._was_jammed = True
        if self.door_open or self._zone(self.pos) == target:
            self._arrived()  # already there: record the operation, nothing moves
            return
        self._attempt = 0
        self.state = UNLOCKING if direction == TOWARD_UNLOCK else LOCKING
        self._start_drive()

    def _start_drive(self):
        self._phase = _PH_DRIVE
        self._drive(self._dir)
        self._arm(T_MOTION, self.cfg["jam_ms"])

    def _halt(self):
        """Stop the motor and forget the move's timers; the phase becomes idle."""
        if self.motor:
            self._stop()
        self._cancel(T_MOTION)
        self._cancel(T_BACKOFF)
        self._phase = _PH_IDLE

    def _arrived(self):
        self._halt()
        if self._was_jammed:
            self._was_jammed = False
            self._log(LOG_JAM_CLEAR, None, None)
            self._clear_alarm()
        if self._dir == TOWARD_UNLOCK:
            self.state = UNLOCKED
            self._rest = _Z_UNLOCK
            self._log(LOG_UNLOCK, self._src, self._who)
            self._show(IND_UNLOCKED)
            self._arm_relock("relock_ms", "relock")
        else:
            self.state = LOCKED
            self._rest = _Z_LOCK
            self._log(LOG_LOCK, self._src, self._who)
            self._show(IND_LOCKED)

    def _failed(self, why):
        """The current attempt did not reach its end: stop now, back off and retry once, then jam."""
        self._stop()
        self._cancel(T_MOTION)
        if self._attempt == 0:
            self._attempt = 1
            self._log(LOG_RETRY, why, self._who)
            if self.cfg["backoff_ms"]:
                self._phase = _PH_BACKOFF
                self._drive(-self._dir)
                self._arm(T_BACKOFF, self.cfg["backoff_ms"])
            else:
                self._start_drive()
            return
        self._phase = _PH_IDLE
        self.state = JAMMED
        self._was_jammed = True
        self._rest = self._zone(self.pos)
        self._log(LOG_JAM, "unlock" if self._dir == TOWARD_UNLOCK else "lock", self._who)
        self._set_alarm()

    def _end_backoff(self):
        self._halt()
        self._start_drive()

    # ------------------------------------------------------------------ event handlers
    def _on_position(self, pos):
        self.pos = pos
        ph = self._phase
        if ph == _PH_DRIVE:
            if self._zone(pos) == (_Z_UNLOCK if self._dir == TOWARD_UNLOCK else _Z_LOCK):
                self._arrived()
            return
        if ph != _PH_IDLE or self.cal is None:
            return  # backing off or calibrating: positions are only recorded
        z = self._zone(pos)
        if z == _Z_MID:
            # a part-way turn: once the knob is nearer the unlock end than the lock end the bolt no
            # longer secures the door, so it counts as unlocked (and auto-lock follows)
            if self.state == LOCKED and self._nearer_unlock(pos):
                self._rest = z
                self._manual(UNLOCKED, LOG_MANUAL_UNLOCK, IND_UNLOCKED)
                self._arm_relock("relock_ms", "relock")
            return
        if z == self._rest:
            return
        self._rest = z
        # the knob reached an end while the motor was idle: someone turned it by hand
        if z == _Z_LOCK and self.state != LOCKED:
            self._manual(LOCKED, LOG_MANUAL_LOCK, IND_LOCKED)
            self._cancel(T_AUTOLOCK)
        elif z == _Z_UNLOCK and self.state != UNLOCKED:
            self._manual(UNLOCKED, LOG_MANUAL_UNLOCK, IND_UNLOCKED)
            self._arm_relock("relock_ms", "relock")

    def _manual(self, state, code, pattern):
        if self.state == JAMMED or self._was_jammed:
            self._was_jammed = False
            self._log(LOG_JAM_CLEAR, None, None)
            self._clear_alarm()
        self.state = state
        self._log(code, None, None)
        self._show(pattern)

    def _on_end(self, stalled):
        """The motor driver reports stall current (or a target-reached signal)."""
        ph = self._phase
        if ph == _PH_DRIVE:
            if not stalled or self._zone(self.pos) == (_Z_UNLOCK if self._dir == TOWARD_UNLOCK else _Z_LOCK):
                self._arrived()
            else:
                self._failed("stall")
        elif ph == _PH_BACKOFF:
            self._end_backoff()
        elif ph == _PH_CAL_UNLOCK or ph == _PH_CAL_LOCK:
            self._cal_end_stop()

    def _on_timer(self, tid):
        due = self._timers.deadline(tid)
        if due is None or due > self.now:
            return  # cancelled or early: a stale timer changes nothing
        self._timers.cancel(tid)
        if tid == T_AUTOLOCK:
            if not self.door_open and self._phase == _PH_IDLE and (self.state == UNLOCKED or self.state == JAMMED):
                self._request(TOWARD_LOCK, self._auto_src, None)
        elif tid == T_MOTION:
            if self._phase == _PH_DRIVE:
                self._failed("timeout")
            elif self._phase == _PH_CAL_UNLOCK or self._phase == _PH_CAL_LOCK:
                self._cal_fail("no-end-stop")
        elif tid == T_BACKOFF:
            if self._phase == _PH_BACKOFF:
                self._end_backoff()
        elif tid == T_HELD:
            if self.door_open:
                self._log(LOG_HELD_OPEN, None, None)
                self._set_alarm()

    def _on_door_open(self):
        if self.door_open:
            return
        self.door_open = True
        ph = self._phase
        moving = ph == _PH_DRIVE or ph == _PH_BACKOFF
        # never drive with the door open: stop before anything else
        if moving:
            self._halt()
        elif ph == _PH_CAL_UNLOCK or ph == _PH_CAL_LOCK:
            self._halt_cal_sweep()
        self._log(LOG_DOOR_OPEN, None, None)
        self._cancel(T_AUTOLOCK)
        if moving:
            if self._dir == TOWARD_UNLOCK:
                self._arrived()  # the door opened, so the bolt is clear: the unlock did its job
            else:
                self.state = UNLOCKED
                self._rest = self._zone(self.pos)
                self._log(LOG_ABORT, "door-open", self._who)
        elif ph == _PH_CAL_UNLOCK or ph == _PH_CAL_LOCK:
            self._cal_fail("door-open")
        elif self.state == LOCKED or (self.state == JAMMED and self._rest == _Z_LOCK):
            self._log(LOG_FORCED_OPEN, None, None)
            self._set_alarm()
        if self.cfg["held_open_ms"]:
            self._arm(T_HELD, self.cfg["held_open_ms"])

    def _on_door_close(self):
        if not self.door_open:
            return
        self.door_open = False
        self._log(LOG_DOOR_CLOSE, None, None)
        self._cancel(T_HELD)
        if self.state != JAMMED:
            self._clear_alarm()  # held-open / forced-open alarms end when the door shuts
        if self._phase == _PH_IDLE and (self.state == UNLOCKED or self.state == JAMMED):
            self._arm_relock("auto_lock_ms", "auto")

    def _on_button(self):
        if self._phase == _PH_MAN_LOCK or self._phase == _PH_MAN_UNLOCK:
            self._cal_mark_step()  # during manual calibration the button confirms a position
            return
        if not self.cfg["button_unlock"]:
            self._log(LOG_REFUSED, "button-off", None)
            self._show(IND_DENIED)
            return
        # the button only unlocks (people press it to leave): when already unlocked the press is
        # recorded and the relock grace starts again; it never throws the bolt in someone's face
        self._request(TOWARD_UNLOCK, "button", None)

    def _on_credential(self, kind, ident, refused):
        if refused is not None:
            user, reason = None, refused  # the reader already said no (e.g. a phone's bad answer)
        elif self.keys is None:
            user, reason = None, "no-keys"
        else:
            user, reason = self.keys.check(kind, ident, self.now)
        if user is None:
            self._log(LOG_DENIED, reason, "%s:%s" % (kind, ident))
            self._show(IND_DENIED)
            return
        self._show(IND_OK)
        self._request(TOWARD_UNLOCK, kind, user)

    def _on_config(self, changes):
        changes = _config.check(changes)
        before = self.cfg["auto_lock"]
        self.cfg.update(changes)
        for k in sorted(changes):
            v = changes[k]
            self._log(LOG_CONFIG, "%s=%s" % (k, ("on" if v else "off") if type(v) is bool else v), None)
        self._emit((A_SAVE, "config", dict(self.cfg)))
        if before and not self.cfg["auto_lock"]:
            self._cancel(T_AUTOLOCK)
        elif not before and self.cfg["auto_lock"] and self._phase == _PH_IDLE and self.state == UNLOCKED:
            self._arm_relock("relock_ms", "relock")

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
        ph = self._phase
        calibrating = ph >= _PH_CAL_UNLOCK
        if what == "cancel":
            if calibrating:
                self._cal_fail("cancelled")
            else:
                self._log(LOG_REFUSED, "not-calibrating", None)
            return
        if what == "mark":
            if ph == _PH_MAN_LOCK or ph == _PH_MAN_UNLOCK:
                self._cal_mark_step()
            else:
                self._log(LOG_REFUSED, "not-calibrating", None)
            return
        if ph != _PH_IDLE:
            self._log(LOG_REFUSED, "busy", None)
            return
        if what == "auto" and self.door_open:
            self._log(LOG_REFUSED, "door-open", None)
            self._show(IND_DENIED)
            return
        self._cancel(T_AUTOLOCK)
        self._cal_prev = self.cal
        self._was_jammed = False
        self.state = CALIBRATING
        self._show(IND_CALIBRATE)
        if what == "auto":
            self._phase = _PH_CAL_UNLOCK
            self._drive(TOWARD_UNLOCK)
            self._arm(T_MOTION, self.cfg["cal_ms"])
        else:
            self._phase = _PH_MAN_LOCK

    def _cal_end_stop(self):
        self._halt_cal_sweep()
        if self.pos is None:
            self._cal_fail("no-position")
        elif self._phase == _PH_CAL_UNLOCK:
            self._cal_mark = self.pos
            self._phase = _PH_CAL_LOCK
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
            self._log(LOG_REFUSED, "no-position", None)
            return
        if self._phase == _PH_MAN_LOCK:
            self._cal_mark = self.pos
            self._phase = _PH_MAN_UNLOCK
            self._show(IND_OK)
        else:
            self._cal_done(self._cal_mark, self.pos)

    def _cal_done(self, lock, unlock):
        if abs(unlock - lock) < self.cfg["min_span"]:
            self._cal_fail("span")
            return
        self._phase = _PH_IDLE
        self.cal = (lock, unlock)
        self._emit((A_SAVE, "calibration", self.cal))
        self._log(LOG_CALIBRATED, "%d,%d" % (lock, unlock), None)
        self._settle()
        self._clear_alarm()
        self._show(IND_LOCKED if self.state == LOCKED else IND_UNLOCKED)

    def _cal_fail(self, reason):
        self._halt_cal_sweep()
        self._phase = _PH_IDLE
        self.cal = self._cal_prev
        self._log(LOG_CAL_FAIL, reason, None)
        self._settle()
        self._show(IND_DENIED)
