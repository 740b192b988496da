# Matrix keypad (3x4 membrane or switch keypad), scanned by polling. Nothing blocks, nothing sleeps,
# poll() allocates nothing (the key characters are made once, in the constructor).
#
#   kp = MatrixKeypad(rows, cols, now_ms)   # rows: output Pins, cols: input Pins with pull-up
#   key = kp.poll(now_ms)                   # None, or one key character ("0".."9", "*", "#")
#   kp.next_deadline()                      # tick at which poll() reports if the keys hold, or None
#
# Wiring: key (r, c) shorts row r to column c. A scan drives one row low at a time (the others idle
# high) and reads every column; a pressed key reads 0 on its column while its row is low. Rows are
# best made Pin.OPEN_DRAIN (or given series resistors): then "high" is released, and two keys of one
# column pressed together never short a high row to a low one (docs/keypad.md). keymap is read row
# by row: keymap[r * len(cols) + c] is the key at row r, column c. A scan is 2 writes per row plus
# one read per key (about 20 pin operations for 4x3: tens of microseconds on an ESP32, where each
# MicroPython pin call takes long enough for a column's pull-up to settle; no delay is needed).
#
# Debounce and one event per press: the matrix state a scan sees is "no key", "one key k" or "many
# keys". A key is reported once, when it has been the only key down for debounce_ms (as seen by
# consecutive polls; any change restarts the wait). After that, or after two or more keys were down
# together for debounce_ms, nothing more is reported until the whole matrix has read "no key" for
# debounce_ms: a held key does not repeat, a second key pressed while one is held is ignored (also
# after the first is let go, until all are released), and a release that bounces is still one
# release. Two keys that overlap for less than debounce_ms (a quick roll-over from one to the next)
# count as the one left down. Three keys of a matrix without diodes can make a fourth look pressed
# (ghosting); they read as "many keys" anyway, so nothing is reported.
#
# Polling rate: a press is seen at the first poll while the key is down, so the shell must poll at
# least every ~50 ms when nothing else happens (lockshell.app.run() does: IDLE_MS), and every few ms
# while settling is True to see bounces. Times are compared modulo 2**30 (wrap-safe ticks).
from micropython import const

from drivers.ticks import ticks_diff, ticks_add

_NONE = const(-1)  # scan result: no key down
_MANY = const(-2)  # two or more keys down

KEYMAP_3X4 = "123456789*0#"


class MatrixKeypad:
    def __init__(self, rows, cols, now_ms, keymap=KEYMAP_3X4, debounce_ms=30):
        rows = tuple(rows)
        cols = tuple(cols)
        if not rows or not cols or len(keymap) != len(rows) * len(cols):
            raise ValueError("keymap")
        if debounce_ms < 0:
            raise ValueError("debounce_ms")
        self._rows = rows
        self._cols = cols
        self._keys = tuple(keymap[i] for i in range(len(keymap)))  # one str object per key, made once
        self._deb = debounce_ms
        for r in rows:
            r.value(1)  # idle: every row released
        self._raw = self._scan()  # what the last poll saw (_NONE, _MANY or a key index)
        self._since = now_ms  # when _raw took its value
        # True from a report (or a many-keys state) until all keys were released for debounce_ms;
        # keys already down at power-up report nothing until released
        self._held = self._raw != _NONE
        self.presses = 0  # keys reported so far

    @property
    def debounce_ms(self):
        return self._deb

    @property
    def keymap(self):
        return "".join(self._keys)

    @property
    def down(self):
        """True while the keypad waits for every key to be released (a key was reported and may be
        held, or several keys were down together)."""
        return self._held

    @property
    def settling(self):
        """True while what the matrix reads differs from the reported state: keep polling finely
        (only a poll can see a bounce)."""
        if self._held:
            return self._raw == _NONE
        return self._raw != _NONE

    def next_deadline(self, now_ms=None):
        """The tick at which poll() changes its state if the keys stay as they are (a press reported,
        or a release accepted); None when idle or while a reported key is still held (its release
        can only be seen by polling). now_ms is not needed (accepted for symmetry with poll)."""
        if self.settling:
            return ticks_add(self._since, self._deb)
        return None

    def _scan(self):
        found = _NONE
        cols = self._cols
        i = 0
        for r in self._rows:
            r.value(0)
            for c in cols:
                if not c.value():
                    found = i if found == _NONE else _MANY
                i += 1
            r.value(1)
        return found

    def poll(self, now_ms):
        """Scan the matrix once. Returns the key character when a press has been stable for
        debounce_ms (once per press), else None."""
        raw = self._scan()
        if raw != self._raw:
            self._raw = raw
            self._since = now_ms
        if self._held:
            if raw == _NONE and ticks_diff(now_ms, self._since) >= self._deb:
                self._held = False  # all released, stably
            return None
        if raw == _NONE or ticks_diff(now_ms, self._since) < self._deb:
            return None
        self._held = True
        if raw == _MANY:
            return None  # several keys at once: nothing until all are released
        self.presses += 1
        return self._keys[raw]
