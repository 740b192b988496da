"""The virtual board (real drivers on simulated hardware) and VirtualDoor, which runs the firmware's
App against the simulated world in virtual time.

    door = VirtualDoor(seed=1, calibration="ends", keys=[("felica", "01", "alice")])
    door.card("felica", "01")
    door.advance(2000)
    door.open_door(); door.advance(1000); door.close_door(); door.advance(5000)
    print("\\n".join(door.lines()))

Time moves only in advance()/run_until(). The App is polled at exactly the instants where something
can change what it sees, and virtual time jumps straight over everything in between:

  * scheduled actions, the core's timer deadlines (App.next_deadline());
  * world events: every edge of a bouncing reed/button contact, the end of a hand turn, the motor
    reaching an end stop or a jam, the end of the motor's inrush current;
  * the instants the drivers would change their minds, as their public next_deadline() says (App.
    next_deadline() combines them): a debouncer's settle time after the last edge it saw, the motor
    driver's inrush window end and the end of a stall window under way, the brake release, the
    reader's next poll, the LED / buzzer's next step; and every instant the world's motor current
    changes (the driver can only see that by polling);
  * the first millisecond at which the knob position crosses one of the core's zone boundaries
    (interpolated, then checked against the world's exact integer motion law).

At an instant that is only an intermediate edge of a bouncing contact, just the debouncers are polled
(all App.poll could do there). Polling at these instants gives the same log as polling every
millisecond (tests check this against mode="fixed", fine_ms=1), at a small fraction of the cost: a
quiet day is one poll, a month of busy door traffic a few seconds.

With nfc=True the board also has its card reader: a PN532 emulator (sim/pn532.py) on the machine's
UART, so firmware/lockshell/board.py composes the real PN532 driver and NfcReader on it, and the emulator's clock
is the world's virtual time. The reader's next poll is one of the App's deadlines; while one of its
commands runs (App.busy()) the runner steps every millisecond, exactly what fixed 1 ms stepping does,
so the log stays exact. tap(card, hold_ms) puts a virtual card (NFC_CARDS) in the field.
mode="fixed" steps every fine_ms while anything moves or settles instead (slow, for cross-checks);
with ADC noise enabled the exact mode falls back to fine_ms steps while the knob moves.
"""
import heapq

from .world import World
from . import pn532 as _pn532

from .nor import NorFlash, Partition
from .keypad import VirtualKeypad
from .battery import VirtualBattery

from lockshell import board as _fw_board
from lockshell.app import App
from lockshell.store import MemoryStore
from lockshell.flash import Storage
from lockctl import plan as _plan
from lockctl.keystore import KeyStore, phone_key
from lockctl.record import format_record, kind_code, state_name, STATE_NAMES
from lockctl.codes import EV_CREDENTIAL, EV_REMOTE, EV_CONFIG, EV_CALIBRATE, CALIBRATING
from doorkit.keybook import KeyBook


class VirtualBoard:
    """firmware/lockshell/board.py's make_board() composition on the world's simulated machine: the real
    Debounced, HBridgeMotor, PotPosition and Indicator drivers, wired by the ESP32 pin map."""

    def __init__(self, world, now_ms=None, nfc=False, phones=None):
        self.world = world
        # nfc: the card reader too, on the PN532 emulator the machine has on its UART (attach_pn532)
        b = _fw_board.make_board(world.machine, world.now if now_ms is None else now_ms, nfc=nfc, phones=phones)
        self.reader = b.reader
        self.motor = b.motor
        self.position = b.position
        self.door = b.door
        self.button = b.button
        self.indicator = b.indicator
        self.led = world.machine.led
        self.buzzer = world.machine.buzzer
        # the drivers' public tunables the runner needs
        self.door_settle = self.door.settle_ms
        self.button_settle = self.button.settle_ms
        self.pos_inverted = self.position.inverted

    def led_on(self):
        return bool(self.led is not None and self.led.value())

    def buzzing(self):
        return bool(self.buzzer is not None and self.buzzer.duty_u16())


