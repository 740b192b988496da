"""Interactive terminal door for `doorkit sim` (curses). The same VirtualDoor as the scenario runner,
advanced in real time (scaled by --speed) between key presses.

Session holds everything but curses (keys, the screen as text, saving), so it is tested without a
terminal. Each action a key takes is carried out the way a scenario line `at <t> <action>` is, at
the next millisecond of virtual time, and recorded; save() writes the session as a scenario file
(setup, one `at` line per action, `run until`, the log as `expect`) that `doorkit sim --script`
replays to the same log.
"""
import curses
import os
import time
from collections import deque

from lockctl.codes import T_AUTOLOCK, T_MOTION, T_BACKOFF, T_HELD
from lockctl.record import state_name

MIN_W, MIN_H = 80, 24  # the smallest terminal the door is drawn on (every key's help shows there)
LOG_KEEP = 5000  # lines of log and narration kept for scrolling back

# The board has its card reader (the PN532 emulator): keys put a virtual card in its field for TAP_MS.
# key -> (card name in sim/board.py's NFC_CARDS, user it is enrolled for or None, message)
TAP_MS = 1000
TAPS = {
    "1": ("mifare", "alice", "alice's MIFARE Classic"),
    "2": ("unknown", None, "an unknown card (a stranger's MIFARE)"),
    "3": ("ntag", "carol", "carol's NTAG215"),
    "4": ("uid10", "dave", "dave's 10-byte-UID card"),
    "5": ("suica", "bob", "bob's Suica"),
    "6": ("phone", "erin", "erin's phone (challenge-response)"),
}
REMOTE_USER = "bob"
PIN_USER, PIN, WRONG_PIN = "frank", "4711", "0000"  # frank's keypad PIN, and one nobody has

# the help, as it is drawn: rows of (key, what it does); every row fits 80 columns
HELP_ROWS = [
    [("o", "open door"), ("c", "close door"), ("F", "force open"), ("b", "button"),
     ("l/u", "knob to lock/unlock")],
    [("tap:", ""), ("1", "alice MIFARE"), ("2", "unknown"), ("3", "carol NTAG"), ("4", "dave UID10"),
     ("5", "bob Suica")],
    [("    ", ""), ("6", "erin's phone"), ("d", "reader dead/alive"), ("j", "jam/unjam"), ("r", "repair strike")],
    [("L/U", "remote lock/unlock"), ("a", "auto-lock"), ("p", "button-unlock"), ("C", "calibrate"),
     ("R", "reboot")],
    [("k/K", "keypad PIN right/wrong"), ("t", "set clock to now"), ("P", "power cut"), ("+/-", "speed")],
    [("[ ]", "PgUp/PgDn scroll log"), ("s", "save as .scn"), ("q", "quit")],
]


def help_segments(row):
    """One help row as (text, style) segments: the keys in the "key" style."""
    segs = [(" ", None)]
    for i, (key, what) in enumerate(row):
        segs += [("  " if i else "", None), (key, "key"), ((" " + what) if what else "", None)]
    return segs


HELP = ["".join(t for t, _ in help_segments(row)) for row in HELP_ROWS]
# every key the door knows -> the help label it is listed under
KEYS = {"o": "o", "c": "c", "F": "F", "b": "b", "l": "l/u", "u": "l/u", "d": "d", "j": "j", "r": "r",
        "L": "L/U", "U": "L/U", "a": "a", "p": "p", "C": "C", "R": "R", "+": "+/-", "=": "+/-", "-": "+/-",
        "[": "[ ]", "]": "[ ]", "PGUP": "[ ]", "PGDN": "[ ]", "HOME": "[ ]", "END": "[ ]", "s": "s", "q": "q",
        "k": "k/K", "K": "k/K", "t": "t", "P": "P"}
KEYS.update((k, k) for k in TAPS)

