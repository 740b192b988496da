# Calibration (automatic and manual) and settings changes, through the public core API.
from corekit import Rig, LOCK_POS, UNLOCK_POS
from fwcheck import raises
from lockctl.core import LockError
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CONFIG, EV_CALIBRATE, EV_REMOTE,
    A_SAVE, A_DRIVE, A_STOP, LOCKED, UNLOCKED, UNCALIBRATED, CALIBRATING, JAMMED, T_AUTOLOCK, T_HELD, T_MOTION,
)


def saves(r):
    return [a[1:] for (t, a) in r.actions if a[0] == A_SAVE]


def test_auto_calibration_drives_to_both_end_stops():
    r = Rig(cal=None, pos=1700)
    r.ev(1000, EV_CALIBRATE, "auto")
    assert r.core.state == CALIBRATING and r.motor == 1
    r.ev(1300, EV_POSITION, 3200)
    r.ev(1500, EV_STALL)  # unlock end stop
    assert r.motor == -1
    r.ev(1900, EV_POSITION, 900)
    r.ev(2100, EV_STALL)  # lock end stop
    assert r.motor == 0 and r.core.state == LOCKED
    assert r.core.cal == (900, 3200)
    assert saves(r) == [("calibration", (900, 3200))]
    assert r.drive_spans == [(1, 1000, 1500), (-1, 1500, 2100)]
    assert r.log == ["0 BOOT uncalibrated", "2100 CALIBRATED 900,3200"]
    # and now it drives
    r.ev(3000, EV_BUTTON)
    assert r.motor == 1


def test_auto_calibration_without_end_stop_fails_and_keeps_old_calibration():
    r = Rig(pos=LOCK_POS)
    r.ev(1000, EV_CALIBRATE, "auto")
    r.advance(7000)  # cal_ms 5000: no stall ever comes
    assert r.motor == 0 and r.drive_spans == [(1, 1000, 6000)]
    assert r.core.cal == (LOCK_POS, UNLOCK_POS) and r.core.state == LOCKED
    assert r.log == ["0 BOOT locked", "6000 CAL_FAIL no-end-stop"]
    assert saves(r) == []


def test_auto_calibration_refused_with_door_open_and_aborted_when_it_opens():
    r = Rig(cal=None)
    r.ev(1000, EV_DOOR, True)
    r.ev(1100, EV_CALIBRATE, "auto")
    assert r.drives() == []
    r.ev(2000, EV_DOOR, False)
    r.ev(3000, EV_CALIBRATE, "auto")
    acts = r.ev(3200, EV_DOOR, True)
    assert acts[0][0] != A_DRIVE and r.motor == 0
    assert r.core.state == UNCALIBRATED
    assert r.log == ["0 BOOT uncalibrated", "1000 DOOR_OPEN", "1100 REFUSED door-open", "2000 DOOR_CLOSE",
                     "3200 DOOR_OPEN", "3200 CAL_FAIL door-open"]


def test_auto_calibration_span_too_small_fails():
    r = Rig(cal=None, pos=2000)
    r.ev(0, EV_CALIBRATE, "auto")
    r.ev(100, EV_STALL)  # blocked straight away at both ends: no travel
    r.ev(200, EV_POSITION, 2030)
    r.ev(300, EV_STALL)
    assert r.core.cal is None and r.core.state == UNCALIBRATED
    assert r.log == ["0 BOOT uncalibrated", "300 CAL_FAIL span"]


def test_manual_calibration_with_mark_commands():
    r = Rig(cal=None, pos=1800)
    r.ev(1000, EV_CALIBRATE, "manual")
    r.ev(2000, EV_POSITION, 600)  # installer turns the knob to locked
    r.ev(2500, EV_CALIBRATE, "mark")
    r.ev(4000, EV_POSITION, 2900)  # then to unlocked
    r.ev(4500, EV_CALIBRATE, "mark")
    assert r.drives() == []  # manual calibration never drives
    assert r.core.cal == (600, 2900) and r.core.state == UNLOCKED
    assert r.log == ["0 BOOT uncalibrated", "4500 CALIBRATED 600,2900"]
    assert saves(r) == [("calibration", (600, 2900))]


def test_manual_calibration_marks_with_the_button_even_when_button_unlock_is_off():
    r = Rig({"button_unlock": False}, cal=None, pos=1800)
    r.ev(1000, EV_CALIBRATE, "manual")
    r.ev(2000, EV_POSITION, 3100)
    r.ev(2100, EV_BUTTON)
    r.ev(3000, EV_POSITION, 700)
    r.ev(3100, EV_BUTTON)
    assert r.core.cal == (3100, 700) and r.core.state == UNLOCKED
    r.ev(5000, EV_BUTTON)  # back to normal: button off refuses
    assert r.log[-1] == "5000 REFUSED button-off"