def _deg(world, where):
    """"lock" / "unlock" or an angle in degrees within the world's end stops; ValueError else."""
    if where in ("lock", "locked"):
        return world.lock_deg
    if where in ("unlock", "unlocked"):
        return world.unlock_deg
    try:
        a = float(where)
    except (TypeError, ValueError):
        raise ValueError("an angle is lock, unlock or degrees, not %r" % (where,))
    if not world.lock_deg <= a <= world.unlock_deg:  # (nan fails this too)
        raise ValueError("%r degrees is outside the end stops %g..%g" % (where, world.lock_deg, world.unlock_deg))
    return a


def _ms(value, what, low=0):
    """A duration in whole ms (>= low); ValueError for anything else (nan, inf, negative, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")) or value < low or value != int(value):
        raise ValueError("%s must be a whole number of ms >= %d, not %r" % (what, low, value))
    return int(value)


# The virtual cards `tap` knows: name -> (what it is, the identity the reader reports as (kind,
# ident), factory). Enrol them by that identity (key iso14443a DEADBEEF alice). A phone (HCE) shows a
# new random 08 xx xx xx UID on each tap: it identifies nothing (PhoneAuth checks the phone itself).
PHONE_ID = b"PHONE-01"
DOOR_ID = b"doorkit-sim"
SECRET = bytes(range(32))  # the virtual door's secret (bundles are signed with it)
PHONE_KEY = phone_key(SECRET, PHONE_ID)  # what the door's phone app holds: derived from the secret
PLAN = "4M"

NFC_CARDS = {
    "mifare": ("MIFARE Classic 1K", ("iso14443a", "DEADBEEF"), lambda: _pn532.mifare_classic()),
    "ntag": ("NTAG215", ("iso14443a", "04512A1A7C5D80"), lambda: _pn532.ntag215()),
    "uid10": ("card with a 10-byte UID", ("iso14443a", "01020304050607080910"), lambda: _pn532.triple_uid_card()),
    "suica": ("Suica (FeliCa)", ("felica", "01014E1F2D3C4B5A"), lambda: _pn532.suica()),
    "phone": ("phone (HCE)", ("phone", PHONE_ID.hex().upper()), lambda: _phone_card()),
    "unknown": ("a stranger's MIFARE Classic", ("iso14443a", "C0FFEE42"),
                lambda: _pn532.mifare_classic(bytes.fromhex("c0ffee42"))),
}


def _phone_card():
    from .phone import PhoneApp
    return _pn532.phone(PhoneApp(PHONE_ID, PHONE_KEY, DOOR_ID))


class VirtualRTC:
    """The board's RTC in virtual time: read() -> Unix s or None (unset); set(unix)."""

    def __init__(self, world):
        self.world = world
        self.base = None  # (virtual ms, Unix s) when it was set

    def read(self):
        if self.base is None:
            return None
        return self.base[1] + (self.world.now - self.base[0]) // 1000

    def set(self, unix):
        self.base = (self.world.now, int(unix))


