"""A virtual battery that drains with virtual time and motor use, read through a resistor divider by
an ADC, for firmware/drivers/battery.py BatteryMonitor.

    bat = VirtualBattery(clock=lambda: world.now, load=lambda: world.direction != 0)
    monitor = BatteryMonitor(bat.adc, world.now, ratio=bat.ratio)
    bat.mv()                    # terminal voltage now (mV)

Model (deliberately simple and exact in integers of virtual ms):
  rest voltage  = start_mv - drain_mv_per_hour * hours elapsed - drain_mv_per_motor_s * motor seconds
                  (never below floor_mv)
  terminal      = rest voltage - sag_mv while the load (the motor) is on
The load is a callable sampled at each update(): motor time is counted as piecewise constant
between updates, so a runner calls update() whenever the load may have changed (a motor start or
stop) for exact motor seconds; every read calls it too. set_load(on) is the same for a battery made
without a load callable.

The ADC (bat.adc, a sim.world.SimADC) reads the divider's output, terminal / ratio, as
read_u16() = round(pin_mV * 65535 / full_scale_mv) clamped to 0..65535, and read_uv() = pin uV
(as the ESP32 port's calibrated read); noise_mv adds a seeded uniform +-noise at the pin.
"""
import random

from .world import SimADC

_HOUR_MS = 3600000


class BatteryADC(SimADC):
    """machine.ADC on the battery divider: read_u16(), read_uv(), read()."""

    def __init__(self, battery, name="battery"):
        SimADC.__init__(self, None, battery.read_u16, name=name)
        self.read_uv = battery.read_uv


class VirtualBattery:
    def __init__(self, clock, start_mv=4100, drain_mv_per_hour=5.0, drain_mv_per_motor_s=0.5, sag_mv=300,
                 load=None, ratio=2.0, full_scale_mv=3300, noise_mv=0, floor_mv=0, seed=0):
        if ratio < 1 or full_scale_mv <= 0:
            raise ValueError("ratio must be >= 1 and full_scale_mv positive")
        self.clock = clock
        self.start_mv = start_mv
        self.drain_mv_per_hour = float(drain_mv_per_hour)
        self.drain_mv_per_motor_s = float(drain_mv_per_motor_s)
        self.sag_mv = sag_mv
        self.load = load
        self.ratio = float(ratio)
        self.full_scale_mv = full_scale_mv
        self.noise_mv = int(noise_mv)
        self.floor_mv = floor_mv
        self._rng = random.Random("battery:%s" % seed)
        self.t0 = clock()
        self._t = self.t0  # the last update
        self._on = bool(load()) if load is not None else False
        self.motor_ms = 0  # ms under load so far
        self.reads = 0

    # ------------------------------------------------------------------ load and time
    def update(self, now=None):
        """Count the load up to now, then sample it (the state from now on)."""
        now = self.clock() if now is None else now
        if now < self._t:
            raise ValueError("time cannot go backwards (%d < %d)" % (now, self._t))
        if self._on:
            self.motor_ms += now - self._t
        self._t = now
        if self.load is not None:
            self._on = bool(self.load())
        return now

    def set_load(self, on):
        """For a battery without a load callable: the load is on (True) or off from now on."""
        self.update()
        self._on = bool(on)

    @property
    def loaded(self):
        return self._on

    # ------------------------------------------------------------------ voltages
    def rest_mv(self, now=None):
        """The voltage with no load (mV, int)."""
        now = self.update(now)
        v = (self.start_mv - self.drain_mv_per_hour * (now - self.t0) / _HOUR_MS
             - self.drain_mv_per_motor_s * self.motor_ms / 1000.0)
        return max(self.floor_mv, int(round(v)))

    def mv(self, now=None):
        """The terminal voltage now (mV, int): the rest voltage, less the sag while loaded."""
        v = self.rest_mv(now)
        if self._on:
            v -= self.sag_mv
        return max(0, v)

    def time_at(self, mv):
        """When the rest voltage reaches mv with no more motor use (virtual ms), or None if it
        never drains."""
        if self.drain_mv_per_hour <= 0:
            return None
        now = self.update()
        over = self.rest_mv(now) - mv
        if over <= 0:
            return now
        return now + int(over * _HOUR_MS / self.drain_mv_per_hour + 0.999999)

    # ------------------------------------------------------------------ the ADC
    def _pin_mv(self):
        v = self.mv() / self.ratio
        if self.noise_mv:
            v += self._rng.randint(-self.noise_mv, self.noise_mv)
        return v

    def read_u16(self):
        self.reads += 1
        u = int(round(self._pin_mv() * 65535 / self.full_scale_mv))
        return max(0, min(65535, u))

    def read_uv(self):
        self.reads += 1
        return max(0, int(round(self._pin_mv() * 1000)))

    @property
    def adc(self):
        a = getattr(self, "_adc", None)
        if a is None:
            a = self._adc = BatteryADC(self)
        return a