# log record names by how they are shown
_BAD = ("DENIED", "FORCED_OPEN", "HELD_OPEN", "JAM", "READER_DOWN", "CAL_FAIL")
_WARN = ("REFUSED", "RETRY", "ABORT")
_GOOD = ("UNLOCK", "LOCK", "JAM_CLEAR", "READER_UP", "CALIBRATED")
_STATE_STYLE = {"locked": "good", "unlocked": "warn", "unlocking": "warn", "locking": "warn",
                "jammed": "bad", "uncalibrated": "bad", "calibrating": "warn"}


class TerminalUnfit(Exception):
    """The terminal cannot show the door (no cursor addressing)."""


def run(seed=0, speed=1.0):
    """The interactive door; returns the exit status (0 quit, 2 unusable terminal, 130 Ctrl-C)."""
    try:
        return curses.wrapper(_main, seed, speed)
    except KeyboardInterrupt:  # Ctrl-C: the terminal is restored by wrapper; leave quietly
        return 130
    except (curses.error, TerminalUnfit) as e:
        import sys
        sys.stderr.write("doorkit sim: this terminal cannot show the door (TERM=%s: %s); try TERM=xterm, "
                         "or run a scenario: doorkit sim --script FILE\n" % (os.environ.get("TERM", "unset"), e))
        return 2


def make_door(seed=0):
    from doorkit.sim.board import VirtualDoor
    return VirtualDoor(seed=seed, calibration="ends", keys=door_keys(), nfc=True)


def door_keys():
    """The enrolled keys of the interactive door: the cards of TAPS that have a user."""
    from doorkit.sim.board import NFC_CARDS
    return [NFC_CARDS[name][1] + (user,) for name, user, _ in TAPS.values() if user] + [("pin", PIN, PIN_USER)]


def _secs(ms):
    return "%.1f s" % (ms / 1000.0)