class VirtualFlash:
    """The plan's data partitions ("log" and "keys") on one simulated NOR flash."""

    def __init__(self, plan=PLAN):
        log, keys = _plan.partition(plan, "log"), _plan.partition(plan, "keys")
        self.first = min(log[3], keys[3]) // _plan.BLOCK
        end = max(log[3] + log[4], keys[3] + keys[4]) // _plan.BLOCK
        self.spans = {p[0]: (p[3] // _plan.BLOCK - self.first, p[4] // _plan.BLOCK) for p in (log, keys)}
        self.dev = NorFlash(end - self.first)

    def part(self, label):
        a, n = self.spans[label]
        return Partition(self.dev, a, n)

    def power_cycle(self):
        self.dev = self.dev.power_cycle()


class VirtualDoor:
    """World + VirtualBoard + App on a simulated flash (key store, event log), run in virtual time.

    calibration: None (uncalibrated), "ends" (pre-seeded in the store with the pot readings at the
    world's end stops, what auto calibration measures) or an explicit (lock, unlock) pair.
    bolt: "locked", "unlocked" or an angle in degrees. door: "closed" / "open" (or a bool, True =
    open). keys: (kind, ident, user) triples, or (kind, ident, user, {validity options}) (see
    doorkit.keybook.validity), installed as the door's first bundle before it boots (as an
    installer's factory image would). config: stored settings dict (before boot).
    clock: Unix seconds the board's RTC is set to at the start, or None (unset). battery: the
    board has its battery monitor (sim/battery.py drains it) on the virtual ADC.
    nfc: the board has its card reader (PN532 emulator as self.pn532; tap() cards in its field).
    Remaining keyword arguments go to World (seed, speed_dps, noise, door_bounce, ...).
    """

    def __init__(self, seed=0, config=None, calibration=None, keys=(), bolt="locked", door="closed",
                 world=None, mode="exact", fine_ms=5, log_size=200, start=True, keep_records=True,
                 nfc=False, clock=None, plan=PLAN, battery=True, door_id=DOOR_ID, secret=SECRET, **world_opts):
        if mode not in ("exact", "fixed"):
            raise ValueError("mode must be 'exact' or 'fixed'")
        if world is None:
            opened = door if isinstance(door, bool) else _door_open_arg(door)
            world = World(seed=seed, door_open=opened, **world_opts)
            world.turn_by_hand(_deg(world, bolt), 0)
        self.world = world
        self.mode = mode
        self.fine_ms = max(1, int(fine_ms))
        self.log_size = log_size
        if calibration == "ends" or calibration is True:
            calibration = self.end_stop_calibration()
        elif calibration is not None:
            from lockctl.core import LockCore
            LockCore(config, calibration)  # LockError (a ValueError) now, not an uncalibrated boot
        self.store = MemoryStore(config, calibration)
        self.flash = VirtualFlash(plan)
        self.door_id = bytes(door_id)  # (a fleet of virtual doors: each its own id and secret)
        self.secret = bytes(secret)
        self.book = KeyBook(self.secret, self.door_id)
        for k in keys:
            opts = k[3] if len(k) > 3 else {}
            self.book.add(k[0], k[1], k[2], **opts)
        if keys:  # provisioned before the first boot: no BUNDLE record
            KeyStore(self.flash.part("keys"), self.secret, self.door_id).install(self.book.bundle())
            self.book.installed()
        self.rtc = VirtualRTC(self.world)
        if clock is not None:
            self.rtc.set(clock)
        self.keypad = VirtualKeypad(lambda: self.world.now, seed=seed)
        self.has_battery = bool(battery)  # the board's battery monitor (a wake every 15 min)
        # a 1S Li-ion pack that lasts about half a year (4.1 V -> 3.3 V): 0.15 mV an hour at rest,
        # 0.02 mV a second of motor (scenarios set the voltage with `battery <mV>`)
        self.battery = VirtualBattery(lambda: self.world.now, drain_mv_per_hour=0.15, drain_mv_per_motor_s=0.02,
                                      load=lambda: self.world.direction != 0)
        self.keep_records = keep_records
        self.records = []  # every log record, oldest first (App.log keeps only the last log_size)
        self.record_count = 0
        self.on_record = None  # extra callback(record)
        self.polls = 0  # full App.poll() calls
        self.light_polls = 0  # debouncer-only polls at intermediate bounce edges
        self.output_polls = 0  # App.poll_outputs() alone: nothing but an output step was due
        self.boots = 0
        self._queue = []  # (t, seq, fn, args)
        self._seq = 0
        self._dirty = True
        self._inputs_seen = -1
        self.board = None
        self.app = None
        self.nfc = bool(nfc)
        self.pn532 = None
        self._cards = {}  # tap name -> the card object (the same card each time)
        self._leave_at = {}  # card -> when it leaves the field
        if self.nfc:
            w = self.world
            self.pn532 = w.machine.attach_pn532(_pn532.PN532Emulator(lambda: w.now, seed=seed))
        if start:
            self.start()

    # ------------------------------------------------------------------ setup
    def end_stop_calibration(self):
        """(lock, unlock) position readings at the world's end stops."""
        w = self.world
        return (w.counts_deg(w.lock_deg), w.counts_deg(w.unlock_deg))

    def start(self):
        """Power up: compose the board, boot the App from the store and sensors."""
        if self.pn532 is not None:
            self.pn532.power_on()  # the reader is powered with the board (cards stay in the field)
        self.storage = Storage(self.flash.part("keys"), self.flash.part("log"), self.secret, self.door_id)
        phones = (self.storage.keys, self.door_id) if self.nfc else None  # phone keys derive from the store
        self.board = VirtualBoard(self.world, self.now, self.nfc, phones)
        # the keypad and the battery monitor: the firmware's drivers and ports on the virtual parts
        b = self.board
        b.keypad = _fw_board.keypad_port(self.keypad.rows, self.keypad.cols, self.now)
        if self.has_battery:
            self.battery.update()
            b.battery = _fw_board.battery_port(self.battery.adc, self.now, b.motor, self.battery.ratio)
        self.app = App(self.board, self.store, None, self.log_size, flash=self.storage, clock=self.rtc)
        self.app.sinks.append(self._record)
        self._dirty = True
        self._light = False
        self._zone_cache = (None, None)
        self._light_ok = self.board.door_settle > 0 and self.board.button_settle > 0
        self._reader = self.board.reader
        self.boots += 1
        self.app.start(self.now)

    @property
    def keys(self):
        """The door's key store (lockctl.keystore.KeyStore on the simulated flash)."""
        return self.storage.keys

    def reboot(self):
        """Reset at now: a new board and App on the same flash; the world and the RTC stay."""
        self.flash.power_cycle()
        self.start()

    def power_cut(self):
        """Cut the power now and power up again: the RAM and the RTC are lost (no backup cell),
        the flash keeps exactly what was programmed."""
        self.rtc.base = None
        self.flash.power_cycle()
        self.start()

    @classmethod
    def calibrated(cls, timeout_ms=30000, **kw):
        """A door calibrated the way an installer does it: auto calibration through the motor."""
        kw["calibration"] = None
        d = cls(**kw)
        d.calibrate_now(timeout_ms)
        return d

    def calibrate_now(self, timeout_ms=30000):
        """Run EV_CALIBRATE "auto" and advance until it has finished; returns the core's state."""
        self.calibrate("auto")
        end = self.now + timeout_ms
        while self.app.core.state == CALIBRATING and self.now < end:
            self.advance(min(100, end - self.now))
        self.advance_until_quiet()
        return state_name(self.app.core.state)

    @property
    def now(self):
        return self.world.now

    @property
    def core(self):
        return self.app.core

    # ------------------------------------------------------------------ log
    def _record(self, rec):
        self.record_count += 1
        if self.keep_records:
            self.records.append(rec)
        if self.on_record is not None:
            self.on_record(rec)

    def lines(self, since=0):
        """The log as text lines (lockctl.record.format_record, users by name), from record index
        `since`."""
        names = self.book.names()
        return [format_record(r, names) for r in self.records[since:]]

    def format(self, rec):
        """One record as text, users by name (the host's join)."""
        return format_record(rec, self.book.names())

    # ------------------------------------------------------------------ scheduling and time
    def schedule(self, t, fn, *args):
        """Call fn(*args) at virtual time t (>= now). Same-time calls run in scheduling order."""
        if t < self.now:
            raise ValueError("cannot schedule in the past (%d < %d)" % (t, self.now))
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, fn, args))

    def advance(self, ms):
        self.run_until(self.now + _ms(ms, "advance"))

    def run_until(self, t_end):
        """Run the world and the firmware up to virtual time t_end (ms)."""
        t_end = _ms(t_end, "run_until")
        if t_end < self.now:
            raise ValueError("time cannot go backwards (%d < %d)" % (t_end, self.now))
        w = self.world
        q = self._queue
        now = self.now
        first = True
        while True:
            w.advance_to(now)
            ran = False
            while q and q[0][0] <= now:
                _, _, fn, args = heapq.heappop(q)
                fn(*args)
                ran = True
            if first:
                # the firmware already saw everything up to now, unless something happened since
                if ran or self._dirty or w.inputs != self._inputs_seen:
                    self._poll(now)
                first = False
            elif self._light and not ran:
                self._light_poll(now)
            elif self._outputs and not ran:
                self.app.poll_outputs(now)  # only the LED / buzzer or the brake release is due
                self.battery.update(now)
                self.output_polls += 1
            else:
                self._poll(now)
            nxt = self._next_wake(now)
            if nxt is None or nxt > t_end:
                break
            now = nxt
        # nothing can change what the firmware sees before the next wake: no poll needed at t_end
        # (the next run_until polls first thing if the caller changes anything in between)
        w.advance_to(t_end)

    def advance_until_quiet(self, limit_ms=60000):
        """Advance until nothing moves or settles (motor, hand, bounces, debouncers)."""
        end = self.now + limit_ms
        while self.now < end and (self.world.busy() or self.app.busy()):
            self.advance(min(50, end - self.now))

    def _light_poll(self, now):
        """A wake for an intermediate edge of a bouncing contact and nothing else. All App.poll
        would do here is let the debouncer note the edge (a debouncer with settle_ms > 0 never
        reports at an edge: its wait restarts), so only the switches are sampled
        (App.poll_switches, which feeds the core as App.poll would if one did report)."""
        self.light_polls += 1
        self.app.poll_switches(now)
        self.battery.update(now)

    def _poll(self, now):
        # (a core timer armed for "now" by what this poll did fires in the same App.poll)
        self.app.poll(now)
        # the motor starts and stops only in the App's calls: the battery counts its load exactly
        # when told right after each one (it samples the load only when updated)
        self.battery.update(now)
        self._dirty = False
        self._inputs_seen = self.world.inputs
        self.polls += 1

    def _next_wake(self, now):
        """The next instant the App must be polled at; sets self._light when that instant is only
        an intermediate bounce edge (see _light_poll), self._outputs when it is only an output step
        (App.poll_outputs)."""
        w, b = self.world, self.board
        self._light = False
        self._outputs = False
        best = self._queue[0][0] if self._queue else None
        # the App's own deadlines (live: a caller may have fed the App directly): the core's timers,
        # debounce settle, the motor driver's inrush and stall windows, the reader's next wake ...
        d = self.app.next_input_deadline()
        if d is not None:
            if d <= now:
                d = now + 1
            if best is None or d < best:
                best = d
        # ... and the outputs' (brake release, LED / buzzer steps): alone, they need no full poll
        out = self.app.next_output_deadline()
        if out is not None and out <= now:
            out = now + 1
        m = w.next_motion_event()
        if m is not None and (best is None or m < best):
            best = m
        edge = w.next_edge()
        ke = self.keypad.next_edge()  # a key's contact makes or breaks (bouncing): the keypad scans
        if ke is not None and ke > now and (best is None or ke < best):
            best = ke
        if self.mode == "fixed":
            for x in (edge, out):
                if x is not None and (best is None or x < best):
                    best = x
            if w.busy() or self.app.busy():
                f = now + self.fine_ms
                if best is None or f < best:
                    best = f
            return best
        r = self._reader
        if r is not None and r.next_deadline() is None:
            # a reader command is running: the reader acts when the chip's next frame lands on the
            # line or the chip's running list tries again (the emulator knows when), or at its own
            # time-outs (command_deadline); an event held for the next poll is due at once
            h = now + 1
            if r.running:
                e = self.pn532.next_event()
                c = r.command_deadline()
                h = e if c is None or (e is not None and e < c) else c
                if h is None or h <= now:
                    h = now + 1
            if best is None or h < best:
                best = h
        if b.motor.running:
            # the driver can see a change of the current only by polling: wake where it changes
            c = w.next_current_change()
            if c is not None and (best is None or c < best):
                best = c
        mv = w.moving()
        if mv is not None:
            # knob position: the first ms it crosses one of the core's position edges
            if w.noise:
                h = now + self.fine_ms
            elif self.app.core.raw_position_matters():
                h = now + 1  # a calibration keeps the reading itself: sample every ms, as --step 1
            else:
                key = (w.segment_id, self.app.core.position_edges())
                h = self._zone_cache[1] if self._zone_cache[0] == key else None
                if h is None or h <= now:
                    h = self._zone_crossing(now, mv[1])
                    self._zone_cache = (key, h)
            if h is not None and (best is None or h < best):
                best = h
        t = best
        if edge is not None and (t is None or edge < t):
            t = edge
        if out is not None and (t is None or out < t):
            t = out
        if t is None:
            return now + self.fine_ms if self.app.busy() else None  # busy: something not covered
        if t == best or (t == edge and t == out):
            return t  # a full poll
        if t == edge:
            self._light = self._light_ok  # only a bounce edge: the debouncers alone
        else:
            self._outputs = True  # only an output step: poll_outputs() alone
        return t

    def _pos_at(self, s):
        c = self.world.counts_at(s)
        return 4095 - c if self.board.pos_inverted else c

    def _zone_crossing(self, now, until):
        """First ms in (now, until] at which the knob crosses one of the core's position edges."""
        edges = self.app.core.position_edges()
        if not edges:
            return None
        p0 = self._pos_at(now)
        p1 = self._pos_at(until)
        if p1 == p0:
            return None
        up = p1 > p0
        if up:  # rising through edge e: from e - 1 to e
            cands = [e for e in edges if p0 < e <= p1]
            if not cands:
                return None
            b = min(cands)
        else:  # falling through edge e: from e to e - 1
            cands = [e - 1 for e in edges if p1 <= e - 1 < p0]
            if not cands:
                return None
            b = max(cands)
        # position is linear in time up to rounding: interpolate, then correct exactly
        pos = self._pos_at
        s = now + (b - p0) * (until - now) // (p1 - p0)
        if s <= now:
            s = now + 1
        elif s > until:
            s = until
        if up:
            while s < until and pos(s) < b:
                s += 1
            while s > now + 1 and pos(s - 1) >= b:
                s -= 1
        else:
            while s < until and pos(s) > b:
                s += 1
            while s > now + 1 and pos(s - 1) <= b:
                s -= 1
        return s

    # ------------------------------------------------------------------ people, faults, inputs
    def open_door(self, force=False):
        return self.world.open_door(force=force)

    def close_door(self):
        return self.world.close_door()

    def press_button(self, ms=150):
        return self.world.press(_ms(ms, "a press", 1))

    def turn(self, where, ms=600):
        """Turn the knob by hand to "lock", "unlock" or an angle in degrees, over ms."""
        return self.world.turn_by_hand(_deg(self.world, where), _ms(ms, "a turn"))

    def jam(self, at=None, moves=1):
        self.world.jam(None if at is None else _deg(self.world, at), moves)

    def unjam(self):
        self.world.unjam()

    def tap(self, card, hold_ms=1000):
        """Put a card in the reader's field for hold_ms (None: until untap()). card: a NFC_CARDS
        name or a card object of sim/pn532.py. Returns the card object."""
        c = self.nfc_card(card)
        self.pn532.enter(c)
        if hold_ms is None:
            self._leave_at[c] = None
        else:
            t = self.now + _ms(hold_ms, "a tap", 1)
            self._leave_at[c] = t
            self.schedule(t, self._card_leaves, c, t)
        return c

    def untap(self, card):
        c = self.nfc_card(card)
        self._leave_at.pop(c, None)
        self.pn532.leave(c)

    def _card_leaves(self, c, t):
        if self._leave_at.get(c, -1) == t:  # not tapped again (or held) since
            del self._leave_at[c]
            self.pn532.leave(c)

    def nfc_card(self, card):
        if self.pn532 is None:
            raise ValueError("this virtual board has no card reader (nfc=False)")
        if not isinstance(card, str):
            return card
        c = self._cards.get(card)
        if c is None:
            if card not in NFC_CARDS:
                raise ValueError("unknown card %r (known: %s)" % (card, ", ".join(NFC_CARDS)))
            c = self._cards[card] = NFC_CARDS[card][2]()
        return c

    def in_field(self):
        """Names (NFC_CARDS, or the card's own name) of the cards in the reader's field now."""
        if self.pn532 is None:
            return []
        names = dict((id(c), n) for n, c in self._cards.items())
        return [names.get(id(c), c.name) for c in self.pn532.field]

    def reader_dead(self, dead=True):
        """A silent reader (loose wire, dead chip): it hears nothing and says nothing."""
        if self.pn532 is None:
            raise ValueError("this virtual board has no card reader (nfc=False)")
        self.pn532.silent = bool(dead)

    def reader_state(self):
        """None without a reader, else "up" or "down" (as the lock has logged it)."""
        if self._reader is None:
            return None
        return "down" if self.app.core.reader_down else "up"

    def submit(self, kind, arg):
        """An external event into the App at now (ValueError for bad input)."""
        self._dirty = True
        self.app.submit(self.now, kind, arg)
        self.battery.update()

    def card(self, kind, ident):
        """A credential presented straight to the core (kind: a KIND_* code or its name)."""
        self.submit(EV_CREDENTIAL, _kind((kind, ident)))

    def remote(self, cmd, user):
        self.submit(EV_REMOTE, (cmd, user))

    def configure(self, changes=None, **kw):
        d = dict(changes or {})
        d.update(kw)
        self.submit(EV_CONFIG, d)

    def calibrate(self, what="auto"):
        self.submit(EV_CALIBRATE, what)

    def enroll(self, kind, ident, user, **opts):
        """Add a credential: a delta bundle installed on the door now (logs BUNDLE)."""
        self.book.add(kind, ident, user, **opts)
        self._install()

    def revoke(self, kind, ident):
        """Remove a credential (a delta bundle); ValueError if it was never enrolled."""
        self.book.remove(kind, ident)
        self._install()

    def _install(self, data=None):
        self._dirty = True
        ours = data is None
        if ours:
            data = self.book.bundle()
        v, why = self.app.install_bundle(self.now, [data])
        if why is None and ours:
            self.book.installed()  # (after someone else's bundle our next delta is base-mismatch)
        return v, why

    def install(self, data):
        """A bundle from outside (bytes): -> (version, None) or (None, reason)."""
        return self._install(bytes(data))

    def set_battery(self, mv):
        """The battery's rest voltage is mv from now on (it goes on draining from there)."""
        self._dirty = True
        b = self.battery
        b.start_mv += int(mv) - b.rest_mv()

    def set_clock(self, unix):
        """The host sets the wall clock (Unix s): the RTC, then the lock (CLOCK_SET)."""
        self._dirty = True
        self.app.set_clock(self.now, int(unix))

    def keypad_type(self, keys, hold_ms=120, gap_ms=150):
        """Type keys on the keypad from now (e.g. "1234#"); -> when the last key is released."""
        for i, k in enumerate(keys):
            if k not in self.keypad.keymap:
                raise ValueError("the keypad has no key %r (keys: %s)" % (k, self.keypad.keymap))
        t = self.now
        for k in keys:
            self.schedule(t, self.keypad.press, k, hold_ms)
            t += hold_ms + gap_ms
        return t

    # ------------------------------------------------------------------ looking at it
    def status(self):
        w, b, core = self.world, self.board, self.app.core
        return {
            "t": w.now,
            "state": state_name(core.state),
            "angle": round(w.angle, 1),
            "position": b.position.read() if not w.noise else self._pos_at(w.now),
            "door_open": w.door_open,
            "door_sensed": b.door.value,
            "motor": w.direction,
            "current": w.current_level(),
            "alarm": core.alarm,
            "jam": w.jammed,
            "hand": w._hand is not None,
            "strike_broken": w.strike_broken,
            "calibration": core.cal,
            "led": b.led_on(),
            "buzzer": b.buzzing(),
            "auto_lock": core.cfg["auto_lock"],
            "button_unlock": core.cfg["button_unlock"],
            "reader": self.reader_state(),
            "clock": core.wall_time(),
            "battery_mv": self.battery.mv(),
            "battery": ("ok", "low", "critical")[core.battery] if self.has_battery else None,
            "pin_fails": core.pin_fails,
            "pin_locked_out": core.pin_locked_out(),
            "keys": len(self.storage.keys),
            "keys_version": getattr(self.storage.keys, "version", 0),
            "log_records": self.storage.log.next_seq - 1 if self.storage.log is not None else 0,
        }


def _kind(cred):
    """(kind name or KIND_* code, ident, ...) -> the same with the KIND_* code."""
    k = cred[0]
    return (kind_code(k) if isinstance(k, str) else k,) + tuple(cred[1:])


def _door_open_arg(door):
    if door in ("open", "opened"):
        return True
    if door in ("closed", "close", "shut"):
        return False
    raise ValueError("door must be 'open' or 'closed', not %r" % (door,))


__all__ = ["VirtualBoard", "VirtualDoor", "World", "STATE_NAMES", "NFC_CARDS"]
