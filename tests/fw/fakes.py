# Stand-ins for machine.Pin / machine.PWM / machine.ADC, in the MicroPython subset so the driver tests
# run unchanged on CPython and on the MicroPython unix port. record=False turns the write history off
# (appending to a list allocates, which the no-allocation tests must not measure).

IRQ_FALLING = 1
IRQ_RISING = 2


class FakePin:
    IRQ_FALLING = IRQ_FALLING
    IRQ_RISING = IRQ_RISING

    def __init__(self, level=0, record=True):
        self.level = 1 if level else 0
        self.record = record
        self.writes = []  # levels written through value(v)
        self.reads = 0
        self.handler = None
        self.trigger = 0

    def value(self, v=None):
        if v is None:
            self.reads += 1
            return self.level
        self.level = 1 if v else 0
        if self.record:
            self.writes.append(self.level)
        return None

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING):
        self.handler = handler
        self.trigger = trigger

    def set(self, level):
        # drive the input from outside (the "wire"); fires the irq handler on a matching edge
        level = 1 if level else 0
        old = self.level
        self.level = level
        if self.handler is not None and level != old:
            if (level and self.trigger & IRQ_RISING) or (not level and self.trigger & IRQ_FALLING):
                self.handler(self)


class FakePWM:
    def __init__(self, duty=0, record=True):
        self.duty = duty
        self.record = record
        self.history = []  # duties written through duty_u16(v)
        self.freqs = []  # frequencies written through freq(f)
        self.f = 0

    def duty_u16(self, v=None):
        if v is None:
            return self.duty
        if v < 0 or v > 65535:
            raise ValueError("duty")
        self.duty = v
        if self.record:
            self.history.append(v)
        return None

    def freq(self, f=None):
        if f is None:
            return self.f
        self.f = f
        self.freqs.append(f)
        return None


class FakeADC:
    # value: an int (settable later through .value), a callable returning the reading, or a list /
    # tuple of readings returned in turn (the last one repeats)
    def __init__(self, value=0):
        self.value = value
        self.reads = 0
        self._i = 0

    def read_u16(self):
        self.reads += 1
        v = self.value
        if isinstance(v, int):
            return v
        if isinstance(v, (list, tuple)):
            i = self._i
            if i < len(v) - 1:
                self._i = i + 1
            return v[i]
        return v()


def alloc_bytes(fn):
    # run fn(); return the heap bytes it allocated on MicroPython, None on CPython (no comparable measure)
    import sys
    if sys.implementation.name != "micropython":
        fn()
        return None
    import gc
    gc.collect()
    a = gc.mem_alloc()
    fn()
    b = gc.mem_alloc()
    return b - a


class Lcg:
    # tiny deterministic pseudo-random source: the same sequence on CPython and MicroPython
    def __init__(self, seed=12345):
        self.s = seed & 0x7FFFFFFF

    def next(self, lo, hi):
        # integer in lo..hi inclusive
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return lo + (self.s >> 8) % (hi - lo + 1)


def timeline(thing, led, buz, t0, t1, step=1):
    # poll thing (an Indicator or Signals) every `step` ms over [t0, t1]; return the output changes
    # as [(t, led, buzzer_on), ...]
    out = []
    last = (led.level, buz.duty != 0)
    t = t0
    while t <= t1:
        thing.poll(t)
        now = (led.level, buz.duty != 0)
        if now != last:
            out.append((t, now[0], now[1]))
            last = now
        t += step
    return out


class VirtualClock:
    """ticks_ms / ticks_diff for lockshell.app.run() on a virtual clock that wraps like the board's
    (2**30); the caller moves t (its sleep_ms)."""

    def __init__(self, t=0):
        self.t = t

    def ticks_ms(self):
        return self.t & 0x3FFFFFFF

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000



class FakeMatrix:
    # a keypad matrix for drivers.keypad.MatrixKeypad: `rows` are output pins (FakePin, no write
    # history), `cols` read 0 while a closed contact joins them to a row driven low (1 otherwise:
    # pull-up). close(i) / open(i) / set(i, closed) move contact i = row * ncols + col (no ghosting:
    # only the direct contact counts). lows_seen: the most rows seen low at once by a column read.
    def __init__(self, nrows=4, ncols=3):
        self.nrows = nrows
        self.ncols = ncols
        self.closed = bytearray(nrows * ncols)
        self.rows = [FakePin(1, record=False) for i in range(nrows)]
        self.cols = [_MatrixCol(self, c) for c in range(ncols)]
        self.lows_seen = 0
        self.col_reads = 0

    def set(self, i, closed):
        self.closed[i] = 1 if closed else 0

    def close(self, i):
        self.closed[i] = 1

    def open(self, i):
        self.closed[i] = 0

    def release_all(self):
        for i in range(len(self.closed)):
            self.closed[i] = 0

    def level(self, c):
        self.col_reads += 1
        lows = 0
        out = 1
        nc = self.ncols
        for r in range(self.nrows):
            if self.rows[r].level == 0:
                lows += 1
                if self.closed[r * nc + c]:
                    out = 0
        if lows > self.lows_seen:
            self.lows_seen = lows
        return out


class _MatrixCol:
    def __init__(self, matrix, c):
        self.m = matrix
        self.c = c

    def value(self, v=None):
        if v is not None:
            raise ValueError("a column is an input")
        return self.m.level(self.c)
