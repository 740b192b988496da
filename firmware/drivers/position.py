# Thumb-turn position sensors. Both read() paths allocate nothing.
#
# PotPosition: absolute; a potentiometer on an ADC, averaged over `samples` reads, scaled to 0..4095.
# QuadratureEncoder: relative; counts every A/B edge (4 counts per cycle), starting at 0. With
# state = A*2 + B, the sequence 00 -> 10 -> 11 -> 01 -> 00 (A leads B) counts up. A change of both
# inputs at once (a missed edge) cannot be decoded: it is skipped and counted in `errors`.
from micropython import const

_E = const(2)  # marker for an illegal transition in _QTABLE

# index: previous state * 4 + current state; value: count step, or _E
_QTABLE = (0, -1, 1, _E,
           1, 0, _E, -1,
           -1, _E, 0, 1,
           _E, 1, -1, 0)


class PotPosition:
    def __init__(self, adc, samples=4, invert=False):
        if samples < 1:
            raise ValueError("samples")
        self._adc = adc
        self._n = samples
        self._inv = bool(invert)

    @property
    def inverted(self):
        return self._inv

    @property
    def samples(self):
        return self._n

    def read(self):
        adc = self._adc
        total = 0
        i = self._n
        while i:
            total += adc.read_u16()
            i -= 1
        v = (total // self._n) >> 4
        if self._inv:
            return 4095 - v
        return v


class QuadratureEncoder:
    def __init__(self, pin_a, pin_b):
        self._a = pin_a
        self._b = pin_b
        self._count = 0
        self.errors = 0
        self._state = self._ab()

    def _ab(self):
        s = 0
        if self._a.value():
            s = 2
        if self._b.value():
            s += 1
        return s

    def update(self):
        # safe to call from a hard IRQ: small-int arithmetic only
        s = self._ab()
        d = _QTABLE[(self._state << 2) | s]
        self._state = s
        if d == _E:
            self.errors += 1
        else:
            self._count += d

    def irq_handler(self, pin):
        self.update()

    def read(self):
        return self._count
