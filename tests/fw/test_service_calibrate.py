# lockshell.service.calibrate and read_card, the installer's calibration and the enrolment on the
# door's own reader, over a fake `machine` with a little physics: the H-bridge legs turn the knob
# (its potentiometer on the ADC) at a fixed speed between two end stops, where the motor's sense
# current rises (the driver's stall); the clock is virtual and sleep_ms() moves the world.
# The calibration runs the App (make_board's composition, the real core and drivers) and saves by
# the App's own sink into a JsonStore on a real file.
import os

from fakes import FakePWM, FakeADC
from lockshell import service
from lockshell.store import JsonStore
from lockshell.board import MOTOR_A, MOTOR_B, MOTOR_SENSE, KNOB_POT, DOOR_REED, BUTTON
from lockctl.codes import KIND_ISO14443A

MP_HEAP = "96wK"  # the whole firmware shell: App + core + every driver

LOCK_END, UNLOCK_END = 800, 3500  # pot readings (12 bit) at the two end stops


class World:
    """The knob between two end stops, a reed switch and a button; time moves in sleep_ms()."""

    def __init__(self, pos=LOCK_END, door_open=False, speed=3, lock_end=LOCK_END, unlock_end=UNLOCK_END):
        self.t = 0
        self.pos = pos
        self.lo, self.hi = lock_end, unlock_end
        self.speed = speed  # counts per ms
        self.door = 1 if door_open else 0  # reed: 1 = magnet away = open
        self.button = 1  # pull-up: 1 = released
        self.legs = {}
        self.jam_at = None  # a position the knob cannot pass
        self.moved = 0  # counts the motor turned the knob in all
        self.sleeps = 0
        w = self

        class Pin:
            IN, OUT, PULL_UP, OPEN_DRAIN = 1, 2, 3, 4

            def __init__(self, n, mode=None, pull=None, value=None):
                self.n = n
                self.v = value or 0

            def value(self, v=None):
                if v is not None:
                    self.v = v
                    return None
                if self.n == DOOR_REED:
                    return w.door
                if self.n == BUTTON:
                    return w.button
                return self.v

        class PWM(FakePWM):
            def __init__(self, pin, freq=0, duty_u16=0):
                FakePWM.__init__(self, duty_u16, record=False)
                w.legs[pin.n] = self

        class ADC(FakeADC):
            def __init__(self, pin):
                FakeADC.__init__(self, 0)
                n = pin.n
                if n == KNOB_POT:
                    self.value = lambda: w.pos << 4
                elif n == MOTOR_SENSE:
                    self.value = lambda: 60000 if w.stalled() else 8000

        class machine:
            pass

        machine.Pin, machine.PWM, machine.ADC = Pin, PWM, ADC
        self.machine = machine

    def direction(self):
        a, b = self.legs.get(MOTOR_A), self.legs.get(MOTOR_B)
        if a is None or b is None:
            return 0
        if a.duty and not b.duty:
            return 1
        if b.duty and not a.duty:
            return -1
        return 0

    def _limits(self):
        lo, hi = self.lo, self.hi
        j = self.jam_at
        if j is not None:
            if self.pos <= j:
                hi = min(hi, j)
            else:
                lo = max(lo, j)
        return lo, hi

    def stalled(self):
        d = self.direction()
        lo, hi = self._limits()
        return (d > 0 and self.pos >= hi) or (d < 0 and self.pos <= lo)

    # the clock App and NfcReader are given (ticks_ms / ticks_diff / sleep_ms)
    def ticks_ms(self):
        return self.t & 0x3FFFFFFF

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def sleep_ms(self, ms):
        self.sleeps += 1
        ms = max(1, ms)  # (a 0 ms wait still lets the world move: no spinning in place)
        d = self.direction()
        lo, hi = self._limits()
        p = self.pos + d * self.speed * ms
        p = lo if p < lo else hi if p > hi else p
        self.moved += abs(p - self.pos)
        self.pos = p
        self.t += ms


def _store():
    path = "%s/doorkit-cal-lock.json" % (os.getenv("DOORKIT_TMP") or "/tmp")
    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass
    return JsonStore(path)


def _cal(w, mode, store, **kw):
    return service.calibrate(mode, machine=w.machine, store=store, clock=w, log=False, **kw)


def test_auto_calibration_finds_both_end_stops_and_saves_them():
    w, st = World(pos=2000), _store()
    r = _cal(w, "auto", st)
    assert r["ok"] is True, r
    assert abs(r["lock"] - LOCK_END) <= 2 and abs(r["unlock"] - UNLOCK_END) <= 2, r
    assert st.load()[1] == (r["lock"], r["unlock"])  # saved by the App into the store
    assert abs(w.pos - LOCK_END) <= 2  # it ends at the lock end stop
    assert w.direction() == 0 and w.moved >= (UNLOCK_END - 2000) + (UNLOCK_END - LOCK_END) - 4
    assert w.legs[MOTOR_A].duty == 0 and w.legs[MOTOR_B].duty == 0  # left coasting


def test_auto_calibration_keeps_the_stored_settings():
    w, st = World(pos=1500), _store()
    st.save("config", {"auto_lock": False})
    r = _cal(w, "auto", st)
    assert r["ok"] is True
    cfg, cal = st.load()
    assert cfg == {"auto_lock": False} and cal == (r["lock"], r["unlock"])