class Session:
    """Key handling and screen text, apart from curses so it can be tested without a terminal."""

    def __init__(self, seed=0, speed=1.0):
        self.seed = seed
        self.lines = deque(maxlen=LOG_KEEP)
        self.door = make_door(seed)
        self.speed = speed
        self.message = "ready: press a key (listed above)"
        self.style = None  # how the message is shown: None, "warn" (did nothing) or "bad" (refused)
        self.actions = []  # (t, scenario action text) of every action carried out, in order
        self.scroll = 0  # log lines scrolled back from the newest
        self.page = 9  # log rows on the last screen drawn
        self._note = None
        self.said_no = False  # a REFUSED / DENIED record came since the last action
        self._opened_since_unlock = False
        self._hook(self.door)

    def _hook(self, door):
        door.on_record = self._on_record
        door.world.on_note = self._on_note
        for r in door.records:
            self._on_record(r)

    def _on_record(self, rec):
        text = self.door.format(rec)
        self.lines.append(text)
        if self.scroll:
            self.scroll += 1  # the view stays on the lines being read
        name = text.split(" ", 2)[1]
        if name == "UNLOCK" or name == "MANUAL_UNLOCK":
            self._opened_since_unlock = False
        elif name == "DOOR_OPEN" or name == "FORCED_OPEN":
            self._opened_since_unlock = True
        if name in ("REFUSED", "DENIED"):  # the lock said no: say so where the user looks
            self.said_no = True
            self.say("the lock said no: %s" % text.split(" ", 1)[1], "bad")

    def _on_note(self, t, text):
        self._note = text
        self.lines.append("# %d %s" % (t, text))
        if self.scroll:
            self.scroll += 1

    def say(self, message, style=None):
        self.message = message
        self.style = style

    # ------------------------------------------------------------------ keys
    def key(self, ch):
        """Handle one key (a character, or PGUP / PGDN / HOME / END); returns False to quit."""
        d = self.door
        st = d.status()
        if ch == "q":
            return False
        if ch == "o":
            if st["door_open"]:
                self.say("the door is already open: nothing to do", "warn")
            else:
                self._act("door open", d.open_door, "door opened")
        elif ch == "c":
            if not st["door_open"]:
                self.say("the door is already closed: nothing to do", "warn")
            else:
                self._act("door close", d.close_door, "door closed")
        elif ch == "F":
            if st["door_open"]:
                self.say("the door is already open: nothing to force", "warn")
            else:
                self._act("force door open", lambda: d.open_door(force=True), "door forced open")
        elif ch == "b":
            if d.world.button_pressed:
                self.say("the button is still held down", "warn")
            else:
                self._act("button", d.press_button, "button pressed")
        elif ch in ("l", "u"):
            where = "lock" if ch == "l" else "unlock"
            self._act("turn %s" % where, lambda: d.turn(where), "turning the knob to %s by hand" % where)
        elif ch == "j":
            if d.world.jammed:
                self._act("unjam", d.unjam, "motor freed")
            else:
                self._act("jam hold", lambda: d.jam(moves=None), "motor jammed (until j again)")
        elif ch in TAPS:
            name, _, what = TAPS[ch]
            self._act("tap %s %d" % (name, TAP_MS), lambda: d.tap(name, TAP_MS),
                      "%s on the reader for %g s" % (what, TAP_MS / 1000.0))
        elif ch == "d":
            if d.pn532.silent:
                self._act("reader alive", lambda: d.reader_dead(False), "the reader answers again")
            else:
                self._act("reader dead", lambda: d.reader_dead(True), "the reader goes silent")
        elif ch in ("L", "U"):
            cmd = "lock" if ch == "L" else "unlock"
            self._act("remote %s %s" % (cmd, REMOTE_USER), lambda: d.remote(cmd, REMOTE_USER),
                      "remote %s (%s)" % (cmd, REMOTE_USER), lock_facing=True)
        elif ch == "a":
            on = not d.core.cfg["auto_lock"]
            self._act("set auto_lock=%s" % ("on" if on else "off"), lambda: d.configure(auto_lock=on),
                      "auto-lock %s" % ("on" if on else "off"))
        elif ch == "p":
            on = not d.core.cfg["button_unlock"]
            self._act("set button_unlock=%s" % ("on" if on else "off"), lambda: d.configure(button_unlock=on),
                      "button unlock %s" % ("on" if on else "off"))
        elif ch == "C":
            self._act("calibrate auto", lambda: d.calibrate("auto"), "auto calibration started", lock_facing=True)
        elif ch == "R":
            self._act("reboot", d.reboot, "rebooted")
        elif ch in ("k", "K"):
            pin = PIN if ch == "k" else WRONG_PIN
            self._act("pin %s" % pin, lambda: d.keypad_type(pin + "#"),
                      "%s typed on the keypad" % ("%s's PIN" % PIN_USER if ch == "k" else "a wrong PIN"))
        elif ch == "t":
            import datetime
            now = int(time.time())
            iso = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._act("clock set %s" % iso, lambda: d.set_clock(now), "clock set to %s" % iso)
        elif ch == "P":
            self._act("power cut", d.power_cut, "power cut: RAM and the clock are lost, the flash keeps the log")
        elif ch == "r":
            if not st["strike_broken"]:
                self.say("the strike is not broken: nothing to repair", "warn")
            else:
                self._act("repair", d.world.repair, "strike repaired")
        elif ch in ("+", "="):
            if self.speed >= 64.0:
                self.say("speed is already x64, the fastest", "warn")
            else:
                self.speed = min(64.0, self.speed * 2)
                self.say("speed x%g" % self.speed)
        elif ch == "-":
            if self.speed <= 1 / 16.0:
                self.say("speed is already x1/16, the slowest", "warn")
            else:
                self.speed = max(1 / 16.0, self.speed / 2)
                self.say("speed x%g" % self.speed)
        elif ch in ("[", "PGUP", "]", "PGDN", "HOME", "END"):
            self._scroll(ch)
        elif ch == "s":
            self.save_here()
        else:
            shown = ch if len(ch) == 1 and ch.isprintable() else "that key"
            self.say("%s does nothing here (the keys are listed above)" % (repr(shown) if len(ch) == 1 else shown),
                     "warn")
        return True

    def _act(self, text, fn, done, lock_facing=False):
        """Carry out a user action as the scenario line `at <now + 1> <text>` does: scheduled for
        the next millisecond and run by the door's own loop, then recorded (a refused one is not)."""
        d = self.door
        t = d.now + 1
        box = {}
        before = (d.record_count, d.core.state, d.status()["motor"])

        def perform():
            self._note = None
            try:
                box["result"] = fn()
            except ValueError as e:  # the lock refused it: nothing changed
                box["error"] = str(e)
            box["note"] = self._note

        self.said_no = False
        d.schedule(t, perform)
        self.advance(1)
        if "error" in box:
            self.say("refused: %s" % box["error"], "bad")
            return
        self.actions.append((t, text))
        if box.get("result") is False:  # the world says why nothing happened
            self.say("nothing happens: %s" % (box["note"] or text), "warn")
        elif lock_facing and (d.record_count, d.core.state, d.status()["motor"]) == before:
            self.say("%s: the lock did nothing (it is %s)" % (done, state_name(d.core.state)), "warn")
        elif not self.said_no:  # else the lock's refusal stays on show
            self.say(done)

    def _scroll(self, ch):
        n = len(self.lines)
        most = max(0, n - self.page)
        if ch in ("[", "PGUP"):
            self.scroll = min(most, self.scroll + self.page)
        elif ch in ("]", "PGDN"):
            self.scroll = max(0, self.scroll - self.page)
        elif ch == "HOME":
            self.scroll = most
        else:
            self.scroll = 0
        if self.scroll:
            first = n - self.scroll - self.page + 1
            self.say("log: lines %d-%d of %d (] or End for the newest)" % (max(1, first), n - self.scroll, n))
        else:
            self.say("log: the newest lines")

    def advance(self, ms):
        if ms > 0:
            self.door.advance(ms)
        ind = self.door.board.indicator
        if ind is not None:
            ind.poll(self.door.now)  # LED / buzzer outputs for the display only

    # ------------------------------------------------------------------ saving
    def scenario_text(self, name="session.scn"):
        """The session as a scenario file: replayed by `doorkit sim --script`, it gives this log."""
        d = self.door
        out = ["# doorkit sim session, saved %s (%d actions, %d ms of virtual time)"
               % (time.strftime("%Y-%m-%d %H:%M:%S"), len(self.actions), d.now),
               "# replay: doorkit sim --script %s" % name,
               "seed %d" % self.seed, "calibrated yes", "nfc on"]
        out += ["key %s %s %s" % k for k in door_keys()]
        out.append("")
        out += ["at %d %s" % a for a in self.actions]
        out += ["run until %d" % d.now, "", "expect"]
        out += ["  " + line for line in d.lines()]
        return "\n".join(out) + "\n"

    def save(self, path):
        """Write the session to path (never over an existing file); OSError if it cannot."""
        text = self.scenario_text(os.path.basename(path))
        with open(path, "x") as f:
            f.write(text)
        return path

    def save_here(self, folder="."):
        """save() to the first free doorkit-sim-N.scn in folder; says what happened."""
        for n in range(1, 10000):
            name = "doorkit-sim-%d.scn" % n
            path = name if folder == "." else os.path.join(folder, name)
            if os.path.exists(path):
                continue
            try:
                self.save(path)
            except FileExistsError:
                continue
            except OSError as e:
                self.say("cannot save %s: %s" % (path, e.strerror or e), "bad")
                return None
            self.say("saved %s: doorkit sim --script %s replays it" % (path, path))
            return path
        self.say("cannot save: doorkit-sim-1..9999.scn all exist here", "bad")
        return None

    # ------------------------------------------------------------------ the screen
    def timers(self):
        """(label, ms left or None) for the core's pending timers."""
        core, now = self.door.core, self.door.now
        out = []
        for tid, label in ((T_AUTOLOCK, "relock" if not self._opened_since_unlock else "auto-lock"),
                           (T_MOTION, "jam check"), (T_BACKOFF, "retry"), (T_HELD, "held-open")):
            t = core.deadline(tid)
            out.append((label, None if t is None else max(0, t - now)))
        return out

    def rows(self, width=MIN_W, height=MIN_H):
        """The screen as rows of (text, style) segments; style None, "title", "key", "good", "warn",
        "bad" or "dim". Below MIN_W x MIN_H only a 'terminal too small' notice."""
        if width < MIN_W or (height is not None and height < MIN_H):
            return [[(s[:max(0, width - 1)], "bad" if i == 0 else None)] for i, s in enumerate([
                "terminal too small: %dx%s" % (width, height if height is not None else "?"),
                "doorkit sim needs %dx%d;" % (MIN_W, MIN_H),
                "resize it, or q to quit"])][:height]
        d = self.door
        st = d.status()
        w = d.world
        span = w.unlock_deg - w.lock_deg
        frac = (w.angle - w.lock_deg) / span if span else 0
        n = 24
        k = int(round(frac * n))
        bar = "#" * k + "." * (n - k)
        motor = {1: "driving -> unlock", -1: "driving -> lock", 0: "stopped"}[st["motor"]]
        blocked = bool(st["motor"] and w.blocked())
        cal = st["calibration"]
        timers = self.timers()
        auto = timers[0]
        rows = [
            [("doorkit sim - virtual door", "title"), ("   t = %.3f s   speed x%g   seed %d"
                                                      % (st["t"] / 1000.0, self.speed, self.seed), None)],
            [(" lock    ", None), ("%-13s" % st["state"].upper(), _STATE_STYLE.get(st["state"])),
             (" alarm: ", None), ("%-4s" % ("ON" if st["alarm"] else "-"), "bad" if st["alarm"] else None),
             (" calibration: %-10s" % ("%d,%d" % cal if cal else "none"), None),
             (("%s in %s" % (auto[0], _secs(auto[1]))) if auto[1] is not None else "", "warn")],
            [(" bolt    [%s] %5.1f deg  " % (bar, w.angle), None),
             ("thrown" if w.bolt_thrown() else "retracted", "good" if w.bolt_thrown() else "warn"),
             ("  position %s" % st["position"], None), ("  (hand on the knob)" if st["hand"] else "", "warn")],
            [(" door    %-8s (sensor: %s)" % ("OPEN" if st["door_open"] else "closed",
                                              "open" if st["door_sensed"] else "closed"), None),
             ("   strike BROKEN" if st["strike_broken"] else "", "bad")],
            [(" motor   ", None), ("%-17s" % motor, None), ("%-8s" % (" BLOCKED" if blocked else ""), "bad"),
             (" current %5d  jam " % st["current"], None), ("%-3s" % ("YES" if st["jam"] else "-"),
                                                           "bad" if st["jam"] else None),
             ("  led %-2s buzzer %s" % ("ON" if st["led"] else "-", "ON" if st["buzzer"] else "-"), None)],
            [(" reader  ", None), ("%-4s" % (st["reader"] or "none").upper(), "bad" if st["reader"] == "down" else None),
             ("%s   in the field: %s" % (" (silent)" if d.pn532 is not None and d.pn532.silent else "",
                                         ", ".join(d.in_field()) or "-"), None)],
            [(" timers  ", None), ("   ".join("%s %s" % (label, _secs(ms) if ms is not None else "-")
                                              for label, ms in timers), None)],
            [(" set     auto-lock %s, %d ms   relock %d ms   button-unlock %s" % (
                "on" if st["auto_lock"] else "off", d.core.cfg["auto_lock_ms"], d.core.cfg["relock_ms"],
                "on" if st["button_unlock"] else "off"), None)],
        ]
        rows += [help_segments(row) for row in HELP_ROWS]
        rows.append([(" > ", None), (self.message, self.style)])
        lines = list(self.lines)
        where = " (scrolled back %d: ] or End for the newest)" % self.scroll if self.scroll else ""
        head = " --- event log%s " % where
        rows.append([(head + "-" * max(0, min(width, 100) - 1 - len(head)), "dim")])
        if height is not None:
            self.page = max(1, height - len(rows))
            self.scroll = min(self.scroll, max(0, len(lines) - self.page))
            end = len(lines) - self.scroll
            for text in lines[max(0, end - self.page):end]:
                rows.append([(" " + text, _line_style(text))])
        out = []
        for row in rows:  # cut every row to width - 1 columns (curses cannot write the last cell)
            room = width - 1
            cut = []
            for text, style in row:
                if room <= 0:
                    break
                if text:
                    cut.append((text[:room], style))
                    room -= len(text[:room])
            out.append(cut)
        return out

    def screen(self, width=100, height=None):
        """The screen as plain text lines (rows() without styles); height None: no log rows."""
        return ["".join(t for t, _ in row) for row in self.rows(width, height)]


