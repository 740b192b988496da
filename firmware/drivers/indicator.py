# Status LED and buzzer patterns, stepped by poll(now_ms); nothing blocks, poll() allocates nothing.
#
#   ind = Indicator(led_pin, buzzer_pwm)
#   ind.show(IND_DENIED, now_ms)     # from the lock core's (A_INDICATE, pattern) actions
#   ind.poll(now_ms)                 # every loop pass; writes outputs only when a step changes them
#
# Each pattern is a flat tuple of (led, buzzer, duration ms) steps. IND_ALARM repeats until IND_CLEAR
# or any other show(); showing IND_ALARM while it already plays does not restart it. IND_CLEAR stops
# everything; the other patterns play once, then both outputs go off. The buzzer is driven at
# buzz_duty_u16 (default 50 %: a passive piezo) at `freq`; the LED is written 1 = on (pass a
# machine.Signal for an active-low LED). Times are compared modulo 2**30 (ticks_ms() wrap-safe).
from micropython import const

from drivers.ticks import ticks_diff, ticks_add

from lockctl.codes import IND_OK, IND_DENIED, IND_ALARM, IND_CLEAR, IND_LOCKED, IND_UNLOCKED, IND_CALIBRATE


#          led buzz  ms
_OK = (1, 1, 120)
_DENIED = (1, 1, 80, 0, 0, 80,
           1, 1, 80, 0, 0, 80,
           1, 1, 80)
_ALARM = (1, 1, 250, 0, 0, 250)
_LOCKED = (1, 1, 60, 1, 0, 60,
           1, 1, 60, 1, 0, 400)
_UNLOCKED = (1, 1, 250, 1, 0, 400)
_CALIBRATE = (1, 1, 40, 0, 0, 160,
              1, 0, 200, 0, 0, 200,
              1, 0, 200, 0, 0, 200,
              1, 0, 200)

# indexed by the IND_* code (1..7); IND_CLEAR has no steps
_PATTERNS = (None, _OK, _DENIED, _ALARM, None, _LOCKED, _UNLOCKED, _CALIBRATE)


class Indicator:
    def __init__(self, led=None, buzzer=None, freq=2700, buzz_duty_u16=32768):
        self._led = led
        self._buzzer = buzzer
        self._buzz_duty = buzz_duty_u16
        self._seq = None  # steps of the pattern playing, or None
        self._code = 0  # its IND_* code
        self._n = 0  # its length in tuple items (3 per step)
        self._i = 0  # tuple index of the current step
        self._t = 0  # when the current step started (ms, modulo 2**30)
        self._led_on = -1  # last level written (-1: unknown, forces the first write)
        self._buzz_on = -1
        if buzzer is not None and freq and hasattr(buzzer, "freq"):
            buzzer.freq(freq)
        self._out(0, 0)

    @property
    def busy(self):
        return self._seq is not None

    def _out(self, led, buzz):
        if led != self._led_on:
            self._led_on = led
            if self._led is not None:
                self._led.value(led)
        if buzz != self._buzz_on:
            self._buzz_on = buzz
            if self._buzzer is not None:
                self._buzzer.duty_u16(self._buzz_duty if buzz else 0)

    def show(self, pattern, now_ms):
        if type(pattern) is not int or pattern < IND_OK or pattern > IND_CALIBRATE:
            raise ValueError("pattern")
        if pattern == IND_CLEAR:
            self._seq = None
            self._code = 0
            self._out(0, 0)
            return
        if pattern == IND_ALARM and self._code == IND_ALARM:
            return  # already sounding: keep the cadence
        seq = _PATTERNS[pattern]
        self._seq = seq
        self._code = pattern
        self._n = len(seq)
        self._i = 0
        self._t = ticks_add(now_ms, 0)
        self._out(seq[0], seq[1])

    def poll(self, now_ms):
        seq = self._seq
        if seq is None:
            return
        i = self._i
        t = self._t
        moved = False
        while ticks_diff(now_ms, t) >= seq[i + 2]:
            t = ticks_add(t, seq[i + 2])
            i += 3
            moved = True
            if i >= self._n:
                if self._code != IND_ALARM:
                    self._seq = None
                    self._code = 0
                    self._out(0, 0)
                    return
                i = 0
        if moved:
            self._i = i
            self._t = t
            self._out(seq[i], seq[i + 1])
