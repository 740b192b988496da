"""The simulator's virtual keypad and battery (sim/keypad.py, sim/battery.py) read by the real
firmware drivers and ports: MatrixKeypad + PinEntry over the virtual pins, BatteryMonitor +
BatteryPort over the draining battery's ADC."""
import pytest

from drivers.keypad import MatrixKeypad
from drivers.battery import BatteryMonitor
from lockshell.keypad import PinEntry, REFUSED
from lockshell.battery import BatteryPort
from lockshell.app import PERIOD_MS, IDLE_MS
from lockctl.codes import KIND_PIN, BATT_OK, BATT_LOW, BATT_CRITICAL
from sim.keypad import VirtualKeypad
from sim.battery import VirtualBattery
from sim.world import SimPin


class Clock:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


def shell_polls(clock, thing, poll, t_end, deadline=None):
    """Poll as lockshell.app.run() does: every PERIOD_MS while settling, else sleep until the next
    deadline but at most IDLE_MS. Returns [(t, result), ...] of the polls that returned something."""
    out = []
    while clock.t <= t_end:
        r = poll(clock.t)
        if r is not None:
            out.append((clock.t, r))
        if thing.settling:
            wait = PERIOD_MS
        else:
            wait = IDLE_MS
            d = deadline() if deadline is not None else None
            if d is not None and 0 <= d - clock.t < wait:
                wait = max(1, d - clock.t)
        clock.t += wait
    return out


def every_ms(clock, poll, t_end):
    out = []
    while clock.t <= t_end:
        r = poll(clock.t)
        if r is not None:
            out.append((clock.t, r))
        clock.t += 1
    return out


@pytest.mark.parametrize("seed", range(5))
def test_every_key_decoded_by_the_real_driver(seed):
    clock = Clock()
    vk = VirtualKeypad(clock, seed=seed, bounce=(2, 8), max_gap=3)
    kp = MatrixKeypad(vk.rows, vk.cols, 0)
    end = vk.type(vk.keymap, at=100, hold_ms=100, gap_ms=120)
    got = every_ms(clock, kp.poll, end + 200)
    assert "".join(k for t, k in got) == "123456789*0#"
    # each key 30 ms after its contact last settled, within its hold
    for n, (t, k) in enumerate(got):
        start = 100 + n * 220
        assert start + 30 <= t <= start + 8 + 30, (k, t)
    assert kp.presses == 12 and vk.presses == 12


def test_rows_idle_low_under_the_driver_and_columns_pulled_up():
    clock = Clock()
    vk = VirtualKeypad(clock)
    assert [c.value() for c in vk.cols] == [1, 1, 1]
    vk.press("8")
    assert [c.value() for c in vk.cols] == [1, 1, 1]  # every row high: nothing reads low
    vk.rows[2].value(0)  # row 2 ("789") low: column 1 reads the "8"
    assert [c.value() for c in vk.cols] == [1, 0, 1]
    vk.rows[2].value(1)
    kp = MatrixKeypad(vk.rows, vk.cols, 0)  # a key down at power-up is not reported
    assert [r.value() for r in vk.rows] == [0, 0, 0, 0]  # the driver idles with every row low
    assert every_ms(clock, kp.poll, 500) == []
    vk.release("8")
    vk.press("8", 100, at=600)
    assert [k for t, k in every_ms(clock, kp.poll, 900)] == ["8"]
    assert [r.value() for r in vk.rows] == [0, 0, 0, 0]  # idle again between scans


def test_pin_entry_over_the_virtual_keypad_at_the_shells_polling_rate():
    clock = Clock()
    vk = VirtualKeypad(clock, seed=3)
    entry = PinEntry(MatrixKeypad(vk.rows, vk.cols, 0))
    vk.type("1234#", at=1000, hold_ms=90, gap_ms=110)
    vk.type("12#", at=3000, hold_ms=90, gap_ms=110)
    vk.type("55*2580#", at=5000, hold_ms=90, gap_ms=110)
    got = shell_polls(clock, entry.keypad, entry.step, 9000, entry.next_deadline)
    assert [a for t, a in got] == [(KIND_PIN, "1234"), REFUSED, (KIND_PIN, "2580")]
    assert entry.keys_seen == 5 + 3 + 8


