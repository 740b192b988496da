"""The simulated physical world (sim/world.py): motor and knob, current, pot, jams, hand turns, door,
bounce, button, and the machine stand-ins the firmware's board composition runs on."""
import pytest

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim.world import World, SimPWM, SimADC, SimPin, bounce_times, FULL

from lockshell import board as fw_board
from drivers.position import PotPosition
from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor


def drive(w, a, b):
    w.pwm_a.duty_u16(a)
    w.pwm_b.duty_u16(b)


# ---------------------------------------------------------------- motor and knob
def test_travel_time_full_span_is_600_ms_at_full_duty():
    w = World()
    drive(w, FULL, 0)
    w.advance_to(300)
    assert w.angle == 45.0
    w.advance_to(599)
    assert w.angle < 90.0
    w.advance_to(600)
    assert w.angle == 90.0
    assert w.contact_time() == 600


def test_leg_b_turns_toward_lock_and_speed_scales_with_duty():
    w = World(angle=90)
    drive(w, 0, FULL // 2)  # half duty: 75 deg/s
    w.advance_to(400)
    assert w.direction == -1
    assert abs(w.angle - 60.0) < 0.01


def test_brake_and_coast_stop_the_knob_at_once():
    w = World()
    drive(w, FULL, 0)
    w.advance_to(100)
    drive(w, FULL, FULL)  # brake
    assert w.direction == 0 and w.current_u16() == 0
    w.advance_to(500)
    assert w.angle == 15.0
    drive(w, 0, FULL)
    w.advance_to(600)
    drive(w, 0, 0)  # coast
    w.advance_to(900)
    assert w.angle == 0.0
    assert w.current_u16() == 0


def test_end_stops_hold_the_knob_and_raise_the_current():
    w = World()
    drive(w, 0, FULL)  # already at the lock end stop, driving into it
    assert w.blocked()
    assert w.current_u16() == 60000
    w.advance_to(1000)
    assert w.angle == 0.0
    drive(w, 0, 0)
    drive(w, FULL, 0)
    w.advance_to(1010)
    assert w.current_u16() == 50000  # inrush
    w.advance_to(1030)
    assert w.current_u16() == 15000  # running free
    w.advance_to(2000)
    assert w.angle == 90.0
    assert w.current_u16() == 60000  # against the unlock end stop


def test_unlock_end_stop_is_configurable():
    w = World(unlock_deg=100, speed_dps=200)
    drive(w, FULL, 0)
    w.advance_to(2000)
    assert w.angle == 100.0
    assert w.contact_time() == 500


def test_moves_are_counted_per_direction_change():
    w = World(angle=45)
    for i, (a, b) in enumerate(((FULL, 0), (0, 0), (0, FULL), (FULL, FULL), (0, FULL))):
        w.advance_to(10 * i)
        drive(w, a, b)
    w.advance_to(100)
    assert w.moves == 3
    # legs passing through a drive state within one instant (brake -> coast, leg by leg) move nothing
    drive(w, FULL, FULL)
    w.advance_to(110)
    drive(w, 0, FULL)
    drive(w, 0, 0)
    assert w.moves == 3


# ---------------------------------------------------------------- jams
def test_jam_blocks_the_next_move_only():
    w = World()
    w.jam()
    drive(w, FULL, 0)
    w.advance_to(500)
    assert w.angle == 0.0 and w.current_u16() == 60000
    drive(w, 0, 0)
    assert not w.jammed  # its one move is over
    drive(w, FULL, 0)
    w.advance_to(800)
    assert w.angle == 45.0


def test_jam_counts_back_offs_as_moves():
    w = World(angle=45)
    w.jam(moves=3)
    for t, (a, b) in enumerate([(FULL, 0), (0, FULL), (FULL, 0)]):
        drive(w, a, b)
        w.advance_to(100 * (t + 1))
        assert w.angle == 45.0
        drive(w, FULL, FULL)
    assert not w.jammed
    drive(w, FULL, 0)
    w.advance_to(400)
    assert w.angle == 45.0 + 15.0


def test_jam_at_an_angle_stops_the_knob_there_but_not_a_move_away():
    w = World()
    w.jam(at_angle=40, moves=2)
    drive(w, FULL, 0)
    w.advance_to(1000)
    assert w.angle == 40.0 and w.blocked()
    assert w.contact_time() == 267  # 40 deg at 0.15 deg/ms, rounded up to the ms
    drive(w, 0, FULL)  # back off: away from the jam point, free
    w.advance_to(1100)
    assert w.angle == 25.0
    drive(w, 0, 0)
    drive(w, FULL, 0)  # third move: the jam is used up
    w.advance_to(2000)
    assert w.angle == 90.0


def test_jam_hold_until_unjam_and_unjam_mid_move():
    w = World()
    w.jam(moves=None)
    for i in range(5):
        drive(w, FULL, 0)
        w.advance_to(100 * (i + 1))
        drive(w, 0, 0)
        assert w.angle == 0.0
    drive(w, FULL, 0)
    w.advance_to(600)
    w.unjam()
    w.advance_to(700)
    assert w.angle == 15.0


def test_jam_applied_during_a_move_holds_the_knob_where_it_is():
    w = World()
    drive(w, FULL, 0)
    w.advance_to(200)
    w.jam()
    w.advance_to(400)
    assert w.angle == 30.0 and w.current_u16() == 60000


def test_jam_moves_must_be_positive():
    with pytest.raises(ValueError):
        World().jam(moves=0)


# ---------------------------------------------------------------- hand turns
def test_hand_turn_is_linear_and_ends_at_the_target():
    w = World()
    assert w.turn_by_hand(90, 1000) == 90.0
    w.advance_to(250)
    assert w.angle == 22.5
    assert w.moving() == (0.09 * 1000, 1000) or w.moving()[1] == 1000
    w.advance_to(5000)
    assert w.angle == 90.0 and w.moving() is None


def test_hand_turn_is_clamped_to_the_end_stops():
    w = World()
    assert w.turn_by_hand(200, 0) == 90.0
    assert w.angle == 90.0


def test_motor_against_a_hand_stalls_and_takes_over_when_released():
    w = World()
    w.turn_by_hand(30, 400)
    drive(w, 0, FULL)  # the motor pulls toward lock while the hand turns toward unlock
    w.advance_to(200)
    assert w.angle == 15.0 and w.blocked() and w.current_u16() == 60000
    w.advance_to(400)
    assert w.angle == 30.0
    w.advance_to(500)
    assert w.angle == 15.0  # hand gone: the motor drives it back


# ---------------------------------------------------------------- pot
def test_pot_maps_angle_to_12_bit_counts_read_as_u16():
    w = World()
    assert w.counts_deg(0) == 800 and w.counts_deg(90) == 3500
    assert w.pot_u16() == 800 << 4
    pos = PotPosition(SimADC(read=w.pot_u16))
    w.turn_by_hand(45, 0)
    assert pos.read() == 800 + 45 * 30


def test_pot_clamps_and_may_run_backwards():
    w = World(pot_offset=4000, pot_per_deg=-30)
    assert w.counts_deg(0) == 4000 and w.counts_deg(90) == 1300
    w2 = World(pot_offset=3000)
    assert w2.counts_deg(90) == 4095


def test_pot_noise_is_seeded():
    a = World(seed=5, noise=3, angle=45)
    b = World(seed=5, noise=3, angle=45)
    ra = [a.pot_u16() >> 4 for _ in range(50)]
    assert ra == [b.pot_u16() >> 4 for _ in range(50)]
    assert len(set(ra)) > 1 and all(abs(x - 2150) <= 3 for x in ra)


# ---------------------------------------------------------------- door and bounce
def test_bounce_pattern_is_odd_increasing_bounded_and_seeded():
    import random
    for seed in range(200):
        ts = bounce_times(random.Random(seed), 1000, 20, 60, 14)
        assert len(ts) % 2 == 1 and len(ts) >= 3
        assert ts[0] == 1000 and 1020 <= ts[-1] <= 1060
        assert all(b > a for a, b in zip(ts, ts[1:]))
        assert all(b - a < 30 for a, b in zip(ts, ts[1:]))  # never quiet long enough to settle
    assert bounce_times(random.Random(1), 0, 20, 60, 14) == bounce_times(random.Random(1), 0, 20, 60, 14)


def test_reed_switch_bounces_on_every_change_then_settles():
    w = World(seed=9, angle=90)
    assert w.reed.level_at(0) == 0  # closed: magnet near, pulled to ground
    assert w.open_door()
    edges = list(w.reed.edges)
    assert w.reed.level == 1  # first edge at once
    w.advance_to(100)
    assert w.reed.level_at(100) == 1
    assert w.reed.count == len(edges) + 1 >= 3  # more than one raw edge for one opening
    assert w.close_door()
    w.advance_to(200)
    assert w.reed.level_at(200) == 0


def test_same_seed_same_bounce_other_seed_other_bounce():
    def pattern(seed):
        w = World(seed=seed, angle=90)
        w.open_door()
        return [w.now] + list(w.reed.edges)
    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)


