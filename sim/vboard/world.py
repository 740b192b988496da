"""The virtual board's physical world, served over RPC to the unix-port interpreter.

WorldHost(seed) owns a sim World, its SimMachine (the ESP32 pin map of firmware/lockshell/board.py)
and a PN532 emulator on the machine's UART (as sim/board.py's VirtualDoor(nfc=True) wires it), plus
a VirtualKeypad and a VirtualBattery on the virtual clock. The world is the door, not the board: it
survives resets of the interpreter.

RPC (one JSON line each way, see /work/spec/issue8.md "The virtual board"):
  request  [t_ms, handle, method, args] or [t_ms, handle, method, args, id]
  response [result, skip_to, now]  or  [null, skip_to, now, "ErrType: text"]; with an id:
           [result, skip_to, now, null or "ErrType: text", id]  (the interpreter matches answers
           to requests by id: a Ctrl-C may interrupt a call between its request and its answer)
(now: the world's ms; the interpreter's world clock catches up with it: the world goes on in real
time while the interpreter asks nothing, e.g. at the REPL)
handle 0 is the machine factory: "Pin" [id, mode, pull, value], "PWM" [pin, freq, duty_u16],
"ADC" [pin, atten], "UART" [id, baudrate, tx, rx, timeout] -> a new int handle. A machine object
as an argument travels as {"h": n}, bytes as {"b": hex}. Other handles: the method of that object.
Handle 0 also has "reset" (a hard reset request: noted, the interpreter exits) and "now".
The world advances to t_ms first (never backwards: an older t_ms is taken as now).

Control (Python calls, also reachable as handle-0 RPC methods of the same name with a "ctl_"
prefix): tap(card, hold_ms), door(what), button(ms), turn(where, ms), jam(at, moves), unjam(),
advance(ms), status().
"""
import json
import socket
import threading
import time

from ..world import World
from .. import pn532 as _pn532
from ..keypad import VirtualKeypad
from ..battery import VirtualBattery
from ..board import NFC_CARDS, _deg, _ms
from ..world import SimPin
from lockshell import board as _fw_board


def _dec(v, objs):
    """JSON argument -> Python: {"h": n} -> the object, {"b": hex} -> bytes, lists recursively."""
    if isinstance(v, dict):
        if "h" in v and len(v) == 1:
            o = objs.get(v["h"])
            if o is None:
                raise ValueError("no object with handle %r" % (v["h"],))
            return o
        if "b" in v and len(v) == 1:
            return bytes.fromhex(v["b"])
        return dict((k, _dec(x, objs)) for k, x in v.items())
    if isinstance(v, list):
        return [_dec(x, objs) for x in v]
    return v