def test_ghosting_three_keys_report_nothing():
    clock = Clock()
    vk = VirtualKeypad(clock, bounce=(0, 0))
    # "1", "2" and "4" down: with row 1 ("456") low, column 1 reads low through 4-1-2: a phantom "5"
    for k in "124":
        vk.press(k)
    vk.rows[1].value(0)
    assert [c.value() for c in vk.cols] == [0, 0, 1]
    vk.rows[1].value(1)
    kp = MatrixKeypad(vk.rows, vk.cols, 0)
    vk.release_all()
    clock.t = 100
    for k in "124":
        vk.press(k, 300, at=200)
    vk.press("9", 100, at=800)
    assert [k for t, k in every_ms(clock, kp.poll, 1200)] == ["9"]
    # with diodes the same three keys do not make the fourth
    vk = VirtualKeypad(clock, bounce=(0, 0), diodes=True)
    for k in "124":
        vk.press(k)
    vk.rows[1].value(0)
    assert [c.value() for c in vk.cols] == [0, 1, 1]


def test_schedule_checks_and_next_edge():
    clock = Clock(50)
    vk = VirtualKeypad(clock, seed=1, bounce=(3, 6))
    assert vk.next_edge() is None
    vk.press("0", 200, at=100)
    assert vk.next_edge() == 100
    with pytest.raises(ValueError):
        vk.press("0", 50, at=150)  # overlaps the press under way
    with pytest.raises(ValueError):
        vk.press("X")
    with pytest.raises(ValueError):
        vk.press("1", 4)  # shorter than its bounce
    clock.t = 400
    assert vk.next_edge() is None and not vk.pressed("0")
    assert vk.release("0") is False  # not pressed: nothing


def test_attached_row_pins():
    # a runner's own pins (a `machine` stand-in) wired to the keypad
    clock = Clock()
    vk = VirtualKeypad(clock, bounce=(0, 0))
    rows = [SimPin(n, SimPin.OUT, value=1) for n in (18, 19, 21, 22)]
    for r, p in enumerate(rows):
        vk.attach_row(r, p)
    cols = [SimPin(n, SimPin.IN, SimPin.PULL_UP, read=vk.col_reader(c)) for c, n in enumerate((23, 32, 33))]
    kp = MatrixKeypad(rows, cols, 0)
    vk.press("#", 100, at=10)
    assert every_ms(clock, kp.poll, 300) == [(40, "#")]


# ---------------------------------------------------------------------------------------- battery

def test_battery_drains_with_time_and_motor_and_sags_under_load():
    clock = Clock()
    motor = [False]
    bat = VirtualBattery(clock, start_mv=4100, drain_mv_per_hour=10, drain_mv_per_motor_s=2, sag_mv=300,
                         load=lambda: motor[0])
    assert bat.mv() == 4100
    clock.t = 3600000
    assert bat.mv() == 4090
    motor[0] = True
    bat.update()  # the runner tells the battery when the load changes
    assert bat.mv() == 3790 and bat.loaded
    clock.t += 5000
    assert bat.mv() == 4080 - 300  # 5 motor seconds x 2 mV, and the sag while it runs
    motor[0] = False
    bat.update()
    assert bat.mv() == 4080 and bat.motor_ms == 5000
    # through the divider: u16 and calibrated microvolts
    assert abs(bat.adc.read_u16() - round(2040 * 65535 / 3300)) <= 1
    assert bat.adc.read_uv() == 2040000
    assert BatteryMonitor(bat.adc, clock.t, uv=True).poll(clock.t) == 4080
    assert abs(BatteryMonitor(bat.adc, clock.t).poll(clock.t) - 4080) <= 1
    # set_load for a battery without a load callable
    b2 = VirtualBattery(clock, drain_mv_per_hour=0, drain_mv_per_motor_s=1)
    b2.set_load(True)
    clock.t += 2000
    b2.set_load(False)
    assert b2.mv() == 4098 and b2.time_at(3500) is None