def test_door_cannot_be_opened_while_the_bolt_is_thrown_unless_forced():
    w = World(angle=0)
    assert not w.open_door()
    assert not w.door_open and w.reed.level_at(0) == 0
    assert "bolt is thrown" in w.notes[-1][1]
    w.turn_by_hand(44, 0)
    assert not w.open_door()
    w.turn_by_hand(45, 0)  # bolt_deg: clear from here
    assert w.open_door()


def test_forced_entry_breaks_the_strike_until_repaired():
    w = World(angle=0)
    assert w.open_door(force=True)
    assert w.strike_broken
    assert w.close_door()  # the bolt has nothing to catch on any more
    assert w.open_door()
    w.repair()
    assert not w.close_door()  # bolt out, strike intact: the door does not shut
    assert w.door_open


def test_door_does_not_close_with_the_bolt_out():
    w = World(angle=90, door_open=True)
    w.turn_by_hand(0, 0)
    assert not w.close_door()
    assert "does not close" in w.notes[-1][1]


def test_button_press_bounces_on_both_edges():
    w = World(seed=3)
    assert w.button.level_at(0) == 1
    assert w.press(150)
    assert w.button_pressed
    w.advance_to(100)
    assert w.button.level_at(100) == 0
    w.advance_to(400)
    assert w.button.level_at(400) == 1 and not w.button_pressed
    assert w.button.count >= 4  # at least one bounce on the way down and on the way up
    assert w.button.count % 2 == 0


