# HBridgeMotor: leg levels per command, invert, boot state, argument checks, stall detection timing.
from fakes import FakePWM, FakeADC, alloc_bytes
from fwcheck import raises
from drivers.motor import HBridgeMotor


def legs(a, b):
    return (a.duty, b.duty)


def test_constructor_never_moves_the_motor():
    for invert in (False, True):
        a = FakePWM(duty=65535)  # whatever the PWM held before
        b = FakePWM(duty=12345)
        adc = FakeADC(65535)
        m = HBridgeMotor(a, b, invert=invert, current_adc=adc)
        assert a.history == [0] and b.history == [0]
        assert legs(a, b) == (0, 0)
        assert m.direction == 0
        assert m.running is False
        assert m.poll(0) is False
        assert m.poll(100000) is False
        assert adc.reads == 0
        assert a.history == [0] and b.history == [0]


def test_leg_levels():
    a, b = FakePWM(), FakePWM()
    m = HBridgeMotor(a, b)
    m.drive(1, 0)
    assert legs(a, b) == (65535, 0) and m.direction == 1 and m.running is True
    m.drive(-1, 10)
    assert legs(a, b) == (0, 65535) and m.direction == -1 and m.running is True
    m.brake()
    assert legs(a, b) == (65535, 65535) and m.direction == 0 and m.running is False
    m.drive(-1, 20)
    assert legs(a, b) == (0, 65535) and m.direction == -1
    m.coast()
    assert legs(a, b) == (0, 0) and m.direction == 0 and m.running is False
    # the leg going low is written first: a reversal passes through coast (00), never brake (11)
    assert a.history == [0, 65535, 0, 65535, 0, 0]
    assert b.history == [0, 0, 65535, 65535, 65535, 0]


def test_reversal_order():
    writes = []

    class LoggingPWM:
        def __init__(self, name):
            self.name = name

        def duty_u16(self, v):
            writes.append((self.name, v))

    m = HBridgeMotor(LoggingPWM("a"), LoggingPWM("b"))
    m.drive(1, 0)
    m.drive(-1, 1)
    m.brake()
    m.drive(1, 2)
    assert writes == [("a", 0), ("b", 0),
                      ("b", 0), ("a", 65535),
                      ("a", 0), ("b", 65535),
                      ("a", 65535), ("b", 65535),
                      ("b", 0), ("a", 65535)]


def test_invert_swaps_legs():
    a, b = FakePWM(), FakePWM()
    m = HBridgeMotor(a, b, invert=True)
    m.drive(1, 0)
    assert legs(a, b) == (0, 65535) and m.direction == 1
    m.drive(-1, 0)
    assert legs(a, b) == (65535, 0) and m.direction == -1
    m.brake()
    assert legs(a, b) == (65535, 65535)
    m.coast()
    assert legs(a, b) == (0, 0)


def test_duty_sets_speed_not_brake():
    a, b = FakePWM(), FakePWM()
    m = HBridgeMotor(a, b, duty_u16=30000)
    m.drive(1, 0)
    assert legs(a, b) == (30000, 0)
    m.drive(-1, 0)
    assert legs(a, b) == (0, 30000)
    m.brake()
    assert legs(a, b) == (65535, 65535)
    raises(ValueError, HBridgeMotor, FakePWM(), FakePWM(), duty_u16=65536)
    raises(ValueError, HBridgeMotor, FakePWM(), FakePWM(), duty_u16=-1)


def test_drive_rejects_bad_direction():
    a, b = FakePWM(), FakePWM()
    m = HBridgeMotor(a, b)
    for bad in (0, 2, -2, None, True, False, 1.0, -1.0, "1"):
        raises(ValueError, m.drive, bad, 0)
    assert m.direction == 0
    assert a.history == [0] and b.history == [0]
    m.drive(1, 0)
    raises(ValueError, m.drive, 0, 5)
    assert m.direction == 1 and legs(a, b) == (65535, 0)


def first_stall(m, t0, t1):
    # poll every ms over [t0, t1]; return the list of times poll() said True
    hits = []
    t = t0
    while t <= t1:
        if m.poll(t):
            hits.append(t)
        t += 1
    return hits


