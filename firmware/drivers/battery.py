# Battery voltage through a resistor divider on an ADC pin, sampled rarely and averaged. Polled:
# nothing blocks, a poll is at most one ADC read (the first one: `samples` reads), nothing is
# allocated per poll. No policy here: lockshell/battery.py classifies the voltage.
#
#   bat = BatteryMonitor(adc, now_ms, ratio=2.0)   # adc: machine.ADC (read_u16, or read_uv)
#   mv = bat.poll(now_ms)      # None, or the battery voltage (mV, int) when an average is complete
#   bat.next_deadline()        # tick of the next sample
#
# Sampling: one read every period_ms // samples ms, averaged over `samples` reads, so an average
# completes every period_ms (default: one read every 7.5 s, a value every minute). Spread samples
# rather than a burst of `samples` reads every period_ms because the battery changes over hours
# while the disturbances come in bursts: a motor run (the pack sags by hundreds of mV for a second
# or two), a buzzer, a radio transmission. A burst would catch all its samples in the same burst of
# load and average only the ADC's noise; spread samples take at most one or two under a given load,
# so one motor run moves the average by a fraction of its sag. Only the first average, at the first
# poll, is a burst: the lock knows its battery at boot (nothing moves at boot) and need not wait a
# period. A read that raises loses that sample only (the next one is still a step later: a dead ADC
# is not read at every poll).
#
# Conversion: battery mV = ADC pin mV * ratio (ratio = (R_top + R_bottom) / R_bottom). With read_u16
# (default) pin mV = reading * full_scale_mv / 65535, in integers: (average u16) * k // 65535 with
# k = ratio * full_scale_mv made once (small ints on the board for k up to 16383). uv=True reads
# read_uv() instead (the ESP32 port's eFuse-calibrated microvolts: more accurate than read_u16's
# nominal full scale, see docs/keypad.md). Times are compared modulo 2**30 (wrap-safe ticks).
from micropython import const

from drivers.ticks import ticks_diff, ticks_add

_U16 = const(65535)


class BatteryMonitor:
    def __init__(self, adc, now_ms, ratio=2.0, period_ms=60000, samples=8, full_scale_mv=3300, uv=False):
        if samples < 1 or period_ms < samples:
            raise ValueError("samples")
        if ratio < 1 or full_scale_mv <= 0:
            raise ValueError("ratio")
        self._adc = adc
        self._uv = bool(uv)
        self._want = samples
        self._step = period_ms // samples
        self._k = int(ratio * full_scale_mv + 0.5)  # battery mV at a full-scale u16 reading
        self._rm = int(ratio * 1000 + 0.5)  # ratio in thousandths (uv=True)
        self._sum = 0
        self._n = 0
        self._next = now_ms  # the first poll takes a burst
        self._first = True
        self.mv = None  # the last average (mV), None before the first
        self.averages = 0  # averages completed

    @property
    def samples(self):
        return self._want

    @property
    def step_ms(self):
        return self._step

    def next_deadline(self, now_ms=None):
        """The tick of the next sample (always one: the monitor never stops)."""
        return self._next

    def _read(self):
        if self._uv:
            return self._adc.read_uv()
        return self._adc.read_u16()

    def _average(self, total):
        avg = total // self._want
        if self._uv:
            mv = (avg // 1000) * self._rm // 1000
        else:
            mv = avg * self._k // _U16
        self.mv = mv
        self.averages += 1
        return mv

    def poll(self, now_ms):
        if ticks_diff(now_ms, self._next) < 0:
            return None
        self._next = ticks_add(now_ms, self._step)  # first: a read that raises is retried a step later
        if self._first:
            total = 0
            for i in range(self._want):
                total += self._read()
            self._first = False
            return self._average(total)
        self._sum += self._read()
        self._n += 1
        if self._n < self._want:
            return None
        total = self._sum
        self._sum = 0
        self._n = 0
        return self._average(total)