def test_debouncer_on_the_reed_sees_one_change_per_opening():
    w = World(seed=4, angle=90)
    pin = SimPin(read=lambda: w.reed.level_at(w.now))
    d = Debounced(pin, 0)
    w.open_door()
    events = []
    for t in range(0, 200):
        w.advance_to(t)
        v = d.poll(t)
        if v is not None:
            events.append((t, v))
    assert len(events) == 1 and events[0][1] is True
    assert events[0][0] == w.reed.last_edge + 30


# ---------------------------------------------------------------- machine stand-ins, board
def test_sim_hardware_has_the_machine_method_names():
    p = SimPWM(freq=1000, duty_u16=5)
    assert p.duty_u16() == 5 and p.freq() == 1000
    p.freq(20000)
    assert p.freq() == 20000
    with pytest.raises(ValueError):
        p.duty_u16(70000)
    a = SimADC(read=lambda: 4242)
    assert a.read_u16() == 4242
    pin = SimPin(value=1)
    assert pin.value() == 1
    pin.value(0)
    assert pin.value() == 0


def test_firmware_board_composition_runs_on_the_sim_machine():
    w = World(angle=30)
    b = fw_board.make_board(w.machine, 0, nfc=False)
    assert isinstance(b.motor, HBridgeMotor)
    assert b.position.read() == 800 + 30 * 30
    assert b.door.value is False and b.button.value is False
    b.motor.drive(1, 0)
    assert w.direction == 1 and w.pwm_a.duty_u16() == FULL and w.pwm_b.duty_u16() == 0
    w.advance_to(100)
    assert w.angle == 45.0
    b.motor.brake()
    assert w.direction == 0
    assert w.machine.led is not None and w.machine.buzzer is not None


def test_motor_driver_reports_a_stall_at_an_end_stop():
    w = World(angle=80)
    b = fw_board.make_board(w.machine, 0, nfc=False)
    b.motor.drive(1, 0)
    stalls = []
    for t in range(0, 400):
        w.advance_to(t)
        if b.motor.poll(t):
            stalls.append(t)
    # contact at 67 ms (10 deg), but the driver looks only after its 150 ms inrush window
    assert stalls == [150 + 60]


def test_next_event_and_busy():
    w = World(seed=1, angle=90)
    assert w.next_event() is None and not w.busy()
    w.open_door()
    assert w.busy() and w.next_event() == w.reed.edges[0]
    w.advance_to(1000)
    assert not w.busy()
    drive(w, 0, FULL)
    assert w.next_event() == 1600 and w.busy()
    assert w.next_current_change() == 1030


def test_world_time_never_goes_backwards():
    w = World()
    w.advance_to(10)
    with pytest.raises(ValueError):
        w.advance_to(5)
