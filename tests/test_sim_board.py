"""VirtualBoard / VirtualDoor (sim/board.py): the real drivers and App on the simulated world, and the
exact fast-forwarding of virtual time."""

import pytest

import doorkit  # noqa: F401
from doorkit.sim.board import VirtualDoor, VirtualBoard
from doorkit.sim.world import World

from drivers.motor import HBridgeMotor
from drivers.debounce import Debounced
from drivers.position import PotPosition
from drivers.indicator import Indicator
from lockctl.codes import LOCKED, UNLOCKED, JAMMED

KEYS = [("felica", "01", "alice")]


def test_virtual_board_holds_the_real_drivers():
    b = VirtualBoard(World())
    assert isinstance(b.motor, HBridgeMotor)
    assert isinstance(b.position, PotPosition)
    assert isinstance(b.door, Debounced) and isinstance(b.button, Debounced)
    assert isinstance(b.indicator, Indicator)


def test_card_unlock_door_cycle_and_auto_lock_exact_log():
    d = VirtualDoor(seed=1, calibration="ends", keys=KEYS)
    d.advance(1000)
    d.card("felica", "01")
    d.advance(2000)
    d.open_door()
    d.advance(1000)
    d.close_door()
    d.advance(5000)
    assert d.lines() == [
        "0 BOOT locked #1",
        "1540 UNLOCK felica alice",  # 81 deg (into the unlock zone) at 150 deg/s
        "3050 DOOR_OPEN",  # last bounce edge + 30 ms settle
        "4083 DOOR_CLOSE",
        "7563 LOCK auto",  # 3000 ms auto-lock, then 72 deg of travel
    ]
    assert d.core.state == LOCKED and d.world.direction == 0


def test_bounce_gives_several_raw_edges_but_one_door_open():
    d = VirtualDoor(seed=11, calibration="ends", bolt="unlocked")
    d.open_door()
    d.advance(500)
    assert d.world.reed.count >= 3
    assert d.lines() == ["0 BOOT unlocked #1", "%d DOOR_OPEN" % (d.world.reed.last_edge + 30)]
    n = d.world.reed.count
    d.close_door()
    d.advance(500)
    assert d.world.reed.count - n >= 3
    assert [x.split()[1] for x in d.lines()] == ["BOOT", "DOOR_OPEN", "DOOR_CLOSE"]


def test_button_press_bounces_into_one_unlock():
    d = VirtualDoor(seed=2, calibration="ends")
    d.press_button()
    d.advance(1000)
    assert d.world.button.count >= 4
    assert d.lines()[1:] == ["%d UNLOCK button" % (d.lines() and int(d.lines()[1].split()[0]))]
    assert d.core.state == UNLOCKED


def test_calibrated_runs_auto_calibration_through_the_motor():
    d = VirtualDoor.calibrated(seed=1)
    assert d.lines() == ["0 BOOT uncalibrated #1", "1320 CALIBRATED 800,3500"]
    assert d.store.calibration == (800, 3500)
    assert d.core.state == LOCKED and d.world.angle == 0.0


def test_pre_seeded_calibration_is_in_the_store_at_boot():
    d = VirtualDoor(calibration=(790, 3510), bolt="unlocked")
    assert d.store.load()[1] == (790, 3510)
    assert d.lines() == ["0 BOOT unlocked #1"]
    assert VirtualDoor(calibration="ends").end_stop_calibration() == (800, 3500)
    assert VirtualDoor(calibration=None).lines() == ["0 BOOT uncalibrated #1"]


def test_stall_is_reported_inrush_plus_stall_window_after_a_jammed_start():
    d = VirtualDoor(calibration="ends", keys=KEYS)
    d.advance(1000)
    d.jam(moves=None)
    d.card("felica", "01")
    d.advance(3000)
    assert d.lines()[1:] == ["1210 RETRY stall alice", "1620 JAM unlock alice"]
    assert d.core.state == JAMMED and d.core.alarm
    d.unjam()
    d.card("felica", "01")
    d.advance(2000)
    assert d.lines()[3:] == ["4540 JAM_CLEAR", "4540 UNLOCK felica alice"]


