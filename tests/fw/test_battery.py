# BatteryMonitor (drivers/battery.py): sampling schedule, averaging, conversion, failures, no
# allocation; BatteryPort (lockshell/battery.py): levels, hysteresis both ways, critical, one event
# per change, load deferral, the port protocol.
from fakes import FakeADC, alloc_bytes
from drivers.battery import BatteryMonitor
from lockshell.battery import BatteryPort
from lockctl.codes import EV_BATTERY, BATT_OK, BATT_LOW, BATT_CRITICAL


def raw_for(mv, ratio=2.0, fs=3300):
    # the u16 reading of a battery at mv through the divider (rounded)
    k = int(ratio * fs + 0.5)
    return (mv * 65535 + k // 2) // k


def near(got, mv):
    return got is not None and abs(got - mv) <= 1


def test_first_poll_is_a_burst_then_one_read_per_step():
    adc = FakeADC(raw_for(4000))
    b = BatteryMonitor(adc, 1000, period_ms=60000, samples=8)
    assert b.next_deadline() == 1000 and b.mv is None
    assert b.poll(999) is None and adc.reads == 0
    mv = b.poll(1000)
    assert near(mv, 4000), mv
    assert adc.reads == 8 and b.averages == 1 and b.mv == mv
    assert b.step_ms == 7500 and b.next_deadline() == 8500
    # then one read per 7.5 s, an average per minute
    got = []
    t = 1000
    while t <= 1000 + 3 * 60000:
        v = b.poll(t)
        if v is not None:
            got.append(t)
        t += 100
    assert adc.reads == 8 + 24
    assert got == [61000, 121000, 181000]


def test_averaging():
    # 8 samples of noise around 3700 mV average to 3700
    n = 200
    seq = [raw_for(3700)]  # the boot burst reads this 8 times
    for i in range(8):
        seq.append(raw_for(3700) + (n if i % 2 else -n))
    adc = FakeADC(seq[:1] * 8 + seq[1:])
    b = BatteryMonitor(adc, 0, period_ms=800, samples=8)
    assert near(b.poll(0), 3700)
    out = []
    for t in range(100, 801, 100):
        out.append(b.poll(t))
    assert out[:7] == [None] * 7
    assert near(out[7], 3700), out
    # a sag caught by one sample moves the average by an eighth of it
    adc = FakeADC([raw_for(4000)] * 15 + [raw_for(3200)])
    b = BatteryMonitor(adc, 0, period_ms=800, samples=8)
    b.poll(0)
    out = [b.poll(t) for t in range(100, 801, 100)]
    assert near(out[7], 3900), out
    # samples=1: every read is an average
    adc = FakeADC([raw_for(3600), raw_for(3500), raw_for(3400)])
    b = BatteryMonitor(adc, 0, period_ms=1000, samples=1)
    assert [b.poll(t) is not None for t in (0, 999, 1000, 1999, 2000)] == [True, False, True, False, True]
    assert near(b.mv, 3400)


def test_conversion():
    for mv in (0, 1000, 3300, 3500, 4200, 6600):
        b = BatteryMonitor(FakeADC(raw_for(mv)), 0)
        assert near(b.poll(0), mv), mv
    b = BatteryMonitor(FakeADC(65535), 0)
    assert b.poll(0) == 6600  # full scale: 3.3 V at the pin, x2
    b = BatteryMonitor(FakeADC(raw_for(6000, 3.0)), 0, ratio=3.0)
    assert near(b.poll(0), 6000)
    b = BatteryMonitor(FakeADC(raw_for(2000, 1.0, 2450)), 0, ratio=1.0, full_scale_mv=2450)
    assert near(b.poll(0), 2000)
    for bad in ({"samples": 0}, {"period_ms": 4, "samples": 8}, {"ratio": 0.5}, {"full_scale_mv": 0}):
        try:
            BatteryMonitor(FakeADC(0), 0, **bad)
            assert False, bad
        except ValueError:
            pass


class UvADC:
    def __init__(self, uv):
        self.uv = uv
        self.reads = 0

    def read_uv(self):
        self.reads += 1
        return self.uv

    def read_u16(self):
        raise AssertionError("read_u16 with uv=True")


def test_calibrated_microvolts():
    adc = UvADC(1850000)  # 1.85 V at the pin
    b = BatteryMonitor(adc, 0, uv=True)
    assert b.poll(0) == 3700 and adc.reads == 8
    b = BatteryMonitor(UvADC(1234567), 0, ratio=3.0, uv=True)
    assert b.poll(0) == 3702


def test_a_failing_read_loses_one_sample_not_the_schedule():
    state = {"fail": True, "tries": 0}

    def read():
        state["tries"] += 1
        if state["fail"]:
            raise OSError("adc")
        return raw_for(3800)

    adc = FakeADC(read)
    b = BatteryMonitor(adc, 0, period_ms=8000, samples=8)
    try:
        b.poll(0)
        assert False
    except OSError:
        pass
    assert b.next_deadline() == 1000  # retried a step later, not at every poll
    for t in range(1, 1000):
        assert b.poll(t) is None
    assert state["tries"] == 1
    state["fail"] = False
    assert near(b.poll(1000), 3800)  # the boot burst is still owed
    assert b.averages == 1


def test_wraps_with_ticks_ms():
    mask = 0x3FFFFFFF
    b = BatteryMonitor(FakeADC(raw_for(3900)), mask - 100, period_ms=800, samples=8)
    assert near(b.poll(mask - 100), 3900)
    assert b.next_deadline() == mask  # 100 ms on: the last tick before the wrap
    assert b.poll(mask - 1) is None
    n = 0
    t = mask
    for i in range(900):
        if b.poll(t & mask) is not None:
            n += 1
        t += 1
    assert n == 1


def test_poll_does_not_allocate():
    adc = FakeADC(raw_for(3900))
    b = BatteryMonitor(adc, 0, period_ms=800, samples=8)
    b.poll(0)
    count = [0]

    def loop():
        t = 1
        n = 0
        while t < 4000:
            if b.poll(t) is not None:
                n += 1
            b.next_deadline()
            t += 1
        count[0] = n

    used = alloc_bytes(loop)
    assert count[0] == 4 and adc.reads == 8 + 39
    assert used is None or used == 0, used


class Seq:
    # a scripted monitor: poll() returns the next average of the list (None once it is used up)
    def __init__(self, values):
        self.values = list(values)
        self.polls = 0
        self.deadline = 12345

    def poll(self, t):
        self.polls += 1
        if self.values:
            return self.values.pop(0)
        return None

    def next_deadline(self):
        return self.deadline


def levels(values, **kw):
    p = BatteryPort(Seq(values), **kw)
    out = []
    for i in range(len(values)):
        arg = p.step(i)
        if arg is not None:
            out.append((i, arg[0], arg[1]))
    return p, out


def test_first_average_fed_once_whatever_the_level():
    for mv, lvl in ((4100, BATT_OK), (3500, BATT_OK), (3499, BATT_LOW), (3300, BATT_LOW), (3299, BATT_CRITICAL)):
        p, out = levels([mv, mv, mv])
        assert out == [(0, lvl, mv)], (mv, out)
        assert p.level == lvl and p.mv == mv and p.changes == 1


def test_hysteresis_down_and_up():
    p, out = levels([4000, 3550, 3500, 3499, 3550, 3599, 3501, 3600, 3550, 3499])
    assert out == [(0, BATT_OK, 4000), (3, BATT_LOW, 3499), (7, BATT_OK, 3600), (9, BATT_LOW, 3499)]


def test_critical_and_back():
    p, out = levels([3450, 3301, 3299, 3350, 3399, 3300, 3400, 3301, 3299, 3700, 3200])
    assert out == [(0, BATT_LOW, 3450), (2, BATT_CRITICAL, 3299), (6, BATT_LOW, 3400), (8, BATT_CRITICAL, 3299),
                   (9, BATT_OK, 3700), (10, BATT_CRITICAL, 3200)]
    # out of CRITICAL into the low band's hysteresis: LOW, not OK
    p, out = levels([3200, 3550, 3600])
    assert out == [(0, BATT_CRITICAL, 3200), (1, BATT_LOW, 3550), (2, BATT_OK, 3600)]


def test_one_event_per_change_over_a_long_wander():
    # a voltage wandering +-40 mV (80 mV peak to peak: inside the hysteresis) while draining
    vals = []
    v = 4100
    while v > 3000:
        for d in (0, 40, -40, 20, -20):
            vals.append(v + d)
        v -= 10
    p, out = levels(vals)
    assert [o[1] for o in out] == [BATT_OK, BATT_LOW, BATT_CRITICAL], out
    assert p.changes == 3


def test_settings():
    p, out = levels([4500, 4399, 4450, 4500, 3999, 4100], low_mv=4400, critical_mv=4000, hysteresis_mv=100)
    assert out == [(0, BATT_OK, 4500), (1, BATT_LOW, 4399), (3, BATT_OK, 4500), (4, BATT_CRITICAL, 3999), (5, BATT_LOW, 4100)]
    p, out = levels([3600, 3499, 3500], hysteresis_mv=0)
    assert out == [(0, BATT_OK, 3600), (1, BATT_LOW, 3499), (2, BATT_OK, 3500)]
    for bad in ({"low_mv": 3300}, {"critical_mv": 3600}, {"hysteresis_mv": -1}):
        try:
            BatteryPort(Seq([]), **bad)
            assert False, bad
        except ValueError:
            pass


def test_loaded_defers_the_sample():
    busy = [True]
    m = Seq([4000, 3200])
    p = BatteryPort(m, loaded=lambda: busy[0])
    assert p.step(0) is None and m.polls == 0
    assert p.next_deadline() is None
    busy[0] = False
    assert p.next_deadline() == 12345
    assert p.step(1) == (BATT_OK, 4000) and m.polls == 1


class FakeApp:
    def __init__(self):
        self.fed = []

    def feed(self, now, kind, arg):
        self.fed.append((now, kind, arg))


def test_port_protocol_and_resync():
    adc = FakeADC(raw_for(3600))
    p = BatteryPort(BatteryMonitor(adc, 0, period_ms=800, samples=8))
    assert p.kind == EV_BATTERY and p.busy() is False
    app = FakeApp()
    p.resync(app, 0)
    assert app.fed == []  # nothing known yet: nothing to tell
    p.poll(app, 5, 0)
    assert len(app.fed) == 1 and app.fed[0][:2] == (5, EV_BATTERY) and app.fed[0][2][0] == BATT_OK
    assert near(app.fed[0][2][1], 3600)
    adc.value = raw_for(3400)
    t = 1
    while t <= 2000:
        p.poll(app, t, t)
        t += 1
    assert [f[2][0] for f in app.fed] == [BATT_OK, BATT_LOW]
    assert app.fed[1][0] == 800  # the first average made only of the new readings
    p.resync(app, 2001)
    assert app.fed[-1][0] == 2001 and app.fed[-1][2] == (BATT_LOW, p.mv)


def test_port_idle_polls_do_not_allocate():
    adc = FakeADC(raw_for(3900))
    p = BatteryPort(BatteryMonitor(adc, 0, period_ms=800, samples=8))
    app = FakeApp()
    p.poll(app, 0, 0)

    def loop():
        t = 1
        while t < 4000:
            p.poll(app, t, t)
            p.next_deadline()
            t += 1

    used = alloc_bytes(loop)
    assert len(app.fed) == 1
    assert used is None or used == 0, used