def run_battery(clock, bat, port, t_end, motor=None, every_ms=600000, run_ms=3000):
    """Drive the port as the shell would (at its deadlines; the motor, if given, runs run_ms every
    every_ms). Returns the EV_BATTERY args with their times."""
    out = []
    while clock.t <= t_end:
        if motor is not None:
            on = (clock.t % every_ms) < run_ms
            if on != motor[0]:
                motor[0] = on
                bat.update()
        arg = port.step(clock.t)
        if arg is not None:
            out.append((clock.t, arg))
        d = port.next_deadline()
        nxt = clock.t + 1000 if d is None else max(d, clock.t + 1)
        if motor is not None:  # wake at the motor's next start or stop too
            k = clock.t // every_ms * every_ms
            edge = k + run_ms if clock.t < k + run_ms else k + every_ms
            nxt = min(nxt, edge)
        clock.t = nxt
    return out


def test_battery_crosses_low_then_critical_while_draining():
    clock = Clock()
    bat = VirtualBattery(clock, start_mv=4100, drain_mv_per_hour=100, drain_mv_per_motor_s=0, noise_mv=15, seed=7)
    port = BatteryPort(BatteryMonitor(bat.adc, 0, ratio=bat.ratio))
    t_low, t_crit = bat.time_at(3500), bat.time_at(3300)
    assert (t_low, t_crit) == (6 * 3600000, 8 * 3600000)
    out = run_battery(clock, bat, port, 10 * 3600000)
    assert [a[0] for t, a in out] == [BATT_OK, BATT_LOW, BATT_CRITICAL], out
    assert out[0][0] == 0 and abs(out[0][1][1] - 4100) <= 10
    # each level within 10 minutes of the real crossing: the average lags half a period, and the
    # +-15 mV noise at the pin (+-30 mV at the battery, averaged over 8 samples) is worth a few
    # minutes of drain at 100 mV/h
    for (t, arg), cross in ((out[1], t_low), (out[2], t_crit)):
        assert abs(t - cross) <= 600000, (t, cross)
    assert port.changes == 3


def test_motor_sag_deferred_and_motor_seconds_drain():
    # resting just above the low threshold; the motor's 400 mV sag would read as LOW if sampled
    for deferred in (True, False):
        clock = Clock()
        motor = [False]
        bat = VirtualBattery(clock, start_mv=3560, drain_mv_per_hour=0, drain_mv_per_motor_s=0, sag_mv=400,
                             load=lambda: motor[0])
        port = BatteryPort(BatteryMonitor(bat.adc, 0, ratio=bat.ratio, period_ms=8000, samples=8),
                           loaded=(lambda: motor[0]) if deferred else None)
        out = run_battery(clock, bat, port, 3600000, motor=motor, every_ms=5000, run_ms=2500)
        if deferred:
            assert [a for t, a in out] == [(BATT_OK, 3559)], out[:5]  # (3560 to a u16 and back)
        else:
            assert [a for t, a in out if a[0] != BATT_OK], out[:5]  # sagging samples: a false level
    # motor seconds drain the pack: 100 runs of 3 s at 1 mV/s = 300 mV
    clock = Clock()
    motor = [False]
    bat = VirtualBattery(clock, start_mv=4000, drain_mv_per_hour=0, drain_mv_per_motor_s=1, load=lambda: motor[0])
    port = BatteryPort(BatteryMonitor(bat.adc, 0, ratio=bat.ratio), loaded=lambda: motor[0])
    out = run_battery(clock, bat, port, 100 * 600000 - 1, motor=motor)
    assert bat.motor_ms == 100 * 3000 and bat.rest_mv() == 3700
    assert [a[0] for t, a in out] == [BATT_OK]
