# Debounced digital input (button, reed switch). Polled: nothing blocks, poll() allocates nothing.
#
#   door = Debounced(pin, now_ms, settle_ms=30)
#   ev = door.poll(now_ms)       # None, or the new stable level (True / False): test `is not None`
#   door.next_deadline()         # tick at which poll() reports if the level holds, else None
#
# The stable value changes only after the raw level has stayed at the new level for settle_ms, as seen
# by consecutive polls; any return to the stable level restarts the wait. Events therefore always
# alternate (True, False, True, ...) and a bounce burst never yields more than its final level.
# Times are compared modulo 2**30, so time.ticks_ms() can be passed directly (wrap-safe).
from drivers.ticks import ticks_diff, ticks_add



class Debounced:
    def __init__(self, pin, now_ms, settle_ms=30, active_low=False):
        if settle_ms < 0:
            raise ValueError("settle_ms")
        self._pin = pin
        self._settle = settle_ms
        self._inv = bool(active_low)
        self.value = self._read()  # current stable logical value
        self._raw = self.value  # logical level seen at the last poll
        self._since = now_ms  # when _raw took its current level

    def _read(self):
        if self._inv:
            return self._pin.value() == 0
        return self._pin.value() != 0

    @property
    def settle_ms(self):
        return self._settle

    @property
    def active_low(self):
        return self._inv

    @property
    def settling(self):
        # True while the raw level differs from the stable value: keep polling finely (a bounce
        # back restarts the wait, and only a poll can see it)
        return self._raw != self.value

    def next_deadline(self):
        """The tick at which poll() reports the new level if the raw level holds until then (it
        must be polled then, and in between to see bounces); None while nothing is settling."""
        if self._raw == self.value:
            return None
        return ticks_add(self._since, self._settle)

    def poll(self, now_ms):
        lv = self._read()
        if lv != self._raw:
            self._raw = lv
            self._since = now_ms
        if lv == self.value:
            return None
        if ticks_diff(now_ms, self._since) >= self._settle:
            self.value = lv
            return lv
        return None