def test_stall_after_inrush_plus_stall_ms_exactly_once():
    adc = FakeADC(50000)
    m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=adc)
    m.drive(1, 1000)
    assert first_stall(m, 1000, 3000) == [1000 + 150 + 60]
    assert m.direction == 1  # the driver does not stop the motor itself
    # re-armed by drive(), in either direction
    m.drive(-1, 5000)
    assert first_stall(m, 5000, 6000) == [5210]
    m.drive(-1, 7000)
    assert first_stall(m, 7000, 8000) == [7210]


def test_threshold_is_inclusive():
    for level, expect in ((40000, [210]), (39999, [])):
        m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=FakeADC(level))
        m.drive(1, 0)
        assert first_stall(m, 0, 1000) == expect


def test_inrush_is_ignored():
    t = [0]
    # high during the whole inrush window, then normal running current
    adc = FakeADC(lambda: 65535 if t[0] < 150 else 20000)
    m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=adc)
    m.drive(1, 0)
    hits = []
    while t[0] <= 2000:
        if m.poll(t[0]):
            hits.append(t[0])
        t[0] += 1
    assert hits == []
    # the ADC is not even read during inrush
    adc2 = FakeADC(65535)
    m2 = HBridgeMotor(FakePWM(), FakePWM(), current_adc=adc2)
    m2.drive(1, 0)
    first_stall(m2, 0, 149)
    assert adc2.reads == 0
    m2.poll(150)
    assert adc2.reads == 1


def test_overcurrent_must_be_continuous():
    t = [0]
    # 59 ms over, one sample under, then over for good from 300 on
    def current():
        now = t[0]
        if 200 <= now < 259 or now >= 260:
            return 45000
        return 10000

    adc = FakeADC(current)
    m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=adc, stall_ms=60)
    m.drive(1, 0)
    hits = []
    while t[0] <= 1000:
        if m.poll(t[0]):
            hits.append(t[0])
        t[0] += 1
    assert hits == [320]


def test_custom_timing():
    m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=FakeADC(30000), stall_u16=25000, stall_ms=10,
                     inrush_ms=0)
    m.drive(-1, 50)
    assert first_stall(m, 50, 500) == [60]


def test_no_stall_when_stopped_or_without_adc():
    adc = FakeADC(65535)
    m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=adc)
    m.drive(1, 0)
    m.brake()
    assert first_stall(m, 0, 1000) == []
    m.drive(1, 1000)
    m.coast()
    assert first_stall(m, 1000, 2000) == []
    assert adc.reads == 0
    # stopped in the middle of an over-current run: a new drive() starts from scratch
    m.drive(1, 3000)
    assert first_stall(m, 3000, 3200) == []
    m.brake()
    m.drive(1, 3201)
    assert first_stall(m, 3201, 4000) == [3201 + 210]
    n = HBridgeMotor(FakePWM(), FakePWM())
    n.drive(1, 0)
    assert first_stall(n, 0, 1000) == []


def test_stall_wraps_with_ticks_ms():
    mask = 0x3FFFFFFF
    m = HBridgeMotor(FakePWM(), FakePWM(), current_adc=FakeADC(50000))
    start = mask - 100
    m.drive(1, start)
    hits = []
    t = start
    for i in range(1000):
        if m.poll(t):
            hits.append(i)
        t = (t + 1) & mask
    assert hits == [210]


def test_poll_does_not_allocate():
    adc = FakeADC(30000)
    m = HBridgeMotor(FakePWM(record=False), FakePWM(record=False), current_adc=adc)
    m.drive(1, 0)
    out = [0, 0]

    def loop():
        n = 0
        t = 0
        while t < 1000:
            if t == 500:
                adc.value = 50000
            if m.poll(t):
                n += 1
                out[1] = t
            t += 1
        out[0] = n

    used = alloc_bytes(loop)
    assert out == [1, 560]
    # read from the end of inrush until the stall is reported, then no more
    assert adc.reads == (500 - 150) + 61
    assert used is None or used == 0, used