def test_calibration_cancel_and_misuse():
    r = Rig()
    r.ev(100, EV_CALIBRATE, "mark")
    r.ev(200, EV_CALIBRATE, "cancel")
    r.ev(300, EV_CALIBRATE, "manual")
    r.ev(400, EV_CALIBRATE, "auto")  # already calibrating
    r.ev(500, EV_REMOTE, ("unlock", "admin"))
    r.ev(600, EV_CALIBRATE, "cancel")
    assert r.core.state == LOCKED and r.core.cal == (LOCK_POS, UNLOCK_POS)
    assert r.log == ["0 BOOT locked", "100 REFUSED not-calibrating", "200 REFUSED not-calibrating",
                     "400 REFUSED busy", "500 REFUSED calibrating admin", "600 CAL_FAIL cancelled"]


def test_config_change_logged_saved_and_applied():
    r = Rig(pos=UNLOCK_POS)
    r.ev(100, EV_CONFIG, {"auto_lock_ms": 5000, "button_unlock": False})
    assert r.core.cfg["auto_lock_ms"] == 5000
    assert r.log[1:] == ["100 CONFIG auto_lock_ms=5000", "100 CONFIG button_unlock=off"]
    what, data = saves(r)[0]
    assert what == "config" and data["auto_lock_ms"] == 5000 and data["button_unlock"] is False
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.advance(6999)
    assert r.drives() == []
    r.advance(7000)
    assert r.drives() == [(7000, -1)]


def test_switching_auto_lock_off_cancels_and_on_arms_relock():
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.ev(3000, EV_CONFIG, {"auto_lock": False})
    r.advance(100000)
    assert r.drives() == []
    r.ev(200000, EV_CONFIG, {"auto_lock": True})
    assert r.core.deadline(T_AUTOLOCK) is not None
    r.advance(210000)
    assert r.drives() == [(210000, -1)]


def test_bad_config_changes_nothing():
    r = Rig()
    cfg = dict(r.core.cfg)
    n = len(r.actions)
    for bad in ({"auto_lock": 1}, {"auto_lock_ms": True}, {"auto_lock_ms": -1}, {"jam_ms": 999999},
                {"nope": 1}, {"auto_lock_ms": 4000, "zone_pct": 0}, {"min_span": 5000}, "auto_lock=on", None):
        raises(LockError, r.core.handle, 10, EV_CONFIG, bad)
    assert r.core.cfg == cfg and len(r.actions) == n and r.core.now == 0


def test_turning_the_held_open_alarm_off_while_the_door_is_open_cancels_it():
    r = Rig()
    r.ev(1000, EV_DOOR, True)  # forced (locked): alarm, held-open due at 61000
    assert r.core.deadline(T_HELD) == 61000
    r.ev(2000, EV_CONFIG, {"held_open_ms": 0})
    assert r.core.deadline(T_HELD) is None
    r.advance(200000)
    assert "HELD_OPEN" not in " ".join(r.log)
    # set again while still open: counted from the opening
    r.ev(200000, EV_CONFIG, {"held_open_ms": 30000})
    assert r.core.deadline(T_HELD) == 31000
    r.advance(200000)
    assert r.log[-1] == "200000 HELD_OPEN"
    r.ev(300000, EV_CONFIG, {"held_open_ms": 5000})  # it went off already: no second one
    r.advance(400000)
    assert r.log[-1] == "300000 CONFIG held_open_ms=5000"


def test_manual_calibration_ending_unlocked_arms_the_relock():
    r = Rig(cal=None, pos=1800)
    r.ev(1000, EV_CALIBRATE, "manual")
    r.ev(2000, EV_POSITION, 600)
    r.ev(2500, EV_CALIBRATE, "mark")
    r.ev(4000, EV_POSITION, 2900)
    r.ev(4500, EV_CALIBRATE, "mark")
    assert r.core.state == UNLOCKED and r.core.deadline(T_AUTOLOCK) == 14500
    r.advance(14500)
    assert r.drives() == [(14500, -1)]


def test_cancelling_auto_calibration_after_the_unlock_sweep_arms_the_relock():
    r = Rig(pos=LOCK_POS)
    r.ev(1000, EV_CALIBRATE, "auto")
    r.ev(1400, EV_POSITION, UNLOCK_POS)
    r.ev(1500, EV_STALL)  # unlock end stop; now sweeping to the lock end
    r.ev(1600, EV_CALIBRATE, "cancel")
    assert r.log[-1] == "1600 CAL_FAIL cancelled" and r.core.state == UNLOCKED
    assert r.core.deadline(T_AUTOLOCK) == 11600 and r.motor == 0


