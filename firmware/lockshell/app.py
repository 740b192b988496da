# The firmware shell: input ports -> LockCore -> action sinks, and the asyncio loop that polls it.
#
# App holds no clock: poll(now_ms) is called by run() on the board (time.ticks_ms) and by the
# simulator (virtual time), so the board and the virtual board run exactly this code.
#
# Inputs are ports (lockshell/ports.py): door, button, position, the motor's stall watch and the card
# reader come from the board; later features add theirs with add_port(). The core's actions go to
# sinks: the motor (drive; brake, then coast), the log (App.log ring + every callable in App.sinks),
# the store (A_SAVE) and the signals (LED / buzzer policy, lockshell/signals.py).
#
# A fault (any exception other than LockError from bad outside input) never leaves the lock half
# updated: the motor is braked, a FAULT record is logged, and the core is rebuilt from the store and
# the sensors exactly as at boot (nothing moves); the loop goes on serving the button and the knob.
import gc

from micropython import const

from drivers.ticks import ticks_diff, TICKS_MAX
from lockctl import config as _config
from lockctl.core import LockCore, LockError
from lockctl.codes import (A_DRIVE, A_STOP, A_LOG, A_INDICATE, A_SAVE, EV_TIMER, EV_DOOR, EV_BUTTON, EV_CLOCK,
                           JAMMED, IND_CLEAR, LOG_BOOT, LOG_FAULT, LOG_CLOCK_SET, LOG_BUNDLE, LOG_BUNDLE_REFUSED,
                           LOG_STORE_FAULT, F_CORE, F_ACTION, F_POLL, F_STORE, R_CORRUPT, R_NO_MEMORY)
from lockshell.ports import DoorPort, ButtonPort, PositionPort, StallPort, ReaderPort
from lockshell.signals import Signals

# run() moves the core's clock back by this much whenever it gets there (about 6.2 days), so every
# time on the board stays a small int (no heap allocation per time computation, however long the
# uptime); the drivers' tick goes on without a jump and log records keep absolute times.
REBASE_MS = const(0x20000000)

# A stop brakes the motor (shorted windings) for this long, then lets it coast: a braked motor
# makes the thumb-turn stiff, and people must be able to turn it by hand.
BRAKE_MS = const(150)

# run(): poll every PERIOD_MS while something moves or settles; otherwise sleep until the next
# deadline, but never longer than IDLE_MS, so the door, the button and the knob are still sampled
# often enough (a press or a door edge is seen within IDLE_MS, then debounced at PERIOD_MS).
PERIOD_MS = const(10)
IDLE_MS = const(50)

# the same fault (code, event kind) again within this long is counted but not logged again
FAULT_QUIET_MS = const(10000)
# a fault that stops a move short of the lock end relocks after relock_ms, unless another fault came
# less than this long before (a fault that keeps coming back must not keep moving the bolt)
FAULT_RETRY_MS = const(60000)


