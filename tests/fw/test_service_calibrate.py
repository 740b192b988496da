# lockshell.service.calibrate and read_card, the installer's calibration and the enrolment on the
# door's own reader, over a fake `machine` with a little physics: the H-bridge legs turn the knob
# (its potentiometer on the ADC) at a fixed speed between two end stops, where the motor's sense
# current rises (the driver's stall); the clock is virtual and sleep_ms() moves the world.
# The calibration runs the App (make_board's composition, the real core and drivers) and saves by
# the App's own sink into a JsonStore on a real file.
import os

from calworld import World, LOCK_END, UNLOCK_END
from lockshell import service
from lockshell.store import JsonStore
from lockshell.board import MOTOR_A, MOTOR_B
from lockshell.app import BRAKE_MS

MP_HEAP = "96wK"  # the whole firmware shell: App + core + every driver


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
    braked = [t for t, n, v in w.writes if v == 65535 and n == MOTOR_B]  # the last stop: both legs on
    coast = [t for t, n, v in w.writes if v == 0][-1]
    assert braked and coast - braked[-1] >= BRAKE_MS  # braked, then released as the App does


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
