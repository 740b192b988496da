"""Interactive terminal door for `doorkit sim` (curses). The same VirtualDoor as the scenario runner,
advanced in real time (scaled by --speed) between key presses."""
import curses
import time
from collections import deque

from lockctl.record import format_record

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

HELP = [
    "o open door   c close door   F force door open   b press button   l/u turn knob by hand to lock/unlock",
    "tap for 1 s: 1 alice's MIFARE  2 unknown card  3 carol's NTAG  4 dave's 10-byte UID  5 bob's Suica  6 erin's phone",
    "d reader dead/alive   j jam/unjam motor   L/U remote lock/unlock (bob)   a auto-lock on/off",
    "p button-unlock on/off   C auto calibration   R reboot   r repair strike   +/- speed   q quit",
]


def run(seed=0, speed=1.0):
    try:
        return curses.wrapper(_main, seed, speed)
    except KeyboardInterrupt:  # Ctrl-C: the terminal is restored by wrapper; leave quietly
        return 130


def make_door(seed=0):
    from doorkit.sim.board import VirtualDoor, NFC_CARDS
    keys = [NFC_CARDS[name][1] + (user,) for name, user, _ in TAPS.values() if user]
    return VirtualDoor(seed=seed, calibration="ends", keys=keys, nfc=True)


