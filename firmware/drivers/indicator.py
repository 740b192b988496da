# Status LED and buzzer: a step-pattern player. poll(now_ms) steps it; nothing blocks, poll() and
# play() allocate nothing. What to play when (the pattern table, the alarm policy) is the shell's
# (lockshell/signals.py): this driver knows no lock codes.
#
#   ind = Indicator(led_pin, buzzer_pwm)
#   ind.play(steps, now_ms, repeat=False)   # steps: flat tuple (led, buzzer, ms, led, buzzer, ms, ...)
#   ind.poll(now_ms)                        # every loop pass: True once when a one-shot pattern ends
#   ind.next_deadline()                     # tick of the next step change, or None when idle
#   ind.stop()                              # both outputs off
#
# A one-shot pattern plays once, then both outputs go off; a repeating one starts over until the
# next play() or stop(). Outputs are written only when a step changes them. The buzzer is driven at
# buzz_duty_u16 (default 50 %: a passive piezo) at `freq`; the LED is written 1 = on (pass a
# machine.Signal for an active-low LED). Times are compared modulo 2**30 (ticks_ms() wrap-safe).
from drivers.ticks import ticks_diff, ticks_add


class Indicator:
    def __init__(self, led=None, buzzer=None, freq=2700, buzz_duty_u16=32768):
        self._led = led
        self._buzzer = buzzer
        self._buzz_duty = buzz_duty_u16
        self.steps = None  # the pattern playing, or None
        self.repeat = False
        self._n = 0  # its length in tuple items (3 per step)
        self._i = 0  # tuple index of the current step
        self._t = 0  # when the current step started (tick)
        self._led_on = -1  # last level written (-1: unknown, forces the first write)
        self._buzz_on = -1
        if buzzer is not None and freq and hasattr(buzzer, "freq"):
            buzzer.freq(freq)
        self._out(0, 0)

    @property
    def busy(self):
        return self.steps is not None

    @property
    def led_on(self):
        return self._led_on == 1

    @property
    def buzzing(self):
        return self._buzz_on == 1

    def _out(self, led, buzz):
        if led != self._led_on:
            self._led_on = led
            if self._led is not None:
                self._led.value(led)
        if buzz != self._buzz_on:
            self._buzz_on = buzz
            if self._buzzer is not None:
                self._buzzer.duty_u16(self._buzz_duty if buzz else 0)

    def play(self, steps, now_ms, repeat=False):
        n = len(steps)
        if n < 3 or n % 3:
            raise ValueError("steps: (led, buzzer, ms) triples")
        i = 2
        while i < n:
            if steps[i] <= 0:
                raise ValueError("steps: durations must be > 0 ms")
            i += 3
        self.steps = steps
        self.repeat = bool(repeat)
        self._n = n
        self._i = 0
        self._t = ticks_add(now_ms, 0)
        self._out(steps[0], steps[1])

    def stop(self):
        self.steps = None
        self.repeat = False
        self._out(0, 0)

    def next_deadline(self):
        seq = self.steps
        if seq is None:
            return None
        return ticks_add(self._t, seq[self._i + 2])

    def poll(self, now_ms):
        seq = self.steps
        if seq is None:
            return False
        i = self._i
        t = self._t
        moved = False
        while ticks_diff(now_ms, t) >= seq[i + 2]:
            t = ticks_add(t, seq[i + 2])
            i += 3
            moved = True
            if i >= self._n:
                if not self.repeat:
                    self.steps = None
                    self._out(0, 0)
                    return True
                i = 0
        if moved:
            self._i = i
            self._t = t
            self._out(seq[i], seq[i + 1])
        return False