def _enc(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"b": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return dict((str(k), _enc(x)) for k, x in v.items())
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError("cannot send a %s over the RPC" % type(v).__name__)


# what each machine object may be asked over the RPC (nothing private)
_METHODS = {
    "Pin": ("value", "on", "off", "init", "irq"),
    "PWM": ("duty_u16", "freq", "init", "deinit"),
    "ADC": ("read_u16", "read", "atten", "width"),
    "UART": ("write", "any", "read", "readinto", "reset_input_buffer", "flush"),
}


class WorldHost:
    def __init__(self, seed=0, **world_opts):
        self.lock = threading.RLock()
        self.world = World(seed=seed, **world_opts)
        w = self.world
        self.machine = w.machine
        self.pn532 = self.machine.attach_pn532(_pn532.PN532Emulator(lambda: w.now, seed=seed))
        self.keypad = VirtualKeypad(lambda: w.now, seed=seed)
        self.battery = VirtualBattery(lambda: w.now, drain_mv_per_hour=0.15, drain_mv_per_motor_s=0.02,
                                      load=lambda: w.direction != 0)
        self.objs = {}  # handle -> (kind, object)
        self._next = 1
        self.skip_to = None
        self.resets = 0  # hard reset requests from the interpreter
        self._cards = {}
        self._leave = []  # (t, card) cards leaving the field
        self._server = None
        self.rtc = None  # (datetime tuple, world ms it was set at) or None: unset since power-up
        self.on_reset = None  # callable the supervisor sets: the interpreter asked for machine.reset()
        self.on_ready = None  # callable the supervisor sets: the interpreter finished mounting
        self.last_request = 0.0  # time.monotonic() of the last RPC request (the supervisor's clock keeps
        #                          the world going in real time while the interpreter asks nothing)

    # ------------------------------------------------------------------ time
    @property
    def now(self):
        return self.world.now

    def advance_to(self, t):
        """Advance the world to t (ms), letting tapped cards leave the field on time."""
        w = self.world
        t = int(t)
        if t <= w.now:
            return
        for lt, c in sorted(self._leave, key=lambda x: x[0]):
            if lt > t:
                break
            if lt > w.now:
                w.advance_to(lt)
            self._leave.remove((lt, c))
            if not any(c2 is c for _, c2 in self._leave):
                self.pn532.leave(c)
        w.advance_to(t)
        if self.skip_to is not None and self.skip_to <= w.now:
            self.skip_to = None

    # ------------------------------------------------------------------ RPC
    def handle(self, req):
        """One request list -> one response list (never raises)."""
        with self.lock:
            rid = req[4] if isinstance(req, list) and len(req) == 5 else None
            try:
                t, h, method, args = req if rid is None else req[:4]
                if t is not None:
                    self.advance_to(t)
                self.last_request = time.monotonic()
                res = _enc(self._call(h, method, _dec(list(args or []), dict((k, o) for k, (_, o) in self.objs.items()))))
                return [res, self.skip_to, self.world.now] if rid is None else [res, self.skip_to, self.world.now,
                                                                                None, rid]
            except Exception as e:  # every error goes back to the interpreter as text
                err = "%s: %s" % (type(e).__name__, e)
                return [None, self.skip_to, self.world.now, err] + ([] if rid is None else [rid])

    def _call(self, h, method, args):
        if h == 0:
            if method in _METHODS:
                o = self._wired(method, args)
                if o is None:
                    o = getattr(self.machine, method)(*args)
                n = self._next
                self._next += 1
                self.objs[n] = (method, o)
                return n
            if method == "reset":
                self.resets += 1
                if self.on_reset is not None:
                    self.on_reset()
                return True
            if method == "rtc":
                return self._rtc(*args)
            if method == "ready":  # vbstart.py mounted the filesystems: Ctrl-C may interrupt now
                if self.on_ready is not None:
                    self.on_ready()
                return True
            if method == "now":
                return self.world.now
            if method.startswith("ctl_") and method[4:] in _CONTROL:
                return getattr(self, method[4:])(*args)
            raise ValueError("the machine has no %r" % (method,))
        if h not in self.objs:
            raise ValueError("no object with handle %r" % (h,))
        kind, o = self.objs[h]
        if method not in _METHODS[kind]:
            raise AttributeError("%s has no method %r" % (kind, method))
        if kind == "UART" and method == "readinto":  # the buffer lives in the interpreter
            n = args[0] if args else 64
            return o.read(n) or None
        return getattr(o, method)(*args)

    def _wired(self, kind, args):
        """The keypad's row and column pins and the battery's ADC (which SimMachine leaves
        unwired), or None for the pins SimMachine wires."""
        if kind == "Pin" and args:
            pid = args[0]
            if pid in _fw_board.KP_ROWS:
                p = SimPin(pid, SimPin.OPEN_DRAIN, value=1, name="kp-row")
                self.keypad.attach_row(_fw_board.KP_ROWS.index(pid), p)
                return p
            if pid in _fw_board.KP_COLS:
                c = _fw_board.KP_COLS.index(pid)
                return SimPin(pid, SimPin.IN, SimPin.PULL_UP, read=self.keypad.col_reader(c), name="kp-col")
        if kind == "ADC" and args and getattr(args[0], "id", None) == _fw_board.BATT_ADC:
            self.battery.update()
            return self.battery.adc
        return None

    def _rtc(self, dt=None):
        """machine.RTC().datetime(): the tuple now (counting on from when it was set), or set it."""
        from lockctl.schedule import days_from_civil, civil_from_days
        w = self.world
        if dt is not None:
            self.rtc = (tuple(int(x) for x in dt), w.now)
            return None
        if self.rtc is None:
            return [2000, 1, 1, 5, 0, 0, 0, 0]  # what an ESP32's RTC reads after power-up
        (y, mo, d, _wd, hh, mm, ss, _sub), at = self.rtc
        secs = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss + (w.now - at) // 1000
        day, rem = divmod(secs, 86400)
        y, mo, d = civil_from_days(day)
        return [y, mo, d, (day + 3) % 7, rem // 3600, rem // 60 % 60, rem % 60, 0]

    def power_off(self, rtc_lost=True):
        """The board loses power (or resets): every output it drove goes low, the machine objects
        it held are gone; the RTC survives a reset but not a power cut."""
        with self.lock:
            w, m = self.world, self.machine
            for _, o in list(self.objs.values()):
                if hasattr(o, "duty_u16"):
                    o.duty_u16(0)
            if m.led is not None:
                m.led.value(0)
            self.objs.clear()
            if rtc_lost:
                self.rtc = None
            return {"rtc_lost": rtc_lost, "now_ms": w.now}

    def type_keys(self, keys, hold_ms=120, gap_ms=150):
        """Type keys on the keypad, one after the other (e.g. "1234#")."""
        with self.lock:
            self.keypad.type(str(keys), hold_ms=hold_ms, gap_ms=gap_ms)
            return {"keys": str(keys)}

    # ------------------------------------------------------------------ control
    def tap(self, card, hold_ms=1000):
        with self.lock:
            if card not in NFC_CARDS:
                raise ValueError("unknown card %r (known: %s)" % (card, ", ".join(NFC_CARDS)))
            c = self._cards.get(card)
            if c is None:
                c = self._cards[card] = NFC_CARDS[card][2]()
            self._leave = [x for x in self._leave if x[1] is not c]
            self.pn532.enter(c)
            if hold_ms is not None:
                self._leave.append((self.world.now + _ms(hold_ms, "a tap", 1), c))
            return {"card": card, "ident": list(NFC_CARDS[card][1])}

    def door(self, what):
        with self.lock:
            if what in ("open", "opened"):
                ok = self.world.open_door()
            elif what in ("close", "closed", "shut"):
                ok = self.world.close_door()
            else:
                raise ValueError("door is open or close, not %r" % (what,))
            return {"done": bool(ok), "door_open": self.world.door_open}

    def button(self, ms=150):
        with self.lock:
            return {"done": bool(self.world.press(_ms(ms, "a press", 1)))}

    def turn(self, where, ms=600):
        with self.lock:
            return {"angle": self.world.turn_by_hand(_deg(self.world, where), _ms(ms, "a turn"))}

    def jam(self, at=None, moves=None):
        with self.lock:
            self.world.jam(None if at is None else _deg(self.world, at), moves)
            return {"jammed": True}

    def unjam(self):
        with self.lock:
            self.world.unjam()
            return {"jammed": False}

    def keypad_press(self, key, hold_ms=120):
        with self.lock:
            self.keypad.press(key, hold_ms)
            return {"key": key}

    def advance(self, ms):
        """Ask the interpreter to skip ms of virtual time: skip_to = now + ms (returned with every
        RPC answer until the interpreter's clock has reached it)."""
        with self.lock:
            self.skip_to = self.world.now + _ms(ms, "advance")
            return {"skip_to": self.skip_to}

    def status(self):
        with self.lock:
            w, m = self.world, self.machine
            return {
                "now_ms": w.now,
                "angle": round(w.angle, 2),
                "door_open": w.door_open,
                "motor_running": w.direction != 0,
                "motor": w.direction,
                "led": bool(m.led is not None and m.led.value()),
                "buzzer": bool(m.buzzer is not None and m.buzzer.duty_u16()),
                "jammed": w.jammed,
                "in_field": [n for n, c in self._cards.items() if c in self.pn532.field],
                "skip_to": self.skip_to,
                "resets": self.resets,
                "calibration": [w.counts_deg(w.lock_deg), w.counts_deg(w.unlock_deg)],
            }

    # ------------------------------------------------------------------ serving
    def serve(self, sock):
        """Accept RPC connections on a listening socket in a daemon thread (one thread per
        connection): one JSON request line -> one JSON response line. Returns the thread."""
        self._server = sock

        def answer(line):
            try:
                req = json.loads(line)
            except ValueError as e:
                return [None, self.skip_to, self.world.now, "ValueError: bad request line: %s" % e]
            return self.handle(req)

        def conn_loop(c):
            json_lines(c, answer)

        def accept_loop():
            while True:
                try:
                    c, _ = sock.accept()
                except OSError:
                    return
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=conn_loop, args=(c,), daemon=True).start()

        th = threading.Thread(target=accept_loop, daemon=True)
        th.start()
        return th


def json_lines(c, answer):
    """Serve one connection of a JSON-lines protocol until it closes: answer(line bytes) -> the
    object sent back as one line (the RPC here, the supervisor's control channel)."""
    f = c.makefile("rwb")
    try:
        for line in f:
            if line.strip():
                f.write(json.dumps(answer(line.strip()), separators=(",", ":")).encode() + b"\n")
                f.flush()
    except (OSError, ValueError):
        pass
    finally:
        try:
            f.close()
            c.close()
        except OSError:
            pass


_CONTROL = ("tap", "door", "button", "turn", "jam", "unjam", "keypad_press", "type_keys", "advance", "status")
