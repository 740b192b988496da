"""A virtual matrix keypad (3x4 by default) wired as pins, for firmware/drivers/keypad.py MatrixKeypad.

    kp = VirtualKeypad(clock=lambda: world.now, seed=1)
    driver = MatrixKeypad(kp.rows, kp.cols, world.now)     # the real driver over the virtual pins
    kp.press("5", 120)          # closes now (bouncing), opens 120 ms later (bouncing)
    kp.type("1234#")            # a sequence: hold_ms each, gap_ms between presses

Electrics: key (r, c) is a contact between row r and column c. Rows are the driver's outputs
(SimPin outputs: value(v) / value(); init() as machine.Pin); a column (a SimPin input with pull-up)
reads 0 when a chain of closed contacts joins it to a row driven low, else 1. Without diodes (the
default, as cheap membrane keypads are) a chain may go through other keys, so three keys at the corners
of a rectangle make the fourth read pressed (ghosting); diodes=True counts only the key's own contact.

Every make and break bounces: the contact toggles at bounce_times() of sim/world.py (bounce=(lo, hi) ms
of chatter with gaps of 1..max_gap ms, seeded per keypad), the same model as the door's reed and the
button. Contact changes are scheduled edges in virtual time: next_edge() says when the next one
happens, so a runner that jumps over quiet time can wake there (the driver can only see a press by
polling). The clock is any callable returning virtual ms.

A runner that builds its pins elsewhere (a `machine` stand-in, by pin number) can hand its row pins
over with attach_row(r, pin) and build its column pins with SimPin(read=kp.col_reader(c)).
"""
import random

from .world import Line, SimPin, bounce_times

KEYMAP_3X4 = "123456789*0#"


class VirtualKeypad:
    def __init__(self, clock, keymap=KEYMAP_3X4, nrows=4, ncols=3, seed=0, bounce=(1, 6), max_gap=2,
                 diodes=False):
        if len(keymap) != nrows * ncols:
            raise ValueError("keymap must have nrows * ncols keys")
        self.clock = clock
        self.keymap = keymap
        self.nrows = nrows
        self.ncols = ncols
        self.bounce = tuple(bounce)
        self.max_gap = max(1, int(max_gap))
        self.diodes = bool(diodes)
        self._rng = random.Random("keypad:%s" % seed)
        self.contacts = [Line(0) for i in range(nrows * ncols)]  # 1 = closed
        self.rows = [SimPin(i, SimPin.OUT, value=1, name="kp-row%d" % i) for i in range(nrows)]
        self.cols = [SimPin(i, SimPin.IN, SimPin.PULL_UP, read=self.col_reader(i), name="kp-col%d" % i)
                     for i in range(ncols)]
        self.presses = 0  # presses scheduled
        self._active = False  # a contact may be closed or have changes scheduled
        self.reads = 0  # column reads (a scan reads every column once per row)

    # ------------------------------------------------------------------ wiring
    def attach_row(self, r, pin):
        """Use pin (made elsewhere, an output with value()) as row r."""
        self.rows[r] = pin

    def col_reader(self, c):
        """A callable -> 0/1: column c's level now (for SimPin(read=...))."""
        return lambda: self.col_level(c)

    def _index(self, key):
        i = self.keymap.find(key) if isinstance(key, str) and len(key) == 1 else -1
        if i < 0:
            raise ValueError("no key %r on this keypad" % (key,))
        return i

    def _idle(self):
        """True when no contact is closed or has a change scheduled (the common case: nothing to
        compute for a column read or a runner's next wake)."""
        if not self._active:
            return True
        now = self.clock()
        for line in self.contacts:
            line.sync(now)
            if line.level or line.edges:
                return False
        self._active = False
        return True

    def col_level(self, c):
        self.reads += 1
        if self._idle():
            return 1
        now = self.clock()
        nc = self.ncols
        closed = []
        for i, line in enumerate(self.contacts):
            if line.edges and line.edges[0] <= now:
                line.sync(now)
            if line.level:
                closed.append(i)
        if not closed:
            return 1
        low = [self.rows[r].value() == 0 for r in range(self.nrows)]
        if self.diodes:
            for i in closed:
                if i % nc == c and low[i // nc]:
                    return 0
            return 1
        # nodes: rows 0..nrows-1, columns nrows..; closed contacts join them (no diodes: any chain)
        seen = {self.nrows + c}
        todo = [self.nrows + c]
        while todo:
            n = todo.pop()
            for i in closed:
                a, b = i // nc, self.nrows + i % nc
                other = b if n == a else a if n == b else None
                if other is not None and other not in seen:
                    seen.add(other)
                    todo.append(other)
        for r in range(self.nrows):
            if r in seen and low[r]:
                return 0
        return 1

    # ------------------------------------------------------------------ people
    def _schedule(self, i, t, level):
        line = self.contacts[i]
        now = self.clock()
        line.sync(now)
        if line.final == level:
            return False
        if line.edges and t <= line.edges[-1]:
            raise ValueError("key %r: a change at %d overlaps the one ending at %d"
                             % (self.keymap[i], t, line.edges[-1]))
        if t < now:
            raise ValueError("time cannot go backwards (%d < %d)" % (t, now))
        line.edges.extend(bounce_times(self._rng, t, self.bounce[0], self.bounce[1], self.max_gap))
        line.sync(now)
        self._active = True
        return True

    def press(self, key, ms=None, at=None):
        """Press key at `at` (default now); with ms, release it ms later. Returns the release time
        (or None)."""
        i = self._index(key)
        t = self.clock() if at is None else at
        if ms is not None and ms <= self.bounce[1]:
            raise ValueError("a press must last longer than its bounce (%d ms)" % self.bounce[1])
        if not self._schedule(i, t, 1):
            raise ValueError("key %r is already pressed" % (key,))
        self.presses += 1
        if ms is None:
            return None
        self._schedule(i, t + ms, 0)
        return t + ms

    def release(self, key, at=None):
        """Let key go at `at` (default now); a key that is not pressed: nothing."""
        i = self._index(key)
        return self._schedule(i, self.clock() if at is None else at, 0)

    def release_all(self, at=None):
        for k in self.keymap:
            self.release(k, at)

    def type(self, keys, at=None, hold_ms=120, gap_ms=150):
        """Press each key of `keys` in turn for hold_ms, gap_ms apart (press to press: hold_ms +
        gap_ms). Returns the time of the last release."""
        t = self.clock() if at is None else at
        end = t
        for k in keys:
            end = self.press(k, hold_ms, at=t)
            t = end + gap_ms
        return end

    # ------------------------------------------------------------------ what a runner needs
    def pressed(self, key):
        """Whether key's contact is closed now."""
        line = self.contacts[self._index(key)]
        line.sync(self.clock())
        return line.level == 1

    def next_edge(self):
        """The next scheduled contact change (a bounce included), or None."""
        if self._idle():
            return None
        best = None
        now = self.clock()
        for line in self.contacts:
            line.sync(now)
            e = line.next_edge()
            if e is not None and (best is None or e < best):
                best = e
        return best

    def last_change(self):
        """When the last scheduled change settles (every contact at its final level), or None."""
        last = None
        for line in self.contacts:
            if line.edges and (last is None or line.edges[-1] > last):
                last = line.edges[-1]
        return last