class App:
    """board: motor (HBridgeMotor), position (.read()), door (Debounced, True = open),
    button (Debounced, True = pressed), indicator (Indicator or None), reader (NfcReader or None).
    store: load() -> (config or None, calibration or None); save(what, data).
    keys: the key store (or any object with check / consume / key_for), or None.
    flash: lockshell.flash.Storage (the key store, event log and tally on flash): its key store
    is the keys, every record goes to its event log, the boot and wrong-PIN counts live in it.
    clock: wall clock (read() -> Unix s or None; set(unix)), or None: the clock stays unset."""

    def __init__(self, board, store, keys=None, log_size=200, flash=None, clock=None):
        self.board = board
        self.store = store
        self.flash = flash
        self.clock = clock
        if flash is not None and keys is None:
            keys = flash.keys
        self.keys = keys
        self._pin_fails = flash.pin_fails() if flash is not None else 0
        self.core = None
        self.log = []  # the last log_size records
        self.log_size = log_size
        self.sinks = []  # callables(record), called for every record in order
        self.faults = 0  # faults caught in all
        self.fault_records = 0  # FAULT records logged (repeats within FAULT_QUIET_MS are not)
        self.last_fault = None  # the exception of the last one (for the loop to report)
        self.sink_errors = 0  # record sinks that raised (the record still went to the others)
        self.polls = 0
        self.signals = Signals(board.indicator)
        ports = [DoorPort(board.door), ButtonPort(board.button), PositionPort(board.position),
                 StallPort(board.motor)]
        reader = getattr(board, "reader", None)
        if reader is not None:
            ports.append(ReaderPort(reader))
        for extra in ("keypad", "battery"):  # ports the board composed (lockshell/keypad.py, battery.py)
            p = getattr(board, extra, None)
            if p is not None:
                ports.append(p)
        self.ports = ports
        self._start = 0  # poll()'s time at start(): records' ms since boot count from it
        if flash is not None and flash.log is not None:
            from lockshell.flash import LogSink
            self.sinks.append(LogSink(self, flash.log))
        self._coast_at = None  # when to release the brake
        self._epoch = 0  # ms the core's clock was moved back in all: added to log record times
        self._off = 0  # drivers' tick = now + _off (mod 2**30): unchanged across a rebase
        self._now = 0  # the last poll's time and tick (to convert the ports' tick deadlines)
        self._tick = 0
        self._fault_key = None  # (code, kind) of the last FAULT logged, and when
        self._fault_t = 0
        self._prev_fault = None  # when the fault before the current one came
        self._in_fault = False  # fault() is rebuilding the core (a fault meanwhile is only counted)
        self._bundle = None  # the key store Installer of a bundle being fed
        self._bundle_ending = False  # bundle_end() came: poll() finishes and commits it
        self.bundle_result = None  # (version, None) or (None, reason) of the last bundle

    def add_port(self, port):
        """Another input source (keypad, network link): polled after the board's own inputs."""
        self.ports.append(port)

    # ------------------------------------------------------------------ boot and clock
    def start(self, now_ms):
        """Boot the core from the store and the sensors. Nothing here drives the motor."""
        self._now = now_ms
        self._tick = self._ticks(now_ms)
        self._start = now_ms
        self._boot_core(now_ms)
        fl = self.flash
        if fl is not None:
            for f in fl.faults:  # what could not be read on flash: logged, never reformatted
                self._record((now_ms, LOG_STORE_FAULT, f, None))
            if fl.faults:  # and shown: the first area's number in long LED flashes
                self.signals.error_code(fl.faults[0][0], self._ticks(now_ms))

    def wall_at(self, t):
        """A record's time t as wall-clock Unix seconds, or None while the clock is unset."""
        core = self.core
        return core.wall_time(t - self._epoch) if core is not None else None

    def since_boot(self, t):
        """A record's time as ms since start() (the monotonic time the event log keeps while the
        wall clock is unset)."""
        return t - self._start

    def set_clock(self, now_ms, unix):
        """The host (or the network) sets the wall clock: the RTC first, then the core (which logs
        CLOCK_SET and from then on checks schedules against it)."""
        if self.clock is not None:
            self.clock.set(unix)
        self.feed(now_ms, EV_CLOCK, unix)

    def bundle_begin(self, now_ms, header):
        """Start installing a key bundle: its 104-byte header is checked (door, signature, version,
        room) before anything is written. -> True, or False when it is refused (BUNDLE_REFUSED is
        logged). Then bundle_feed() each piece of the body as it arrives (the next one once
        bundle_busy() is False) and bundle_end(). The lock goes on meanwhile: a piece of 4 KB or
        less writes at most one flash block, and a delta's merge with the installed records runs in
        poll(), one block a poll (an erase and a program: tens of ms on the board), so button
        egress, the door and auto-lock are served all through a 100,000-credential install."""
        from lockctl.bundle import BundleError
        self._bundle = None
        self._bundle_ending = False
        try:
            self._bundle = self.keys.begin(header)
        except BundleError as e:
            return self._bundle_refused(now_ms, e.reason)
        except MemoryError as e:  # no room for the installer's buffers now: nothing changed
            self.last_fault = e
            return self._bundle_refused(now_ms, R_NO_MEMORY)
        except Exception as e:  # a flash that cannot be written: the installed version stays
            self.last_fault = e
            return self._bundle_refused(now_ms, R_CORRUPT)
        return True

    def bundle_busy(self):
        """True while a bundle being installed has work the polls do (wait before feeding more)."""
        b = self._bundle
        return b is not None and (b.busy() or self._bundle_ending)

    def bundle_feed(self, now_ms, chunk):
        """One piece of the body. -> True, or False when the bundle is refused (logged; the rest of
        it is ignored, the installed version stays)."""
        return self._bundle_do(now_ms, 1, chunk)

    def bundle_end(self, now_ms):
        """The whole body was fed. -> True while the install goes on in poll() (BUNDLE is logged
        when it commits), False if it was refused (BUNDLE_REFUSED logged)."""
        if not self._bundle_do(now_ms, 2, None):
            return False
        self._bundle_ending = True
        return True

    def bundle_step(self, now_ms):
        """One step of the install (poll() calls it). -> True while work is left."""
        b = self._bundle
        if b is None:
            return False
        if b.busy():
            if not self._bundle_do(now_ms, 3, None):
                return False
            if b.busy():
                return True
        if self._bundle_ending:
            self._bundle_do(now_ms, 4, None)
        return False

    def _bundle_do(self, now_ms, what, chunk):
        from lockctl.bundle import BundleError
        b = self._bundle
        if b is None:
            return False
        try:
            if what == 1:
                b.feed(chunk)
            elif what == 2:
                b.end()
            elif what == 3:
                b.step()
            else:
                version = b.finish()
                self._bundle = None
                self._bundle_ending = False
                self.bundle_result = (version, None)
                self._record((now_ms, LOG_BUNDLE, (version, len(self.keys)), None))
        except BundleError as e:
            return self._bundle_refused(now_ms, e.reason)
        except Exception as e:  # a flash write failed: the installed version stays
            self.last_fault = e
            return self._bundle_refused(now_ms, R_CORRUPT)
        return True

    def _bundle_refused(self, now_ms, reason):
        self._bundle = None
        self._bundle_ending = False
        self.bundle_result = (None, reason)
        self._record((now_ms, LOG_BUNDLE_REFUSED, reason, None))
        return False

    def install_bundle(self, now_ms, chunks):
        """A whole bundle from chunks (an iterable of byte strings: any pieces, the header may be
        split too) in one call, all its steps run here. -> (version, None) or (None, reason).
        (The simulator uses it between two polls; a board feeds the pieces as they arrive.)"""
        from lockctl.bundle import HEADER
        head = b""
        it = iter(chunks)
        for c in it:
            head += bytes(c)
            if len(head) >= HEADER:
                break
        if len(head) < HEADER:
            self._bundle_refused(now_ms, R_CORRUPT)
            return self.bundle_result
        if not self.bundle_begin(now_ms, head[:HEADER]):
            return self.bundle_result
        if len(head) > HEADER and not self._feed_all(now_ms, head[HEADER:]):
            return self.bundle_result
        for c in it:  # piece by piece as the stream yields them: never the whole bundle in RAM
            if not self._feed_all(now_ms, c):
                return self.bundle_result
        if self.bundle_end(now_ms):
            while self.bundle_step(now_ms):
                pass
        return self.bundle_result

    def _feed_all(self, now_ms, chunk):
        """Feed one piece and run the steps it queued. -> False if the bundle was refused."""
        if not self.bundle_feed(now_ms, chunk):
            return False
        while self.bundle_step(now_ms):
            pass
        return True

    def _load(self):
        """(config, calibration, bad) from the store: each stored setting that no longer validates
        is dropped on its own (its default applies), a calibration that does not is dropped
        (uncalibrated: the core refuses to drive); bad says something was."""
        bad = False
        try:
            config, cal = self.store.load()
        except Exception:
            return None, None, True  # a store that cannot be read
        if getattr(self.store, "error", None):
            bad = True  # (the store read something it could not use)
        cfg = {}
        if isinstance(config, dict):
            for k in config:
                try:
                    _config.check({k: config[k]})
                    cfg[k] = config[k]
                except LockError:
                    bad = True
        elif config is not None:
            bad = True
        return cfg, cal, bad

    def _boot_core(self, now_ms, log_boot=True, resume=None):
        old = self.core  # (a rebuild: the core it replaces)
        cfg, cal, bad = self._load()
        try:
            core = LockCore(cfg, cal, self.keys, self._pin_fails)
        except LockError:
            bad = True
            core = LockCore(cfg, None, self.keys, self._pin_fails)
        if bad and log_boot:
            self._record((now_ms, LOG_FAULT, (F_STORE, 0), None))
        self.core = core
        b = self.board
        try:
            pos = b.position.read()
        except Exception:
            pos = None  # no reading: the core counts the bolt as between the ends
        for p in self.ports:
            if type(p) is PositionPort:
                p.last = pos
        wall = None
        if self.clock is not None:
            try:
                wall = self.clock.read()
            except Exception:
                wall = None  # an RTC that cannot be read: the clock is unset
        if wall is None and old is not None:
            try:
                wall = old.wall_time(now_ms)  # a rebuilt core keeps the clock the old one had
            except Exception:
                wall = None
        fl = self.flash
        actions = core.boot(now_ms, pos, b.door.value is True, resume, fl.boots if fl is not None else 0, wall)
        if not log_boot:
            actions = [a for a in actions if not (a[0] == A_LOG and a[1][1] == LOG_BOOT)]
        self._apply(actions, now_ms)

    def rebase(self, delta):
        """Move the clock that poll() is given back by delta ms (run() does it every REBASE_MS)."""
        self.core.rebase(delta)
        if self._coast_at is not None:
            self._coast_at -= delta
        self._fault_t -= delta
        if self._prev_fault is not None:
            self._prev_fault -= delta
        self._epoch += delta
        self._off = (self._off + delta) & TICKS_MAX
        self._now -= delta

    def _ticks(self, now_ms):
        """The drivers' and the reader's time: continuous modulo 2**30 across rebases (they
        compare times modulo 2**30, so before any rebase it is simply now_ms)."""
        off = self._off
        if not off:
            return now_ms
        if now_ms > TICKS_MAX - off:
            return now_ms + (off - TICKS_MAX - 1)  # the sum never leaves the small ints
        return now_ms + off

    def _at(self, tick):
        """A port's tick deadline on poll()'s clock."""
        return self._now + ticks_diff(tick, self._tick)

    # ------------------------------------------------------------------ the loop's work
    def poll(self, now_ms):
        """Read every input once, feed the core, fire its due timers, step the outputs. Ports go in
        order: the door first (it can stop a move). A port that raises is a fault (F_POLL)."""
        t = self._ticks(now_ms)
        self._now = now_ms
        self._tick = t
        self.polls += 1
        for p in self.ports:
            self._poll_port(p, now_ms, t)
        d = self.core.next_deadline()
        if d is not None and d <= now_ms:
            self.feed(now_ms, EV_TIMER, None)
            d = self.core.next_deadline()
            if d is not None and d <= now_ms:  # armed for "now" by what just fired (auto_lock_ms=0)
                self.feed(now_ms, EV_TIMER, None)
        if self._bundle is not None:
            self.bundle_step(now_ms)  # (at most one flash block a poll)
        self.poll_outputs(now_ms)

    def _poll_port(self, p, now_ms, t):
        try:
            p.poll(self, now_ms, t)
        except Exception as e:
            self.fault(now_ms, F_POLL, p.kind, e)
            lost = getattr(p, "lost", None)  # a port that knows what its input's loss means
            if lost is not None:
                try:
                    lost(self, now_ms)
                except Exception:
                    pass

    def poll_switches(self, now_ms):
        """Sample only the door and the button (a runner that knows only a contact bounced, and
        nothing else is due, may call just this)."""
        t = self._ticks(now_ms)
        self._now = now_ms
        self._tick = t
        for p in self.ports:
            if p.kind == EV_DOOR or p.kind == EV_BUTTON:
                self._poll_port(p, now_ms, t)

    def poll_outputs(self, now_ms):
        """The outputs' part of poll(): release the brake when its time is up, step the LED and
        buzzer. Reads no input and feeds the core nothing (a runner that knows no input can have
        changed may call just this at next_output_deadline())."""
        if self._coast_at is not None and now_ms >= self._coast_at:
            self._coast_at = None
            if not self.board.motor.running:
                self.board.motor.coast()
        self.signals.poll(self._ticks(now_ms))

    def feed(self, now_ms, kind, arg):
        """Feed one event to the core and carry out its actions. Bad input raises LockError (a
        ValueError) and changes nothing; any other failure is a fault (see fault())."""
        try:
            actions = self.core.handle(now_ms, kind, arg)
        except LockError:
            raise
        except Exception as e:
            self.fault(now_ms, F_CORE, kind, e)
            return
        try:
            self._apply(actions, now_ms)
        except Exception as e:
            self.fault(now_ms, F_ACTION, kind, e)

    submit = feed  # an event from outside the board's own ports (installer, network, simulator)

    def fault(self, now_ms, code, kind, exc):
        """Fail secure: brake a running motor (it coasts BRAKE_MS later, so the knob turns by hand),
        log FAULT (code, kind), rebuild the core from the store and the sensors as at boot (nothing
        moves; an alarm or a jam of the old core stands; a first fault that stopped a move short of
        the lock end relocks after relock_ms), count it. The same fault again within FAULT_QUIET_MS
        is counted, not logged. A fault reading an input (F_POLL) leaves the core as it is unless it
        was driving the motor: the core was not touched, and an input that fails on every poll must
        not keep the knob braked. It never raises: the loop must go on whatever happens here."""
        self.faults += 1
        self.last_fault = exc
        prev = self._prev_fault
        self._prev_fault = now_ms
        try:
            motor = self.board.motor
            if motor.running:
                self._coast_at = now_ms + BRAKE_MS
                motor.brake()
        except Exception:
            pass
        key = (code, kind)
        logged = key != self._fault_key or now_ms - self._fault_t >= FAULT_QUIET_MS
        if logged:
            self._fault_key = key
            self._fault_t = now_ms
            self.fault_records += 1
            self._record((now_ms, LOG_FAULT, key, None))
        if self._in_fault:
            # a fault inside the handling of one (a port's resync feeding the rebuilt core): counted
            # and logged; the rebuild under way goes on (rebuilding again from in here recursed
            # until the stack gave out, leaving the uncalibrated fallback core)
            return
        old = self.core
        try:
            if code == F_POLL and not old.motor:
                return
            resume = (old.alarm is True, old.state == JAMMED, prev is None or now_ms - prev >= FAULT_RETRY_MS)
        except Exception:
            resume = (False, False, False)  # what the old core said cannot be trusted
        self._in_fault = True
        try:
            if not resume[0]:
                self.signals.show(IND_CLEAR, self._ticks(now_ms))
            self._boot_core(now_ms, logged, resume)
            for p in self.ports:
                rs = getattr(p, "resync", None)
                if rs is not None:
                    rs(self, now_ms)
        except Exception as e:  # the rebuild failed too: an uncalibrated core refuses to drive
            self.last_fault = e
            try:
                self.core = LockCore(None, None, self.keys)
                self.core.boot(now_ms, None, False)
            except Exception:
                pass
        self._in_fault = False

    def busy(self):
        """True while an input must be sampled every few ms: a contact settling, the motor running,
        the brake on, a reader command in flight (the signals do not count: they feed nothing)."""
        if self._coast_at is not None:
            return True
        for p in self.ports:
            if p.busy():
                return True
        return False

    def next_deadline(self):
        """The earliest instant poll() has work to do with no input changing: a core timer, a
        port's deadline (debounce settle, stall window, reader), the brake release, the next LED or
        buzzer step. None when there is none."""
        d = self.next_input_deadline()
        c = self.next_output_deadline()
        if c is not None and (d is None or c < d):
            d = c
        return d

    def next_input_deadline(self):
        """The inputs' and the core's part of next_deadline(): a core timer or a port's deadline;
        while a bundle is being installed, the next poll (each takes one step of it)."""
        d = self.core.next_deadline()
        if self._bundle is not None and self.bundle_busy():
            d = self._now if d is None or self._now < d else d
        for p in self.ports:
            pd = p.next_deadline()
            if pd is not None:
                c = self._at(pd)
                if d is None or c < d:
                    d = c
        return d

    def next_output_deadline(self):
        """The outputs' part: the brake release or the next LED / buzzer step (see poll_outputs)."""
        d = self._coast_at
        sd = self.signals.next_deadline()
        if sd is not None:
            c = self._at(sd)
            if d is None or c < d:
                d = c
        return d

    # ------------------------------------------------------------------ sinks
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
            elif k == A_INDICATE:
                self.signals.show(a[1], self._ticks(now_ms))
            elif k == A_SAVE:
                if a[1] == "pin_fails":
                    self._pin_fails = a[2]  # a rebuilt core keeps it, and the flash across reboots
                    if self.flash is not None:
                        self.flash.save_pin_fails(a[2])
                else:
                    self.store.save(a[1], a[2])

    def now_ms(self):
        """The App's time at its last poll (the time base of submit(), note() and the records):
        another task (the hub) acts on the App at this time."""
        return self._now

    def note(self, now_ms, code, arg=None, who=None):
        """Log a record of something the shell did outside the core (a remote command, a link
        event): it goes to the log and every sink, as the core's own records do."""
        self._record((now_ms, code, arg, who))

    def _record(self, rec):
        """Keep a record and hand it to every sink; a sink that raises is counted (sink_errors) and
        never stops the others, the lock or the loop. A MemoryError (a fragmented heap: the flash
        log's sink allocates nothing else) is tried once more after a collection, so the record is
        not lost from flash for want of a few bytes."""
        if self._epoch:
            arg = rec[2]
            if rec[1] == LOG_CLOCK_SET:  # its arg holds a time too
                arg = (arg[0], arg[1] + self._epoch)
            rec = (rec[0] + self._epoch, rec[1], arg, rec[3])
        log = self.log
        log.append(rec)
        if len(log) > self.log_size:
            log.pop(0)
        for s in self.sinks:
            try:
                try:
                    s(rec)
                except MemoryError:
                    gc.collect()
                    s(rec)
            except Exception as e:
                self.sink_errors += 1
                self.last_fault = e


