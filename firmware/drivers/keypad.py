# Matrix keypad (3x4 membrane or switch keypad), scanned by polling. Nothing blocks, nothing sleeps,
# poll() allocates nothing (the key characters are made once, in the constructor).
#
#   kp = MatrixKeypad(rows, cols, now_ms)   # rows: output Pins, cols: input Pins with pull-up
#   key = kp.poll(now_ms)                   # None, or one key character ("0".."9", "*", "#")
#   kp.next_deadline()                      # tick at which poll() reports if the keys hold, or None
#
# Wiring: key (r, c) shorts row r to column c. Idle, every row is driven low, so a poll with no key
# down reads just the columns (3 pin calls for 4x3). When a column reads low, the scan releases the
# rows and drives one low at a time, reading every column (a pressed key reads 0 on its column while
# its row is low), then drives them all low again. Rows are
# best made Pin.OPEN_DRAIN (or given series resistors): then "high" is released, and two keys of one
# column pressed together never short a high row to a low one (docs/keypad.md). keymap is read row
# by row: keymap[r * len(cols) + c] is the key at row r, column c. A full scan is about 30 pin
# operations for 4x3 (tens of microseconds on an ESP32, where each MicroPython pin call takes long
# enough for a column's pull-up to settle; no delay is needed).
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
            r.value(0)  # idle: every row driven low, so one read of the columns sees any key
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
        # idle (all rows low): a key pulls its column low; with every column high no key is down,
        # and the scan was just the column reads (the common case: a poll every 10-50 ms)
        cols = self._cols
        for c in cols:
            if not c.value():
                break
        else:
            return _NONE
        rows = self._rows
        for r in rows:
            r.value(1)
        found = _NONE
        i = 0
        for r in rows:
            r.value(0)
            for c in cols:
                if not c.value():
                    found = i if found == _NONE else _MANY
                i += 1
            r.value(1)
        for r in rows:
            r.value(0)  # back to idle
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


# Wiegand keypad: a keypad (often with a card reader) that sends each key as a burst of bits on two
# lines, D0 and D1 (idle high; a 0 bit is a short low pulse on D0, a 1 bit one on D1, about 1-2 ms
# apart). Wire them through a 5 V -> 3.3 V level shifter to two inputs. Key bursts, MSB first:
#   4 bits: the key code (0-9 digits, 10 = '*', 11 = '#')
#   8 bits: the complement of the code in the high nibble, the code in the low nibble (0xE1 = '1')
# Other lengths (26 / 34-bit card reads) or codes are counted in `errors` and dropped; bits=8 (or 4)
# accepts only that length (8-bit bursts carry a check: an 8-bit burst that lost 4 bits would
# otherwise read as a 4-bit key).
#
#   kp = WiegandKeypad(d0_pin, d1_pin, now_ms)   # installs falling-edge IRQs on both pins
#   key = kp.poll(now_ms)                        # None, or one key character, once a burst has ended
#
# The IRQ handlers only store one bit in a preallocated ring and move its head (no allocation, so
# they may run as hard IRQs: hard=True passes hard=True to Pin.irq on ports that have it, rp2 and
# stm32). The ESP32 port's Pin.irq has no `hard` argument: its handlers are always scheduled, and
# run between bytecodes within microseconds, except while a long native call (a flash erase) holds
# the VM: more bits than the scheduler queue holds are then lost, and the burst is dropped as an
# error (wrong length), not read as another key. poll() alone moves the tail, so the two never race.
# A burst has ended when no bit came for gap_ms between polls. The interface is MatrixKeypad's
# (poll, next_deadline, settling), so lockshell.keypad.PinEntry takes either.
_RING = const(64)  # bits held between polls (a power of two)
_RING_MASK = const(63)
_COUNT_MASK = const(255)  # head and tail count modulo 256 (> _RING: an overflow is seen)
WIEGAND_KEYS = "0123456789*#"


class WiegandKeypad:
    def __init__(self, d0, d1, now_ms, gap_ms=25, bits=0, hard=False):
        if bits != 0 and bits != 4 and bits != 8:
            raise ValueError("bits")
        self._only = bits
        self._bits = bytearray(_RING)
        self._head = 0  # written by the IRQ handlers only
        self._tail = 0  # written by poll() only
        self._seen = 0  # bits pending at the last poll
        self._since = now_ms  # when the pending count last changed, as seen by polls
        self._gap = gap_ms
        self._keys = tuple(WIEGAND_KEYS[i] for i in range(len(WIEGAND_KEYS)))
        self.presses = 0
        self.errors = 0  # bursts that were not a key
        self._h0 = self._on_d0  # bound once: the IRQ gets the same object every time
        self._h1 = self._on_d1
        for pin, h in ((d0, self._h0), (d1, self._h1)):
            if hard:
                pin.irq(handler=h, trigger=pin.IRQ_FALLING, hard=True)
            else:
                pin.irq(handler=h, trigger=pin.IRQ_FALLING)

    def _on_d0(self, pin):
        h = self._head
        self._bits[h & _RING_MASK] = 0
        self._head = (h + 1) & _COUNT_MASK

    def _on_d1(self, pin):
        h = self._head
        self._bits[h & _RING_MASK] = 1
        self._head = (h + 1) & _COUNT_MASK

    @property
    def settling(self):
        """True while bits are pending (a burst under way or just ended)."""
        return self._head != self._tail

    def next_deadline(self, now_ms=None):
        if self._head == self._tail:
            return None
        return ticks_add(self._since, self._gap)

    def poll(self, now_ms):
        h = self._head  # one snapshot: bits arriving from here on belong to the next poll
        n = (h - self._tail) & _COUNT_MASK
        if n == 0:
            return None
        if n != self._seen:
            self._seen = n
            self._since = now_ms
            return None
        if ticks_diff(now_ms, self._since) < self._gap:
            return None
        t = self._tail
        self._tail = h
        self._seen = 0
        if (n == 4 or n == 8) and (self._only == 0 or n == self._only):
            v = 0
            bits = self._bits
            for i in range(n):
                v = (v << 1) | bits[(t + i) & _RING_MASK]
            code = v & 15
            if (n == 4 or (v >> 4) == 15 - code) and code < 12:
                self.presses += 1
                return self._keys[code]
        self.errors += 1
        return None