def _line_style(text):
    if text.startswith("#"):
        return "dim"
    parts = text.split(" ", 2)
    name = parts[1] if len(parts) > 1 else ""
    if name in _BAD:
        return "bad"
    if name in _WARN:
        return "warn"
    if name in _GOOD:
        return "good"
    return None


# ---------------------------------------------------------------------- curses
_SPECIAL = {"KEY_PPAGE": "PGUP", "KEY_NPAGE": "PGDN", "KEY_HOME": "HOME", "KEY_END": "END"}


def keyname(ch):
    """A curses getch() code -> what Session.key() takes, or None for a key to ignore (resize)."""
    if 0 <= ch < 256:
        return chr(ch)
    for attr, name in _SPECIAL.items():
        if ch == getattr(curses, attr, None):
            return name
    if ch == getattr(curses, "KEY_RESIZE", None):
        return None
    return "KEY_%d" % ch


def plain_styles():
    """Styles for a terminal without colour: bold for what matters, reverse for the title."""
    return {None: 0, "title": curses.A_REVERSE, "key": curses.A_BOLD, "good": 0, "warn": curses.A_BOLD,
            "bad": curses.A_BOLD, "dim": 0}


def colour_styles():
    """Colour pairs when the terminal has colours (and NO_COLOR is not set), else plain_styles()."""
    if os.environ.get("NO_COLOR"):
        return plain_styles()
    try:
        if not curses.has_colors():
            return plain_styles()
        curses.start_color()
        bg = -1
        try:
            curses.use_default_colors()
        except curses.error:
            bg = curses.COLOR_BLACK
        styles = {None: 0, "title": curses.A_REVERSE | curses.A_BOLD}
        for i, (name, fg, extra) in enumerate((("key", curses.COLOR_CYAN, curses.A_BOLD),
                                               ("good", curses.COLOR_GREEN, 0),
                                               ("warn", curses.COLOR_YELLOW, curses.A_BOLD),
                                               ("bad", curses.COLOR_RED, curses.A_BOLD),
                                               ("dim", curses.COLOR_BLUE, 0)), 1):
            curses.init_pair(i, fg, bg)
            styles[name] = curses.color_pair(i) | extra
        return styles
    except curses.error:
        return plain_styles()


def _main(stdscr, seed, speed):
    if not curses.tigetstr("cup"):
        raise TerminalUnfit("it cannot move the cursor")
    try:
        curses.curs_set(0)
    except curses.error:
        pass
    stdscr.keypad(True)
    stdscr.timeout(40)
    styles = colour_styles()
    s = Session(seed, speed)
    last = time.monotonic()
    carry = 0.0
    while True:
        ch = stdscr.getch()
        while ch != -1:
            name = keyname(ch)
            if name is not None and not s.key(name):
                return 0
            ch = stdscr.getch()
        t = time.monotonic()
        carry += (t - last) * 1000.0 * s.speed
        last = t
        ms = int(carry)
        carry -= ms
        s.advance(min(ms, 60000))
        draw(stdscr, s, styles)


def draw(stdscr, s, styles):
    h, w = stdscr.getmaxyx()
    stdscr.erase()
    for y, row in enumerate(s.rows(w, h)[:h]):
        x = 0
        for text, style in row:
            try:
                stdscr.addstr(y, x, text, styles.get(style, 0))
            except curses.error:
                pass
            x += len(text)
    stdscr.refresh()