def test_hand_turn_is_a_manual_unlock_and_relocks():
    d = VirtualDoor(calibration="ends")
    d.turn("unlock", 900)
    d.advance(12000)
    # past the middle of the 900 ms turn the bolt no longer holds: manual unlock, relock 10 s later
    assert d.lines() == ["0 BOOT locked #1", "451 MANUAL_UNLOCK", "10991 LOCK relock"]


def test_hand_holding_the_knob_against_the_motor():
    d = VirtualDoor(calibration="ends", keys=KEYS)
    d.turn(10, 2000)  # a hand barely moving the knob, for 2 s
    d.card("felica", "01")
    d.advance(3000)
    # attempt, back-off and retry all against the hand
    assert d.lines() == ["0 BOOT locked #1", "210 RETRY stall alice", "620 JAM unlock alice"]
    assert d.world.angle == 10.0
    d.card("felica", "01")  # hand gone
    d.advance(2000)
    assert d.lines()[3:] == ["3474 JAM_CLEAR", "3474 UNLOCK felica alice"]


def test_schedule_runs_actions_at_their_times_in_order():
    d = VirtualDoor(calibration="ends", keys=KEYS)
    seen = []
    d.schedule(500, seen.append, "b")
    d.schedule(100, seen.append, "a")
    d.schedule(500, seen.append, "c")
    d.schedule(1000, d.card, "felica", "01")
    d.advance(400)
    assert seen == ["a"]
    d.advance(2000)
    assert seen == ["a", "b", "c"]
    assert d.lines()[-1] == "1540 UNLOCK felica alice"
    with pytest.raises(ValueError):
        d.schedule(10, seen.append, "late")
    with pytest.raises(ValueError):
        d.run_until(5)


def test_reboot_keeps_store_world_and_keys():
    d = VirtualDoor(calibration=None, keys=KEYS)
    d.calibrate_now()
    d.configure(auto_lock=False)
    d.card("felica", "01")
    d.advance(1000)
    d.reboot()
    assert d.boots == 2
    assert d.core.cal == (800, 3500) and d.core.cfg["auto_lock"] is False
    assert d.lines()[-1].endswith("BOOT unlocked #2")


def test_bad_external_input_raises_value_error_and_changes_nothing():
    d = VirtualDoor(calibration="ends")
    with pytest.raises(ValueError):
        d.configure(auto_lock_ms=-1)
    with pytest.raises(ValueError):
        d.remote("open", "bob")
    assert d.lines() == ["0 BOOT locked #1"]


def test_status_snapshot():
    d = VirtualDoor(calibration="ends", door="closed", bolt="locked")
    st = d.status()
    assert st["state"] == "locked" and st["angle"] == 0.0 and st["position"] == 800
    assert st["door_open"] is False and st["motor"] == 0 and st["jam"] is False


def _workload(mode):
    d = VirtualDoor(seed=3, calibration=None, keys=KEYS, mode=mode, fine_ms=1)
    d.calibrate("auto")
    d.advance(3000)  # (a calibration keeps raw readings: both modes sample the knob every ms)
    d.cal_polls = d.polls
    d.card("felica", "01")
    d.advance(2000)
    d.open_door()
    d.advance(1000)
    d.close_door()
    d.advance(5000)
    d.press_button()
    d.advance(3000)
    d.jam(moves=3)
    d.remote("lock", "bob")
    d.advance(5000)
    d.remote("lock", "bob")
    d.advance(3000)
    d.turn("unlock", 700)
    d.advance(2000)
    d.jam(at=50, moves=1)
    d.press_button()
    d.advance(4000)
    d.open_door()
    d.advance(1000)
    d.remote("lock", "x")
    d.advance(1000)
    d.turn("lock", 500)
    d.advance(500)
    d.close_door()
    d.advance(1000)
    d.open_door(force=True)
    d.advance(3000)
    d.configure(jam_ms=300)
    d.card("felica", "01")
    d.advance(3000)
    d.close_door()
    d.advance(100)
    d.turn(60, 50)
    d.advance(5000)
    return d


