# PIN entry on a keypad: an App input port (lockshell/ports.py protocol) that turns key presses into
# EV_CREDENTIAL events. The keypad is any object with poll(tick) -> key character or None,
# next_deadline() -> tick or None and settling (drivers/keypad.py MatrixKeypad).
#
#   entry = PinEntry(MatrixKeypad(rows, cols, now), entry_ms=10000)
#   app.add_port(entry)            # App polls it: entry.poll(app, now_ms, tick)
#   arg = entry.step(tick)         # the same without an App: None or the EV_CREDENTIAL arg
#
# Rules (docs/keypad.md):
# - digits accumulate; '#' submits; '*' clears the entry under way (silently); other keys (the
#   letters of a 4x4 keypad) are counted in keys_seen and otherwise ignored
# - '#' with min_digits..max_digits digits (4..8) gives (KIND_PIN, "1234"); with fewer (1..3) or more
#   (9 or more: digits past the 8th are not kept, they only spoil the entry) it gives REFUSED =
#   (KIND_PIN, "", R_UNKNOWN): the core logs a denial and counts it like a wrong PIN, and which rule
#   failed is not told. A lone '#' with nothing typed gives nothing (no attempt was made).
# - an entry left half-typed for entry_ms after its last key is cleared silently (timeouts counts it)
# - the digits live only in one preallocated bytearray (buf, max_digits long, injectable), overwritten
#   with zeros as soon as the entry is submitted, refused, cleared or timed out; the port keeps no
#   other copy (the ident str handed to the core is the core's; heap copies that the garbage collector
#   has not reused yet are beyond this module's reach)
# - feedback(code) (optional) is told FB_* codes for a beep or blink per key, never which digit; a
#   feedback that raises is counted (feedback_errors) and never stops the entry
# Nothing is allocated per poll while no key comes, nor per digit; only a submission makes its str.
from micropython import const

from drivers.ticks import ticks_diff, ticks_add
from lockctl.codes import EV_CREDENTIAL, KIND_PIN, R_UNKNOWN

MIN_DIGITS = const(4)
MAX_DIGITS = const(8)
ENTRY_MS = const(10000)

# feedback codes
FB_DIGIT = const(1)  # a digit was taken
FB_FULL = const(2)  # a digit past max_digits: the entry will be refused at '#'
FB_CLEAR = const(3)  # '*' cleared the entry
FB_TIMEOUT = const(4)  # a half-typed entry timed out
FB_SUBMIT = const(5)  # '#' handed a PIN of the right length to the core
FB_REFUSED = const(6)  # '#' refused the entry (too short or too long)

REFUSED = (KIND_PIN, "", R_UNKNOWN)  # the EV_CREDENTIAL arg of a refused entry (made once)


class PinEntry:
    kind = EV_CREDENTIAL

    def __init__(self, keypad, entry_ms=ENTRY_MS, min_digits=MIN_DIGITS, buf=None, feedback=None):
        if buf is None:
            buf = bytearray(MAX_DIGITS)
        if min_digits < 1 or min_digits > len(buf):
            raise ValueError("min_digits")
        if entry_ms <= 0:
            raise ValueError("entry_ms")
        self.keypad = keypad
        self.feedback = feedback
        self._buf = buf
        self._max = len(buf)
        self._min = min_digits
        self._ms = entry_ms
        self._typed = 0  # digits typed in the entry under way (may exceed _max: then refused)
        self._last = 0  # tick of the entry's last digit
        self.keys_seen = 0  # every key the keypad reported
        self.submitted = 0  # PINs handed to the core
        self.refused = 0  # entries refused at '#'
        self.timeouts = 0  # half-typed entries cleared by the timeout
        self.feedback_errors = 0
        self._wipe()

    @property
    def pending(self):
        """Digits typed in the entry under way (0: none)."""
        return self._typed

    @property
    def entry_ms(self):
        return self._ms

    def _wipe(self):
        buf = self._buf
        for i in range(self._max):
            buf[i] = 0
        self._typed = 0

    def clear(self):
        """Drop the entry under way (its digits are overwritten)."""
        self._wipe()

    def _tell(self, code):
        fb = self.feedback
        if fb is not None:
            try:
                fb(code)
            except Exception:
                self.feedback_errors += 1

    def step(self, tick):
        """Poll the keypad once; return the EV_CREDENTIAL arg of a submitted entry, else None."""
        key = self.keypad.poll(tick)
        if self._typed and ticks_diff(tick, self._last) >= self._ms:
            self._wipe()
            self.timeouts += 1
            self._tell(FB_TIMEOUT)
        if key is None:
            return None
        self.keys_seen += 1
        if key == "#":
            return self._submit()
        if key == "*":
            self._wipe()
            self._tell(FB_CLEAR)
            return None
        if not ("0" <= key <= "9"):
            return None
        self._last = tick
        n = self._typed
        if n < self._max:
            self._buf[n] = ord(key)
            self._typed = n + 1
            self._tell(FB_DIGIT)
        else:
            self._typed = self._max + 1  # spoilt: refused at '#' (the digit is not kept)
            self._tell(FB_FULL)
        return None

    def _submit(self):
        n = self._typed
        if n == 0:
            return None
        if n < self._min or n > self._max:
            self._wipe()
            self.refused += 1
            self._tell(FB_REFUSED)
            return REFUSED
        ident = str(memoryview(self._buf)[:n], "ascii")
        self._wipe()
        self.submitted += 1
        self._tell(FB_SUBMIT)
        return (KIND_PIN, ident)

    # ---------------------------------------------------------------- the App's port protocol
    def poll(self, app, now, tick):
        arg = self.step(tick)
        if arg is not None:
            app.feed(now, EV_CREDENTIAL, arg)

    def lost(self, app, now):
        """The keypad could not be scanned: the entry under way is lost."""
        self._wipe()

    def next_deadline(self):
        """The keypad's debounce deadline, or the timeout of a half-typed entry; None when idle."""
        d = self.keypad.next_deadline()
        if self._typed:
            t = ticks_add(self._last, self._ms)
            if d is None or ticks_diff(t, d) < 0:
                d = t
        return d

    def busy(self):
        return self.keypad.settling