async def run(app, ticks_ms, ticks_diff, sleep_ms, period_ms=PERIOD_MS, rounds=-1, rebase_ms=REBASE_MS,
              idle_ms=IDLE_MS):
    """The board's main loop. Clock and sleep are injected (time.ticks_ms, time.ticks_diff,
    asyncio.sleep_ms on the board) so tests can drive it. It polls every period_ms while the App is
    busy, else sleeps until the App's next deadline but at most idle_ms. now never reaches
    rebase_ms: the App's clock is moved back instead, so times stay small ints for any uptime."""
    last = ticks_ms()
    now = 0
    app.start(now)
    reported = app.fault_records
    while rounds:
        t = ticks_ms()
        now += ticks_diff(t, last)
        last = t
        if now >= rebase_ms:
            app.rebase(rebase_ms)
            now -= rebase_ms
        try:
            app.poll(now)
        except Exception as e:  # App.poll handles its own faults; this is the last line
            try:
                app.fault(now, F_POLL, 0, e)
            except Exception:
                pass
        if app.fault_records != reported:  # one report per FAULT record, not per faulted poll
            reported = app.fault_records
            try:
                report_fault(app.last_fault)
            except Exception:
                pass
        if app.busy():
            wait = period_ms
        else:
            wait = idle_ms
            d = app.next_deadline()
            if d is not None:
                ahead = d - (now + ticks_diff(ticks_ms(), last))
                if ahead < wait:
                    wait = ahead if ahead > 0 else 0
        await sleep_ms(wait)
        if rounds > 0:
            rounds -= 1


def report_fault(e):
    import sys
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__)
