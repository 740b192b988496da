# PotPosition averaging / scaling / invert, QuadratureEncoder counting, errors and IRQ use.
from fakes import FakePin, FakeADC, alloc_bytes
from fwcheck import raises
from drivers.position import PotPosition, QuadratureEncoder


def test_pot_mean_of_samples():
    adc = FakeADC([1000, 2000, 3000, 4000, 8000])
    p = PotPosition(adc)
    assert p.read() == 156  # (10000 // 4) >> 4
    assert adc.reads == 4
    assert p.read() == 500  # 4 x 8000 (the last reading repeats)
    assert adc.reads == 8


def test_pot_samples_and_range():
    for samples in (1, 2, 3, 8, 16):
        adc = FakeADC(65535)
        p = PotPosition(adc, samples=samples)
        assert p.read() == 4095
        assert adc.reads == samples
        adc.value = 0
        assert p.read() == 0
        adc.value = 0x8000
        assert p.read() == 2048
    # rounding: the mean is floored, then >> 4
    assert PotPosition(FakeADC([15, 16, 16]), samples=3).read() == 0  # mean 15
    assert PotPosition(FakeADC([16, 16, 17]), samples=3).read() == 1  # mean 16
    assert PotPosition(FakeADC([100, 101]), samples=2).read() == 6
    raises(ValueError, PotPosition, FakeADC(0), samples=0)


def test_pot_invert():
    adc = FakeADC(65535)
    p = PotPosition(adc, invert=True)
    assert p.read() == 0
    adc.value = 0
    assert p.read() == 4095
    adc.value = [1000, 2000, 3000, 4000]
    assert p.read() == 4095 - 156


# (A, B) quadrature sequence with A leading B: counts up
FWD = ((0, 0), (1, 0), (1, 1), (0, 1))


def step_to(a, b, level_a, level_b, enc):
    a.level = level_a
    b.level = level_b
    enc.update()


def test_encoder_counts_both_directions():
    a, b = FakePin(0), FakePin(0)
    e = QuadratureEncoder(a, b)
    assert e.read() == 0 and e.errors == 0
    for cycle in range(5):
        for k in (1, 2, 3, 0):
            step_to(a, b, FWD[k][0], FWD[k][1], e)
    assert e.read() == 20
    for cycle in range(7):
        for k in (3, 2, 1, 0):
            step_to(a, b, FWD[k][0], FWD[k][1], e)
    assert e.read() == 20 - 28
    # no change = no count
    for i in range(10):
        e.update()
    assert e.read() == -8 and e.errors == 0
    # back and forth on one edge (dithering) nets zero
    for i in range(9):
        step_to(a, b, 1, 0, e)
        step_to(a, b, 0, 0, e)
    assert e.read() == -8 and e.errors == 0


def test_encoder_starts_from_any_state():
    for k in range(4):
        a, b = FakePin(FWD[k][0]), FakePin(FWD[k][1])
        e = QuadratureEncoder(a, b)
        nxt = FWD[(k + 1) % 4]
        step_to(a, b, nxt[0], nxt[1], e)
        assert e.read() == 1
        prv = FWD[(k - 1) % 4]
        step_to(a, b, FWD[k][0], FWD[k][1], e)
        step_to(a, b, prv[0], prv[1], e)
        assert e.read() == -1 and e.errors == 0


def test_encoder_illegal_transition_is_skipped_and_counted():
    a, b = FakePin(0), FakePin(0)
    e = QuadratureEncoder(a, b)
    step_to(a, b, 1, 0, e)  # +1
    step_to(a, b, 0, 1, e)  # 10 -> 01: both changed
    assert e.read() == 1 and e.errors == 1
    step_to(a, b, 1, 0, e)  # 01 -> 10: both changed again
    assert e.read() == 1 and e.errors == 2
    step_to(a, b, 1, 1, e)  # legal again: +1 from the new state
    step_to(a, b, 0, 0, e)  # 11 -> 00
    assert e.read() == 2 and e.errors == 3
    step_to(a, b, 0, 1, e)  # 00 -> 01: -1
    assert e.read() == 1 and e.errors == 3


def test_encoder_from_pin_irqs():
    a, b = FakePin(0), FakePin(0)
    e = QuadratureEncoder(a, b)
    a.irq(handler=e.irq_handler)
    b.irq(handler=e.irq_handler)
    for cycle in range(3):
        for k in (1, 2, 3, 0):
            a.set(FWD[k][0])
            b.set(FWD[k][1])
    assert e.read() == 12 and e.errors == 0
    for k in (3, 2, 1):
        a.set(FWD[k][0])
        b.set(FWD[k][1])
    assert e.read() == 9 and e.errors == 0


def test_reads_do_not_allocate():
    adc = FakeADC(30000)
    p = PotPosition(adc, samples=4, invert=True)
    a, b = FakePin(0, record=False), FakePin(0, record=False)
    e = QuadratureEncoder(a, b)
    out = [0, 0]

    def loop():
        i = 0
        s = 0
        while i < 1000:
            s += p.read()
            k = i & 3
            if k == 0:
                a.level = 1
            elif k == 1:
                b.level = 1
            elif k == 2:
                a.level = 0
            else:
                b.level = 0
            e.update()
            i += 1
        out[0] = s
        out[1] = e.read()

    used = alloc_bytes(loop)
    assert out == [1000 * (4095 - 1875), 1000]
    assert used is None or used == 0, used