def test_an_abandoned_manual_calibration_times_out():
    r = Rig(cal=None, pos=1800, keys=None)
    r.ev(1000, EV_CALIBRATE, "manual")
    assert r.core.deadline(T_MOTION) == 301000
    r.ev(2000, EV_POSITION, 600)
    r.ev(2500, EV_CALIBRATE, "mark")  # the first mark gives the installer the time again
    assert r.core.deadline(T_MOTION) == 302500
    r.advance(302500)
    assert r.log[-1] == "302500 CAL_FAIL timeout" and r.core.state == UNCALIBRATED
    r.ev(303000, EV_BUTTON)
    assert r.log[-1] == "303000 REFUSED uncalibrated"  # no longer "calibrating"


def test_the_held_open_alarm_follows_a_setting_change_after_a_rebase():
    r = Rig()
    r.ev(1000, EV_DOOR, True)
    r.core.rebase(0x20000000)  # the board's clock moved back, as every 6.2 days
    t = r.core.now + 100
    r.core.handle(t, EV_CONFIG, {"held_open_ms": 30000})
    assert r.core.deadline(T_HELD) == r.core.now - 100 + 30000  # 30 s from the opening, not 6 days


def test_a_calibration_does_not_forget_a_jam_until_it_succeeds():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.advance(5000)  # jammed at the lock end
    assert r.core.state == JAMMED and r.core.alarm
    r.ev(6000, EV_CALIBRATE, "auto")
    r.ev(6100, EV_CALIBRATE, "cancel")
    assert r.log[-1] == "6100 CAL_FAIL cancelled" and r.core.state == JAMMED and r.core.alarm
    r.ev(7000, EV_CALIBRATE, "auto")  # this time it goes to both end stops: nothing is stuck
    r.ev(7400, EV_POSITION, UNLOCK_POS)
    r.ev(7500, EV_STALL)
    r.ev(7900, EV_POSITION, LOCK_POS)
    r.ev(8000, EV_STALL)
    assert r.log[-2:] == ["8000 CALIBRATED 1000,3000", "8000 JAM_CLEAR"]
    assert r.core.state == LOCKED and not r.core.alarm


def test_the_door_opening_during_the_lock_sweep_gets_the_bolt_pulled_back():
    r = Rig()
    r.ev(1000, EV_CALIBRATE, "auto")
    r.ev(1400, EV_POSITION, UNLOCK_POS)
    r.ev(1500, EV_STALL)  # unlock end stop; now sweeping to the lock end
    r.ev(1700, EV_POSITION, 1300)  # the bolt is most of the way out ...
    acts = r.ev(1750, EV_DOOR, True)  # ... when the door opens
    assert acts[0] == (A_STOP,) and acts[-1] == (A_DRIVE, 1)  # stopped, then pulled back
    r.ev(2000, EV_POSITION, UNLOCK_POS)
    assert r.log[-2:] == ["1750 DOOR_OPEN", "1750 CAL_FAIL door-open"] and r.core.state == UNLOCKED
    assert r.motor == 0 and r.core.cal == (LOCK_POS, UNLOCK_POS)


def test_position_edges_follow_calibration_and_zone_setting():
    r = Rig()
    core = r.core
    # lock zone 800..1200, unlock zone 2800..3200, midpoint: 2001 is the first "nearer unlock"
    assert core.position_edges() == (800, 1201, 2001, 2800, 3201)
    r.ev(10, EV_CONFIG, {"zone_pct": 20})
    assert core.position_edges() == (600, 1401, 2001, 2600, 3401)
    assert Rig(cal=None).core.position_edges() == ()
    rev = Rig(cal=(UNLOCK_POS, LOCK_POS), pos=UNLOCK_POS).core  # reversed pot
    assert rev.position_edges() == (800, 1201, 2000, 2800, 3201)


def test_no_calibration_sweep_throws_the_bolt_while_the_door_sensor_is_dead():
    from lockctl.codes import EV_SENSOR
    r = Rig(cal=None)
    r.ev(100, EV_CALIBRATE, "auto")
    r.ev(200, EV_SENSOR, (EV_DOOR, False))  # during the unlock sweep: it may go on ...
    r.ev(400, EV_POSITION, UNLOCK_POS)
    r.ev(500, EV_STALL)  # ... but the lock sweep may not start
    assert r.log[-1] == "500 CAL_FAIL door-sensor" and r.motor == 0
    assert [d for _, d in r.drives()] == [1]
    r.ev(600, EV_CALIBRATE, "auto")  # nor another calibration begin
    assert r.log[-1] == "600 REFUSED door-sensor" and r.drives()[-1][0] == 100
