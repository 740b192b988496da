# The battery as an App input port (lockshell/ports.py protocol): the averaged voltage of a
# drivers/battery.py BatteryMonitor classified into BATT_OK / BATT_LOW / BATT_CRITICAL, fed as
# EV_BATTERY (level, mV) once at the first average and then only when the level changes.
#
#   port = BatteryPort(BatteryMonitor(adc, now), loaded=lambda: board.motor.running)
#   app.add_port(port)                 # App polls it: port.poll(app, now_ms, tick)
#   arg = port.step(tick)              # the same without an App: None or (level, mV)
#
# Levels with hysteresis: the level goes down as soon as an average is below a threshold
# (< low_mv: LOW, < critical_mv: CRITICAL, straight from OK if need be) and back up only when an
# average is at least hysteresis_mv above it (>= critical_mv + hysteresis_mv: out of CRITICAL,
# >= low_mv + hysteresis_mv: OK), so an average wandering around a threshold (ADC noise, the pack
# recovering after a motor run, temperature) changes the level once, not at every average. The first
# average is classified without hysteresis.
#
# Defaults for a 1S Li-ion cell (4.2 V full, 3.0 V cut-off) behind a low-dropout 3.3 V regulator:
# 3.5 V is about the last 10-15 % of the charge (the discharge curve falls steeply below 3.6 V), time
# to change or charge it; at 3.3 V the regulator is near dropout and the motor's sag can brown the
# board out: only what lets people out is served. 100 mV is above the averaged ADC noise and the
# rest recovery of a cell after a motor run. For 4 x AA (alkaline 6.4 V fresh) use ratio=3.0 on the
# monitor and low_mv=4400, critical_mv=4000 (1.1 and 1.0 V a cell); docs/keypad.md.
#
# loaded (optional callable): while it returns True (the motor runs) the monitor is not polled: the
# sample it is due is taken at the first poll after the load ends, so no sample sees the sag.
from micropython import const

from lockctl.codes import EV_BATTERY, BATT_OK, BATT_LOW, BATT_CRITICAL

LOW_MV = const(3500)
CRITICAL_MV = const(3300)
HYSTERESIS_MV = const(100)


class BatteryPort:
    kind = EV_BATTERY

    def __init__(self, monitor, low_mv=LOW_MV, critical_mv=CRITICAL_MV, hysteresis_mv=HYSTERESIS_MV, loaded=None):
        if critical_mv >= low_mv or critical_mv < 0:
            raise ValueError("critical_mv must be below low_mv")
        if hysteresis_mv < 0:
            raise ValueError("hysteresis_mv")
        self.monitor = monitor
        self.loaded = loaded
        self._low = low_mv
        self._crit = critical_mv
        self._hyst = hysteresis_mv
        self.level = None  # the level last fed (BATT_*), None before the first average
        self.mv = None  # the last average
        self.changes = 0  # EV_BATTERY events produced (the first included)

    @property
    def thresholds(self):
        return (self._low, self._crit, self._hyst)

    def classify(self, mv):
        """The level for an average of mv given the current level (hysteresis on the way up)."""
        lvl = self.level
        h = self._hyst if lvl is not None else 0
        if mv < self._crit:
            return BATT_CRITICAL
        if lvl == BATT_CRITICAL and mv < self._crit + h:
            return BATT_CRITICAL
        if mv < self._low:
            return BATT_LOW
        if lvl is not None and lvl != BATT_OK and mv < self._low + h:
            return BATT_LOW
        return BATT_OK

    def step(self, tick):
        """Poll the monitor once (unless loaded); return the EV_BATTERY arg of a level change."""
        ld = self.loaded
        if ld is not None and ld():
            return None
        mv = self.monitor.poll(tick)
        if mv is None:
            return None
        self.mv = mv
        lvl = self.classify(mv)
        if lvl == self.level:
            return None
        self.level = lvl
        self.changes += 1
        return (lvl, mv)

    # ---------------------------------------------------------------- the App's port protocol
    def poll(self, app, now, tick):
        arg = self.step(tick)
        if arg is not None:
            app.feed(now, EV_BATTERY, arg)

    def resync(self, app, now):
        """A rebuilt core does not know the battery: tell it the level as last fed."""
        if self.level is not None:
            app.feed(now, EV_BATTERY, (self.level, self.mv))

    def next_deadline(self):
        """The monitor's next sample; None while loaded (the load's end is seen by polling, and the
        App polls every few ms while the motor runs)."""
        ld = self.loaded
        if ld is not None and ld():
            return None
        return self.monitor.next_deadline()

    def busy(self):
        return False