def test_fast_forward_gives_the_same_log_as_polling_every_millisecond():
    exact = _workload("exact")
    dense = _workload("fixed")
    assert exact.lines() == dense.lines()
    assert len(exact.lines()) >= 18
    assert (exact.polls - exact.cal_polls) * 20 < dense.polls - dense.cal_polls


def test_a_quiet_day_costs_a_handful_of_polls():
    d = VirtualDoor(calibration="ends", battery=False)
    d.advance(86400000)
    assert d.polls <= 2
    d.advance(86400000)
    assert d.polls <= 2  # (cost in App polls, not seconds: this machine's speed is no test)
    # the battery monitor reads once every 15 minutes: 96 wakes a day, nothing else
    d = VirtualDoor(calibration="ends")
    d.advance(86400000)
    assert 96 <= d.polls <= 96 + 3


def test_pending_timers_are_jumped_to_exactly():
    d = VirtualDoor(calibration="ends", bolt="locked", config={"relock_ms": 3600000})
    d.press_button()  # unlocks; nobody opens the door, the relock is an hour later
    d.advance(7200000)
    log = d.lines()
    assert [x.split(" ", 1)[1] for x in log] == ["BOOT locked #1", "UNLOCK button", "LOCK relock"]
    t_unlock = int(log[1].split()[0])
    assert log[2] == "%d LOCK relock" % (t_unlock + 3600000 + 480)
    assert d.polls < 60


def test_door_traffic_runs_fast():
    """A couple of thousand door events, the kind of load the month-long benchmark puts on it."""
    d = VirtualDoor(seed=3, calibration="ends", keys=KEYS, keep_records=False)
    for i in range(1000):
        d.advance(60000)
        if i % 2:
            d.card("felica", "01")
        else:
            d.press_button()
        d.advance(1500)
        d.open_door()
        d.advance(3000)
        d.close_door()
        d.advance(8000)
    assert d.record_count == 1 + 4 * 1000
    assert d.core.state == LOCKED
    assert d.polls < 1000 * 35  # per cycle: bounces of 2 button and 2 door changes, 2 moves


def test_brake_release_is_not_a_motor_move_and_uses_no_jam():
    d = VirtualDoor(seed=1, calibration="ends", config={"auto_lock": False})
    d.press_button()
    d.advance(5000)
    assert d.board.motor.direction == 0 and (d.world.pwm_a.duty_u16(), d.world.pwm_b.duty_u16()) == (0, 0)
    assert d.world.moves == 1  # the unlock only; releasing the brake is not a move
    d.world.jam(None, 3)  # attempt, back-off and retry are blocked: a real jam
    d.remote("lock", "bob")
    d.advance(5000)
    assert d.lines()[-2:] == ["%s RETRY stall bob" % d.lines()[-2].split()[0], "%s JAM lock bob" % d.lines()[-1].split()[0]]


def test_the_python_api_refuses_what_the_scenario_parser_refuses():
    import pytest
    d = VirtualDoor(seed=1, calibration="ends", nfc=True)
    bad = [lambda: d.turn(200), lambda: d.turn("sideways"), lambda: d.turn("unlock", -1),
           lambda: d.tap("mifare", -5), lambda: d.tap("mifare", float("nan")), lambda: d.press_button(float("nan")),
           lambda: d.press_button(0), lambda: d.advance(float("inf")), lambda: d.advance(-1), lambda: d.jam(at=999),
           lambda: VirtualDoor(calibration=(1, 2)), lambda: VirtualDoor(bolt=500), lambda: VirtualDoor(bolt="nan")]
    for call in bad:
        with pytest.raises(ValueError):
            call()
    assert d.lines() == ["0 BOOT locked #1"] and d.now == 0  # and nothing happened