def test_auto_calibration_refused_with_the_door_open():
    w, st = World(pos=2000, door_open=True), _store()
    assert _cal(w, "auto", st) == {"ok": False, "reason": "door-open"}
    assert st.load()[1] is None and w.moved == 0


def test_auto_calibration_fails_on_a_short_span_and_keeps_the_old_one():
    w, st = World(pos=1000, lock_end=1000, unlock_end=1050), _store()
    st.save("calibration", (700, 3300))
    assert _cal(w, "auto", st) == {"ok": False, "reason": "span"}
    assert st.load()[1] == (700, 3300)


def test_auto_calibration_without_an_end_stop_fails_no_end_stop():
    w, st = World(pos=2000), _store()
    w.speed = 0  # a motor that turns nothing: no stall current either way
    w.stalled = lambda: False
    r = _cal(w, "auto", st)
    assert r == {"ok": False, "reason": "no-end-stop"}, r
    assert w.direction() == 0 and st.load()[1] is None


def test_a_too_short_timeout_cancels_and_says_timeout():
    w, st = World(pos=2000, speed=1), _store()
    r = _cal(w, "auto", st, timeout_ms=300)
    assert r == {"ok": False, "reason": "timeout"}, r
    assert w.direction() == 0 and st.load()[1] is None
    assert w.t < 2000  # it did not run on to the end


def test_manual_calibration_in_two_steps():
    w, st = World(pos=900), _store()
    r = _cal(w, "manual-lock", st)
    assert r == {"ok": True, "step": "lock", "lock": 900}, r
    assert st.load()[1] is None  # nothing saved before the second mark
    w.pos = 3400  # the installer turns the knob to unlocked by hand
    w.t += 20000
    r = _cal(w, "manual-unlock", st)
    assert r == {"ok": True, "lock": 900, "unlock": 3400}, r
    assert st.load()[1] == (900, 3400)
    assert w.moved == 0  # a manual calibration drives nothing
    assert _cal(w, "manual-unlock", st) == {"ok": False, "reason": "not-calibrating"}  # done: nothing waits


def test_manual_calibration_too_close_ends_is_span():
    w, st = World(pos=900), _store()
    assert _cal(w, "manual-lock", st)["ok"] is True
    w.pos = 920
    assert _cal(w, "manual-unlock", st) == {"ok": False, "reason": "span"}
    assert st.load()[1] is None


def test_manual_calibration_left_too_long_times_out():
    w, st = World(pos=900), _store()
    st.save("config", {"manual_cal_ms": 10000})
    assert _cal(w, "manual-lock", st)["ok"] is True
    w.pos = 3400
    w.t += 10001
    assert _cal(w, "manual-unlock", st) == {"ok": False, "reason": "timeout"}
    assert st.load()[1] is None


def test_manual_cancel_and_unlock_without_lock():
    w, st = World(pos=900), _store()
    assert _cal(w, "manual-unlock", st) == {"ok": False, "reason": "not-calibrating"}
    assert _cal(w, "cancel", st) == {"ok": False, "reason": "not-calibrating"}
    assert _cal(w, "manual-lock", st)["ok"] is True
    assert _cal(w, "cancel", st) == {"ok": False, "reason": "cancelled"}
    w.pos = 3400
    assert _cal(w, "manual-unlock", st) == {"ok": False, "reason": "not-calibrating"}
    assert st.load()[1] is None


def test_a_new_calibration_replaces_a_waiting_manual_one():
    w, st = World(pos=900), _store()
    assert _cal(w, "manual-lock", st)["ok"] is True
    w.pos = 2000
    assert _cal(w, "auto", st)["ok"] is True
    assert _cal(w, "manual-unlock", st) == {"ok": False, "reason": "not-calibrating"}


def test_bad_mode_is_a_value_error():
    try:
        service.calibrate("sideways")
    except ValueError as e:
        assert "auto" in str(e)
    else:
        assert False, "no error"


# ---------------------------------------------------------------------- read_card
def _reader_rig():
    from test_nfc_reader import Chip
    from pn532fakes import FakeUart
    chip = Chip(record=False)
    return chip, FakeUart(chip, record=False)


def test_read_card_reports_the_first_card():
    from test_nfc_reader import list_a
    chip, uart = _reader_rig()
    w = World()
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    assert service.read_card(5000, clock=w, uart=uart) == ("iso14443a", "DEADBEEF")
    assert w.t < 5000


def test_read_card_felica():
    from test_nfc_reader import list_f
    chip, uart = _reader_rig()
    w = World()
    chip.f_card = list_f(b"\x01\x01\x4e\x1f\x2d\x3c\x4b\x5a")
    assert service.read_card(5000, clock=w, uart=uart) == ("felica", "01014E1F2D3C4B5A")


def test_read_card_times_out_with_none():
    chip, uart = _reader_rig()
    w = World()
    assert service.read_card(3000, clock=w, uart=uart) is None
    assert w.t >= 3000
    assert chip.lists[0] >= 20 and chip.lists[1] >= 20  # it kept polling both technologies
    assert w.sleeps < 3000  # slept to the reader's next wake, not one ms at a time


def test_read_card_reader_down_raises():
    chip, uart = _reader_rig()
    chip.silent = True
    w = World()
    try:
        service.read_card(20000, clock=w, uart=uart)
    except OSError as e:
        assert service.READER_DOWN in str(e)
    else:
        assert False, "no error"
    assert w.t < 20000
