# A fake `machine` with a little physics for lockshell.service.calibrate / read_card tests (both
# runtimes): the H-bridge legs turn the knob (its potentiometer on the ADC) at a fixed speed between
# two end stops, where the motor's sense current rises (the driver's stall); a reed switch and a
# button; the clock is virtual and sleep_ms() moves the world.
from fakes import FakePWM, FakeADC
from lockshell.board import MOTOR_A, MOTOR_B, MOTOR_SENSE, KNOB_POT, DOOR_REED, BUTTON

LOCK_END, UNLOCK_END = 800, 3500  # pot readings (12 bit) at the two end stops


class World:
    """The knob between two end stops, a reed switch and a button; time moves in sleep_ms()."""

    def __init__(self, pos=LOCK_END, door_open=False, speed=3, lock_end=LOCK_END, unlock_end=UNLOCK_END):
        self.t = 0
        self.pos = pos
        self.lo, self.hi = lock_end, unlock_end
        self.speed = speed  # counts per ms
        self.door = 1 if door_open else 0  # reed: 1 = magnet away = open
        self.button = 1  # pull-up: 1 = released
        self.legs = {}
        self.jam_at = None  # a position the knob cannot pass
        self.moved = 0  # counts the motor turned the knob in all
        self.sleeps = 0
        self.writes = []  # (t, leg pin, duty) written to the H-bridge
        w = self

        class Pin:
            IN, OUT, PULL_UP, OPEN_DRAIN = 1, 2, 3, 4

            def __init__(self, n, mode=None, pull=None, value=None):
                self.n = n
                self.v = value or 0

            def value(self, v=None):
                if v is not None:
                    self.v = v
                    return None
                if self.n == DOOR_REED:
                    return w.door
                if self.n == BUTTON:
                    return w.button
                return self.v

        class PWM(FakePWM):
            def __init__(self, pin, freq=0, duty_u16=0):
                FakePWM.__init__(self, duty_u16, record=False)
                w.legs[pin.n] = self
                self.n = pin.n

            def duty_u16(self, v=None):
                if v is not None and (self.n == MOTOR_A or self.n == MOTOR_B):
                    w.writes.append((w.t, self.n, v))
                return FakePWM.duty_u16(self, v)

        class ADC(FakeADC):
            def __init__(self, pin):
                FakeADC.__init__(self, 0)
                n = pin.n
                if n == KNOB_POT:
                    self.value = lambda: w.pos << 4
                elif n == MOTOR_SENSE:
                    self.value = lambda: 60000 if w.stalled() else 8000

        class machine:
            pass

        machine.Pin, machine.PWM, machine.ADC = Pin, PWM, ADC
        self.machine = machine

    def direction(self):
        a, b = self.legs.get(MOTOR_A), self.legs.get(MOTOR_B)
        if a is None or b is None:
            return 0
        if a.duty and not b.duty:
            return 1
        if b.duty and not a.duty:
            return -1
        return 0

    def _limits(self):
        lo, hi = self.lo, self.hi
        j = self.jam_at
        if j is not None:
            if self.pos <= j:
                hi = min(hi, j)
            else:
                lo = max(lo, j)
        return lo, hi

    def stalled(self):
        d = self.direction()
        lo, hi = self._limits()
        return (d > 0 and self.pos >= hi) or (d < 0 and self.pos <= lo)

    # the clock App and NfcReader are given (ticks_ms / ticks_diff / sleep_ms)
    def ticks_ms(self):
        return self.t & 0x3FFFFFFF

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def sleep_ms(self, ms):
        self.sleeps += 1
        ms = max(1, ms)  # (a 0 ms wait still lets the world move: no spinning in place)
        d = self.direction()
        lo, hi = self._limits()
        p = self.pos + d * self.speed * ms
        p = lo if p < lo else hi if p > hi else p
        self.moved += abs(p - self.pos)
        self.pos = p
        self.t += ms
