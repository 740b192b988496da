"""The simulated physical world around the lock: thumb-turn, motor, door, button.

Virtual time is an int of milliseconds that only moves when advance_to() is called. Everything is
deterministic: the only randomness (contact bounce patterns, optional ADC noise) comes from
random.Random instances seeded from `seed`.

Units inside: angles are int micro-degrees (exact integer motion, no float drift), motor speed is
micro-degrees per ms. The public API takes and returns degrees.

Physics in one paragraph: the motor turns the knob at `speed_dps` x duty while exactly one H-bridge
leg is on (leg A on = toward unlock, +angle); both legs on (brake) or both off (coast) stop it at once
(no inertia). End stops at lock_deg and unlock_deg, a jam, or a hand holding the knob block the motor:
it stays put and draws stall current. The pot maps angle -> 12-bit counts (pot_offset + pot_per_deg *
angle, rounded, clamped to 0..4095) and reads back as u16 (counts << 4). The door can be opened by a
person only while the bolt is clear (angle >= bolt_deg); a forced opening breaks the strike, after
which the bolt no longer holds the door until repair(). A closed bolt also stops the door from
closing. Every change of the reed switch and the button bounces (seeded pattern).
"""
import random

FULL = 65535
UDEG = 1000000  # micro-degrees per degree


def _udeg(deg):
    return int(round(float(deg) * UDEG))


def bounce_times(rng, t0, lo, hi, max_gap):
    """Toggle times (strictly increasing ints, odd count) for one bouncy change starting at t0: the
    line flips at t0, chatters with gaps of 1..max_gap ms and settles at its last toggle, lo..hi ms
    after t0."""
    d = rng.randint(lo, hi) if hi > 0 else 0
    if d <= 0:
        return [t0]
    end = t0 + d
    times = [t0]
    while True:
        nxt = times[-1] + rng.randint(1, max_gap)
        if nxt >= end:
            break
        times.append(nxt)
    times.append(end)
    if len(times) % 2 == 0:
        # an odd number of toggles ends on the new level; dropping the second one keeps the rest
        times.pop(1)
    return times


class Line:
    """A digital wire whose level changes at scheduled times (bounce patterns)."""

    def __init__(self, level):
        self.level = 1 if level else 0
        self.edges = []  # pending toggle times, ascending
        self.count = 0  # toggles that have happened (raw edges)
        self.last_edge = None  # time of the last toggle that happened

    def sync(self, now):
        e = self.edges
        while e and e[0] <= now:
            self.last_edge = e.pop(0)
            self.level ^= 1
            self.count += 1

    def level_at(self, now):
        self.sync(now)
        return self.level

    def change(self, now, level, times):
        """Drop pending toggles, then flip at `times` (odd count) if the level differs from `level`."""
        self.sync(now)
        self.edges = []
        if self.level != (1 if level else 0):
            self.edges = list(times)
            self.sync(now)

    def next_edge(self):
        return self.edges[0] if self.edges else None

    @property
    def final(self):
        return self.level ^ (len(self.edges) & 1)


# --- MicroPython machine stand-ins -----------------------------------------------------------------

class SimPin:
    """machine.Pin: value() reads the world (inputs) or what was last written (outputs)."""
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id=None, mode=-1, pull=-1, value=None, read=None, name=""):
        self.id = id
        self.name = name
        self._read = read  # callable -> 0/1 for an input wired to the world, else None
        self._level = 1 if value else 0
        self.writes = 0
        self.history = []  # (t, level) written, bounded, for outputs (LED)
        self.clock = None  # callable -> now, to timestamp writes

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self._read is not None:
                return self._read()
            return self._level
        self._level = 1 if v else 0
        self.writes += 1
        if self.clock is not None:
            self.history.append((self.clock(), self._level))
            if len(self.history) > 64:
                del self.history[:32]
        return None

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3):
        return None