class Session:
    """Key handling and screen text, apart from curses so it can be tested without a terminal."""

    def __init__(self, seed=0, speed=1.0):
        self.lines = deque(maxlen=400)
        self.door = make_door(seed)
        self.speed = speed
        self.message = "ready"
        self._hook(self.door)

    def _hook(self, door):
        door.on_record = lambda r: self.lines.append(format_record(r))
        door.world.on_note = lambda t, s: self.lines.append("# %d %s" % (t, s))
        for r in door.records:
            self.lines.append(format_record(r))

    def key(self, ch):
        """Handle one key; returns False to quit."""
        d = self.door
        core = d.app.core
        try:
            if ch == "q":
                return False
            elif ch == "o":
                self.message = "door opened" if d.open_door() else "the door did not open"
            elif ch == "c":
                self.message = "door closed" if d.close_door() else "the door did not close"
            elif ch == "F":
                self.message = "door forced open" if d.open_door(force=True) else "the door is already open"
            elif ch == "b":
                d.press_button()
                self.message = "button pressed"
            elif ch == "l":
                d.turn("lock")
                self.message = "turning the knob to lock by hand"
            elif ch == "u":
                d.turn("unlock")
                self.message = "turning the knob to unlock by hand"
            elif ch == "j":
                if d.world.jammed:
                    d.unjam()
                    self.message = "motor freed"
                else:
                    d.jam(moves=None)
                    self.message = "motor jammed (until j again)"
            elif ch in TAPS:
                name, _, what = TAPS[ch]
                d.tap(name, TAP_MS)
                self.message = "%s on the reader for %g s" % (what, TAP_MS / 1000.0)
            elif ch == "d":
                dead = not d.pn532.silent
                d.reader_dead(dead)
                self.message = "the reader goes silent" if dead else "the reader answers again"
            elif ch == "L":
                d.remote("lock", "bob")
                self.message = "remote lock"
            elif ch == "U":
                d.remote("unlock", "bob")
                self.message = "remote unlock"
            elif ch == "a":
                d.configure(auto_lock=not core.cfg["auto_lock"])
                self.message = "auto-lock %s" % ("on" if core.cfg["auto_lock"] else "off")
            elif ch == "p":
                d.configure(button_unlock=not core.cfg["button_unlock"])
                self.message = "button unlock %s" % ("on" if core.cfg["button_unlock"] else "off")
            elif ch == "C":
                d.calibrate("auto")
                self.message = "auto calibration started"
            elif ch == "R":
                d.reboot()
                self.message = "rebooted"
            elif ch == "r":
                d.world.repair()
                self.message = "strike repaired"
            elif ch in ("+", "="):
                self.speed = min(64.0, self.speed * 2)
                self.message = "speed x%g" % self.speed
            elif ch == "-":
                self.speed = max(1 / 16.0, self.speed / 2)
                self.message = "speed x%g" % self.speed
        except ValueError as e:
            self.message = "refused: %s" % e
        return True

    def advance(self, ms):
        if ms > 0:
            self.door.advance(ms)
        ind = self.door.board.indicator
        if ind is not None:
            ind.poll(self.door.now)  # LED / buzzer outputs for the display only

    def screen(self, width=100):
        d = self.door
        st = d.status()
        w = d.world
        span = w.unlock_deg - w.lock_deg
        frac = (w.angle - w.lock_deg) / span if span else 0
        n = 30
        bar = "#" * int(round(frac * n)) + "." * (n - int(round(frac * n)))
        motor = {1: "driving -> unlock", -1: "driving -> lock", 0: "stopped"}[st["motor"]]
        if st["motor"] and w.blocked():
            motor += " (BLOCKED)"
        cal = st["calibration"]
        out = [
            "doorkit sim - virtual door     t = %.3f s     speed x%g" % (st["t"] / 1000.0, self.speed),
            "",
            " lock    %-13s alarm: %-4s  calibration: %s" % (
                st["state"].upper(), "ON" if st["alarm"] else "-", "%d,%d" % cal if cal else "none"),
            " bolt    [%s] %5.1f deg  %s" % (bar, w.angle, "thrown" if w.bolt_thrown() else "retracted"),
            "         lock %.0f deg <-> unlock %.0f deg   position %s%s" % (
                w.lock_deg, w.unlock_deg, st["position"], "   (hand on the knob)" if st["hand"] else ""),
            " door    %-8s (sensor: %s)%s" % ("OPEN" if st["door_open"] else "closed",
                                              "open" if st["door_sensed"] else "closed",
                                              "   strike BROKEN" if st["strike_broken"] else ""),
            " motor   %-28s current %5d   jam: %s" % (motor, st["current"], "YES" if st["jam"] else "-"),
            " led     %-3s buzzer %-3s  auto-lock %s (%d ms)  button-unlock %s" % (
                "ON" if st["led"] else "-", "ON" if st["buzzer"] else "-", "on" if st["auto_lock"] else "off",
                d.app.core.cfg["auto_lock_ms"], "on" if st["button_unlock"] else "off"),
            " reader  %-4s%s   in the field: %s" % (
                (st["reader"] or "none").upper(), " (silent)" if d.pn532 is not None and d.pn532.silent else "",
                ", ".join(d.in_field()) or "-"),
            "",
        ]
        out += [" " + h for h in HELP]
        out += ["", " > " + self.message, "", " --- event log " + "-" * max(0, min(width, 80) - 15)]
        return [s[:width - 1] for s in out]


def _main(stdscr, seed, speed):
    try:
        curses.curs_set(0)
    except curses.error:
        pass
    stdscr.timeout(40)
    s = Session(seed, speed)
    last = time.monotonic()
    carry = 0.0
    while True:
        ch = stdscr.getch()
        while ch != -1:
            if 0 <= ch < 256 and not s.key(chr(ch)):
                return 0
            ch = stdscr.getch()
        t = time.monotonic()
        carry += (t - last) * 1000.0 * s.speed
        last = t
        ms = int(carry)
        carry -= ms
        s.advance(min(ms, 60000))
        _draw(stdscr, s)


def _draw(stdscr, s):
    h, w = stdscr.getmaxyx()
    stdscr.erase()
    head = s.screen(w)
    rows = head + list(s.lines)[-max(0, h - len(head)):] if h > len(head) else head[:h]
    for y, text in enumerate(rows[:h]):
        try:
            stdscr.addstr(y, 0, text[:max(0, w - 1)])
        except curses.error:
            pass
    stdscr.refresh()