class SimPWM:
    """machine.PWM: duty_u16(v=None), freq(f=None), deinit(). on_change(v) tells the world."""

    def __init__(self, pin=None, freq=None, duty_u16=None, on_change=None, name=""):
        self.pin = pin
        self.name = name
        self._freq = freq or 5000
        self._duty = 0
        self._on_change = on_change
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def duty_u16(self, v=None):
        if v is None:
            return self._duty
        v = int(v)
        if v < 0 or v > FULL:
            raise ValueError("duty_u16 must be 0..65535")
        if v != self._duty:
            self._duty = v
            if self._on_change is not None:
                self._on_change()
        return None

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        return None

    def init(self, freq=None, duty_u16=None):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def deinit(self):
        self.duty_u16(0)


class SimADC:
    """machine.ADC: read_u16() from a world callable."""
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin=None, read=None, name=""):
        self.pin = pin
        self.name = name
        self.read_u16 = read if read is not None else (lambda: 0)  # bound straight to the world

    def read_u16(self):  # replaced per instance in __init__
        return 0

    def read(self):
        return self.read_u16() >> 4

    def atten(self, a=None):
        return None

    def width(self, w=None):
        return None


# --- the world ---------------------------------------------------------------------------------------

class World:
    def __init__(self, seed=0, angle=None, door_open=False,
                 lock_deg=0.0, unlock_deg=90.0, speed_dps=150.0, bolt_deg=45.0,
                 pot_offset=800, pot_per_deg=30.0, noise=0,
                 i_free=15000, i_stall=60000, i_inrush=50000, inrush_ms=30, i_noise=0,
                 door_bounce=(20, 60), door_gap=14, button_bounce=(3, 10), button_gap=3):
        if not unlock_deg > lock_deg:
            raise ValueError("unlock_deg must be above lock_deg")
        self.seed = seed
        self.now = 0
        self.lock = _udeg(lock_deg)
        self.unlock = _udeg(unlock_deg)
        self.bolt = _udeg(bolt_deg)
        self.speed = int(round(float(speed_dps) * UDEG / 1000))  # udeg per ms at full duty
        if self.speed <= 0:
            raise ValueError("speed_dps must be positive")
        self.pot_offset = int(pot_offset)
        self.pot_k = int(round(float(pot_per_deg) * 1000))  # milli-counts per degree
        self._pot_c0 = (self.pot_offset * 1000 + 500) * UDEG  # offset and the rounding half
        self.noise = int(noise)
        self.i_free, self.i_stall, self.i_inrush = int(i_free), int(i_stall), int(i_inrush)
        self.inrush_ms = int(inrush_ms)
        self.i_noise = int(i_noise)
        self.door_bounce = tuple(door_bounce)
        self.door_gap = max(1, int(door_gap))
        self.button_bounce = tuple(button_bounce)
        self.button_gap = max(1, int(button_gap))
        # independent streams, so e.g. how often the firmware reads the ADC never shifts a bounce
        self._rng_door = random.Random("door:%s" % seed)
        self._rng_button = random.Random("button:%s" % seed)
        self._rng_noise = random.Random("noise:%s" % seed)

        a = self.lock if angle is None else _udeg(angle)
        self._seg_t = 0  # current motion segment: origin time and angle, signed rate, limit
        self._seg_a = max(self.lock, min(self.unlock, a))
        self._rate = 0
        self._lim = self._seg_a
        self.segment_id = 0  # changes whenever the motion law changes
        self._pot_t = None  # cache of the pot reading: valid for (now, motion law) until reset
        self._pot_c = 0
        self._hand = None  # (t0, a0, t1, a1) while a person turns the knob
        self._legs = [0, 0]  # duty of leg A (toward unlock) and leg B
        self.direction = 0  # +1 / -1 while one leg drives, else 0
        self.duty = 0
        self.drive_t = None  # when the current motor move started
        self.moves = 0  # motor moves started so far
        self._jam = None  # [at_udeg or None, moves left or None (= until unjam)]
        self._move_jammed = False
        self.door_open = bool(door_open)
        self.strike_broken = False
        self.reed = Line(1 if door_open else 0)  # reed to GND with pull-up: 1 = magnet away = open
        self.button = Line(1)  # button to GND with pull-up: 0 = pressed
        self.button_down_until = None
        self.inputs = 0  # counts changes made from outside (people, faults): the runner polls after one
        self.notes = []  # (t, text): what people tried and what happened, for the runner to show
        self.on_note = None
        self.pwm_a = SimPWM(on_change=self._legs_changed, name="motor-a")
        self.pwm_b = SimPWM(on_change=self._legs_changed, name="motor-b")
        self._machine = None

    @property
    def machine(self):
        """A `machine` module stand-in wired to this world (see SimMachine)."""
        if self._machine is None:
            self._machine = SimMachine(self)
        return self._machine

    # ------------------------------------------------------------------ notes
    def note(self, text):
        self.notes.append((self.now, text))
        if len(self.notes) > 1000:
            del self.notes[:500]
        if self.on_note is not None:
            self.on_note(self.now, text)

    # ------------------------------------------------------------------ time
    def advance_to(self, t):
        """Move virtual time forward to t (ms). Motion between calls is exact (piecewise linear)."""
        if t < self.now:
            raise ValueError("time cannot go backwards (%d < %d)" % (t, self.now))
        h = self._hand
        if h is not None and h[2] <= t:
            self.now = h[2]
            self._hand = None
            self._set_segment(h[3])
        if t != self.now:
            self.now = t
            self._pot_t = None

    def next_event(self):
        """Earliest time > now at which something changes by itself (a pin edge, the end of a hand
        turn, the motor reaching a stop or a jam), or None. See also next_current_change()."""
        e = self.next_edge()
        m = self.next_motion_event()
        if e is None:
            return m
        return e if m is None or e < m else m

    def next_edge(self):
        """Time of the next scheduled edge of the reed switch or the button, or None."""
        now = self.now
        best = None
        line = self.reed
        if line.edges:
            line.sync(now)
            if line.edges:
                best = line.edges[0]
        line = self.button
        if line.edges:
            line.sync(now)
            if line.edges and (best is None or line.edges[0] < best):
                best = line.edges[0]
        return best

    def next_motion_event(self):
        """End of a hand turn, or the motor-driven knob reaching a stop or a jam, or None."""
        h = self._hand
        if h is not None:
            return h[2]
        if self._rate:
            c = self.contact_time()
            if c is not None and c > self.now:
                return c
        return None

    def next_current_change(self):
        """When the motor current leaves its inrush level (if that is still ahead), else None."""
        if self.direction and self.drive_t is not None:
            e = self.drive_t + self.inrush_ms
            if e > self.now:
                return e
        return None

    def busy(self):
        """Anything in motion or settling: the motor driving, a hand turn, a pin still bouncing."""
        self.reed.sync(self.now)
        self.button.sync(self.now)
        return bool(self.direction or self._hand is not None or self.reed.edges or self.button.edges)

    # ------------------------------------------------------------------ knob motion
    def angle_at(self, s):
        """Angle (udeg) at time s, for now <= s <= the end of the current motion segment."""
        h = self._hand
        if h is not None:
            t0, a0, t1, a1 = h
            if s >= t1:
                return a1
            if s <= t0:
                return a0
            return a0 + (a1 - a0) * (s - t0) // (t1 - t0)
        r = self._rate
        if r == 0:
            return self._seg_a
        a = self._seg_a + r * (s - self._seg_t)
        if r > 0:
            return a if a < self._lim else self._lim
        return a if a > self._lim else self._lim

    def moving(self):
        """(rate udeg/ms, until) while the knob angle is changing, else None. `until` is when the
        current linear law ends (hand turn end, contact with a stop or jam)."""
        h = self._hand
        if h is not None:
            if h[2] > self.now and h[1] != h[3]:
                return (h[3] - h[1]) / float(h[2] - h[0]), h[2]
            return None
        if self._rate == 0:
            return None
        c = self.contact_time()
        if c is None or c <= self.now:
            return None
        return self._rate, c

    def contact_time(self):
        """When the motor-driven knob reaches its limit (stop or jam) in this segment; None when
        nothing drives it or a hand holds it."""
        if self._hand is not None or not self.direction:
            return None
        r = self._rate
        if r == 0:
            return self._seg_t
        gap = self._lim - self._seg_a
        if gap == 0:
            return self._seg_t
        return self._seg_t + (abs(gap) + abs(r) - 1) // abs(r)

    @property
    def angle_udeg(self):
        return self.angle_at(self.now)

    @property
    def angle(self):
        """Knob angle in degrees (lock end stop = lock_deg, unlock end stop = unlock_deg)."""
        return self.angle_at(self.now) / float(UDEG)

    @property
    def lock_deg(self):
        return self.lock / float(UDEG)

    @property
    def unlock_deg(self):
        return self.unlock / float(UDEG)

    def bolt_thrown(self):
        return self.angle_at(self.now) < self.bolt

    def blocked(self):
        """The motor is driven but cannot turn the knob (end stop, jam, hand)."""
        if not self.direction:
            return False
        if self._hand is not None:
            return True
        return self._rate == 0 or self.angle_at(self.now) == self._lim

    def _limit(self, a, rate):
        """How far the motor may drive the knob from angle a: the end stop, or a jam in the way."""
        if rate == 0:
            return a
        j = self._jam if self._move_jammed else None
        if rate > 0:
            lim = self.unlock
            if j is not None:
                if j[0] is None or j[2] == 0:
                    return a
                if j[2] < 0:  # the knob is below the jam point: it cannot be driven past it
                    lim = min(lim, j[0])
            return max(lim, a)
        lim = self.lock
        if j is not None:
            if j[0] is None or j[2] == 0:
                return a
            if j[2] > 0:
                lim = max(lim, j[0])
        return min(lim, a)

    def _set_segment(self, a):
        """Start a new motion law at now from angle a (after any input change)."""
        self._pot_t = None
        self.segment_id += 1
        self._seg_t = self.now
        self._seg_a = a
        if self._hand is not None or not self.direction:
            self._rate = 0
        else:
            self._rate = self.direction * (self.speed * self.duty // FULL)
        self._lim = self._limit(a, self._rate)

    def _legs_changed(self):
        a, b = self.pwm_a.duty_u16(), self.pwm_b.duty_u16()
        if a and not b:
            d, duty = 1, a
        elif b and not a:
            d, duty = -1, b
        else:
            d, duty = 0, 0  # brake (both on) or coast (both off): no inertia, stops at once
        if d == self.direction and duty == self.duty:
            return
        angle = self.angle_at(self.now)  # from the old law
        if d != self.direction:
            if self.direction:
                self._end_move()
            self.direction = d
            if d:
                self._start_move(angle)
            else:
                self.drive_t = None
        self.duty = duty
        self._set_segment(angle)

    def _start_move(self, angle):
        self.moves += 1
        self.drive_t = self.now
        j = self._jam
        if j is not None and (j[1] is None or j[1] > 0):
            self._move_jammed = True
            if j[1] is not None:
                j[1] -= 1
            if j[0] is not None and angle != j[0]:
                j[2] = -1 if angle < j[0] else 1  # which side of the jam point the knob is on

    def _end_move(self):
        j = self._jam
        if self.drive_t == self.now:
            # the legs passed through a drive state between two writes of the same instant (the
            # driver's brake -> coast): no move happened, so it uses up no move and no jam
            self.moves -= 1
            if self._move_jammed and j is not None and j[1] is not None:
                j[1] += 1
            self._move_jammed = False
            return
        if self._move_jammed:
            self._move_jammed = False
            if j is not None and j[1] == 0:
                self._jam = None

    # ------------------------------------------------------------------ motor current and pot
    def current_level(self):
        """Motor current (u16) without noise: 0 off, inrush just after a start, stall when blocked."""
        if not self.direction:
            return 0
        if self.blocked():
            return self.i_stall
        if self.drive_t is not None and self.now - self.drive_t < self.inrush_ms:
            return self.i_inrush
        return self.i_free

    def current_u16(self):
        i = self.current_level()
        if i and self.i_noise:
            i = max(0, min(FULL, i + self._rng_noise.randint(-self.i_noise, self.i_noise)))
        return i

    def counts_of(self, a):
        """Pot reading in 12-bit counts for angle a (udeg), without noise."""
        c = (self._pot_c0 + self.pot_k * a) // 1000000000  # exact: (offset + per_deg * deg) rounded
        return 0 if c < 0 else (4095 if c > 4095 else c)

    def counts_at(self, s):
        return self.counts_of(self.angle_at(s))

    def counts_deg(self, deg):
        return self.counts_of(_udeg(deg))

    def pot_u16(self):
        if self._pot_t is not None:  # the firmware reads 4 samples per poll: same instant, same law
            c = self._pot_c
        else:
            c = self._pot_c = self.counts_of(self.angle_at(self.now))
            self._pot_t = self.now
        if self.noise:
            c = max(0, min(4095, c + self._rng_noise.randint(-self.noise, self.noise)))
        return c << 4

    # ------------------------------------------------------------------ people and faults
    def turn_by_hand(self, target_deg, duration_ms=600):
        """A person turns the knob to target_deg (clamped to the end stops) over duration_ms. While
        the hand holds it the motor cannot move it (it stalls). Returns the target angle used."""
        self.inputs += 1
        a1 = max(self.lock, min(self.unlock, _udeg(target_deg)))
        duration_ms = int(duration_ms)
        a0 = self.angle_at(self.now)
        if duration_ms <= 0:
            self._hand = None
            self._set_segment(a1)
        else:
            self._hand = (self.now, a0, self.now + duration_ms, a1)
            self._set_segment(a0)
        return a1 / float(UDEG)

    def jam(self, at_angle=None, moves=1):
        """Block the next `moves` motor moves (None: every move until unjam()). A move is one drive
        in one direction, back-offs included; a move already under way counts as the first. With
        at_angle the motor cannot drive the knob across that angle (from the side it is on; a
        drive away from it is free); without, a jammed move cannot turn the knob at all."""
        self.inputs += 1
        if moves is not None and int(moves) < 1:
            raise ValueError("moves must be >= 1 (or None for until unjam)")
        a = self.angle_at(self.now)
        at = None if at_angle is None else _udeg(at_angle)
        side = 0 if at is None or at == a else (-1 if a < at else 1)
        self._jam = [at, None if moves is None else int(moves), side]
        self._move_jammed = False
        if self.direction:
            self._move_jammed = True
            if self._jam[1] is not None:
                self._jam[1] -= 1
        self._set_segment(a)

    def unjam(self):
        self.inputs += 1
        self._jam = None
        self._move_jammed = False
        self._set_segment(self.angle_at(self.now))

    @property
    def jammed(self):
        return self._jam is not None

    def open_door(self, force=False):
        """A person opens the door. Refused (False) while the bolt is thrown, unless force (which
        breaks the strike). Returns True if the door is now open."""
        self.inputs += 1
        if self.door_open:
            self.note("the door is already open")
            return False
        if self.bolt_thrown() and not self.strike_broken:
            if not force:
                self.note("the bolt is thrown: the door does not open")
                return False
            self.strike_broken = True
            self.note("the door is forced open: the strike plate breaks")
        self.door_open = True
        self._reed_change(1)
        return True

    def close_door(self):
        self.inputs += 1
        if not self.door_open:
            self.note("the door is already closed")
            return False
        if self.bolt_thrown() and not self.strike_broken:
            self.note("the bolt is out: the door does not close")
            return False
        self.door_open = False
        self._reed_change(0)
        return True

    def repair(self):
        """Fix a strike broken by a forced entry."""
        self.inputs += 1
        self.strike_broken = False

    def _reed_change(self, level):
        lo, hi = self.door_bounce
        self.reed.change(self.now, level, bounce_times(self._rng_door, self.now, lo, hi, self.door_gap))

    def press(self, duration_ms=150):
        """Press the inside button for duration_ms; both contact changes bounce."""
        self.inputs += 1
        if self.button_down_until is not None and self.button_down_until > self.now:
            self.note("the button is already pressed")
            return False
        lo, hi = self.button_bounce
        rng = self._rng_button
        down = bounce_times(rng, self.now, lo, hi, self.button_gap)
        t_up = max(self.now + int(duration_ms), down[-1] + 1)
        up = bounce_times(rng, t_up, lo, hi, self.button_gap)
        self.button.sync(self.now)
        self.button.edges = []
        if self.button.level == 0:  # still bouncing low from an earlier press: just the release
            down = []
        self.button.edges = down + up
        self.button.sync(self.now)
        self.button_down_until = up[-1]
        return True

    @property
    def button_pressed(self):
        return self.button_down_until is not None and self.button_down_until > self.now

    def snapshot(self):
        return {
            "t": self.now, "angle": round(self.angle, 2), "motor": self.direction, "current": self.current_level(), "door_open": self.door_open, "jammed": self.jammed,
            "hand": self._hand is not None, "strike_broken": self.strike_broken,
        }


class SimMachine:
    """A `machine` module stand-in whose pins are wired to a World, by the ESP32 pin numbers of
    firmware/lockshell/board.py. board.make_board(world.machine, now) composes the real drivers on it."""

    def __init__(self, world):
        self.world = world
        from lockshell import board as _fw_board
        self.pins = {
            "motor_a": _fw_board.MOTOR_A, "motor_b": _fw_board.MOTOR_B, "sense": _fw_board.MOTOR_SENSE,
            "pot": _fw_board.KNOB_POT, "reed": _fw_board.DOOR_REED, "button": _fw_board.BUTTON,
            "led": _fw_board.LED, "buzzer": _fw_board.BUZZER,
        }
        self._by_id = dict((v, k) for k, v in self.pins.items())
        self.led = None  # the output pin / PWM objects handed out, for displays
        self.buzzer = None
        w = world

        machine = self

        class Pin(SimPin):
            def __init__(self, id, mode=-1, pull=-1, value=None):
                role = machine._by_id.get(id)
                SimPin.__init__(self, id, mode, pull, value, name=role or "")
                self.clock = lambda: w.now  # noqa: E731
                if role in ("reed", "button"):
                    line = w.reed if role == "reed" else w.button

                    def value(v=None):  # an input wired to the world: read the wire at now
                        e = line.edges
                        if e and e[0] <= w.now:
                            line.sync(w.now)
                        return line.level
                    self.value = value
                if role == "led":
                    machine.led = self

        def PWM(pin, freq=None, duty_u16=None):
            role = getattr(pin, "name", "")
            if role in ("motor_a", "motor_b"):
                p = w.pwm_a if role == "motor_a" else w.pwm_b  # the world reads these legs
                p.pin = pin
                if freq is not None:
                    p.freq(freq)
                if duty_u16 is not None:
                    p.duty_u16(duty_u16)
                return p
            p = SimPWM(pin, freq, duty_u16, name=role)
            if role == "buzzer":
                machine.buzzer = p
            return p

        class ADC(SimADC):
            def __init__(self, pin, atten=None):
                role = getattr(pin, "name", "")
                if role == "pot":
                    read = w.pot_u16
                elif role == "sense":
                    read = w.current_u16
                else:
                    read = None
                SimADC.__init__(self, pin, read, name=role)

        nfc_uart = _fw_board.NFC_UART

        def UART(id, baudrate=115200, tx=None, rx=None, timeout=0, **kw):
            # the card reader's HSU line: the PN532 emulator attached with attach_pn532()
            emu = machine.pn532
            if emu is None or id != nfc_uart:
                raise OSError("nothing on UART %r of this virtual board" % (id,))
            emu.uart.baudrate = baudrate
            emu.uart.timeout = timeout
            return emu.uart

        self.Pin = Pin
        self.PWM = PWM
        self.ADC = ADC
        self.UART = UART
        self.pn532 = None  # a PN532Emulator on the reader's UART, or None (no reader wired)

    def attach_pn532(self, emu):
        """Wire a PN532 emulator (sim/pn532.py) to the reader's UART pins."""
        self.pn532 = emu
        return emu
