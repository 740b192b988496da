# Debounced: stable value, settle timing, bounce rejection, active_low, wrap safety, no allocation.
from fakes import FakePin, Lcg, alloc_bytes
from drivers.debounce import Debounced


def run(deb, pin, edges, t0, t1, step=1):
    # replay edges [(t, level), ...] onto pin while polling every `step` ms from t0 to t1 inclusive;
    # returns the events as [(t, value), ...]
    events = []
    k = 0
    t = t0
    while t <= t1:
        while k < len(edges) and edges[k][0] <= t:
            pin.level = edges[k][1]
            k += 1
        ev = deb.poll(t)
        if ev is not None:
            events.append((t, ev))
        t += step
    return events


def test_initial_value_is_raw_level():
    for level in (0, 1):
        for active_low in (False, True):
            pin = FakePin(level)
            d = Debounced(pin, 0, active_low=active_low)
            expect = (level == 1) != active_low
            assert d.value is expect
            assert d.settling is False
            for t in range(0, 200, 10):
                assert d.poll(t) is None
            assert d.value is expect
            assert pin.writes == []  # an input: never written


def test_clean_edge_timing():
    pin = FakePin(0)
    d = Debounced(pin, 0, settle_ms=30)
    assert run(d, pin, [(100, 1)], 0, 99) == []
    assert d.settling is False
    pin.level = 1
    for t in range(100, 130):
        assert d.poll(t) is None
        assert d.settling is True
        assert d.value is False
    assert d.poll(130) is True
    assert d.value is True
    assert d.settling is False
    assert d.poll(131) is None
    assert run(d, pin, [(500, 0)], 132, 700) == [(530, False)]
    assert d.value is False


def test_glitches_shorter_than_settle_yield_nothing():
    for length in range(1, 30):
        for start_level in (0, 1):
            pin = FakePin(start_level)
            d = Debounced(pin, 0, settle_ms=30)
            other = 1 - start_level
            ev = run(d, pin, [(50, other), (50 + length, start_level)], 0, 300)
            assert ev == [], (length, start_level, ev)
            assert d.value is (start_level == 1)
            assert d.settling is False
    # a level seen by polls spanning settle_ms is a real change
    pin = FakePin(0)
    d = Debounced(pin, 0, settle_ms=30)
    assert run(d, pin, [(50, 1), (81, 0)], 0, 300) == [(80, True), (111, False)]


def test_glitch_restarts_the_wait():
    # 20 ms high, 1 ms dip back, high again: the 30 ms count restarts at the return
    pin = FakePin(0)
    d = Debounced(pin, 0, settle_ms=30)
    ev = run(d, pin, [(100, 1), (120, 0), (121, 1)], 0, 400)
    assert ev == [(151, True)]


def bounce_edges(rng, t, final, hold_lo, hold_hi):
    # a burst lasting 20..60 ms of toggles 1..29 ms apart, ending at `final`, then held steady;
    # returns the edges, the time of the last real change, and when the next burst may start
    edges = []
    burst = rng.next(20, 60)
    end = t + burst
    level = final
    while t < end:
        edges.append((t, level))
        level = 1 - level
        if rng.next(0, 3) == 0:
            t += rng.next(1, 29)  # the odd long bounce
        else:
            t += rng.next(1, 8)
    if edges[-1][1] == final:
        last = edges[-1][0]  # the burst already ended on `final`
    else:
        edges.append((end, final))
        last = end
    return edges, last, end + rng.next(hold_lo, hold_hi)


def check_presses(d, pin, rng, n, step, t0, invert=False):
    # n presses, each a bouncing make then a bouncing break, replayed one burst at a time (a whole
    # script as one list does not fit MicroPython's 96k heap); every burst must yield exactly one
    # event, with the burst's final level, and never earlier than settle_ms after the burst began
    # nor later than settle_ms (+ up to two polling periods) after its last real change
    t = t0 - (t0 % step)
    for i in range(2 * n):
        final = 1 - (i % 2)
        begin = t
        edges, last, t_next = bounce_edges(rng, t, final, 80, 400)
        t_next -= t_next % step
        if invert:
            edges = [(te, 1 - lv) for te, lv in edges]
        ev = run(d, pin, edges, t, t_next - step, step)
        assert len(ev) == 1, (i, ev)
        te, v = ev[0]
        assert v is (final == 1)
        if step == 1:
            assert te == last + 30, (i, te, last)
        else:
            assert begin + 30 <= te < last + 30 + 2 * step, (i, te, begin, last)
        t = t_next


def test_random_bounce_one_event_per_transition():
    rng = Lcg(2024)
    pin = FakePin(0)
    d = Debounced(pin, 0, settle_ms=30)
    check_presses(d, pin, rng, 150, 1, 100)
    assert d.value is False


def test_bursts_really_bounce():
    rng = Lcg(2024)
    n_edges = 0
    for i in range(300):
        edges, last, t_next = bounce_edges(rng, 0, i % 2, 80, 400)
        n_edges += len(edges)
        assert edges[-1][0] <= 60 and last <= edges[-1][0]
        for k in range(1, len(edges)):
            assert edges[k][1] != edges[k - 1][1]
            assert 1 <= edges[k][0] - edges[k - 1][0] <= 29
    assert n_edges > 6 * 300  # about 7 edges a burst


def test_random_bounce_coarse_polling():
    # polling every 7 ms (and 3, 11): still exactly one True then one False per press
    for seed, step in ((1, 7), (77, 3), (31337, 11)):
        pin = FakePin(0)
        d = Debounced(pin, 0, settle_ms=30)
        check_presses(d, pin, Lcg(seed), 50, step, 99)


def test_active_low_button():
    pin = FakePin(1)  # pull-up, released
    d = Debounced(pin, 0, settle_ms=30, active_low=True)
    assert d.value is False
    ev = run(d, pin, [(100, 0), (300, 1)], 0, 500)
    assert ev == [(130, True), (330, False)]
    check_presses(d, pin, Lcg(5), 40, 1, 600, invert=True)


def test_settle_ms_values():
    for settle in (0, 1, 5, 50):
        pin = FakePin(0)
        d = Debounced(pin, 0, settle_ms=settle)
        assert run(d, pin, [(10, 1)], 0, 200) == [(10 + settle, True)]


def test_wraps_with_ticks_ms():
    mask = 0x3FFFFFFF
    start = mask - 10  # ticks_ms() about to wrap
    pin = FakePin(0)
    d = Debounced(pin, start, settle_ms=30)
    pin.level = 1
    got = None
    t = start
    for i in range(100):
        ev = d.poll(t)
        if ev is not None:
            got = (i, t, ev)
            break
        t = (t + 1) & mask
    assert got == (30, 19, True)
    # and plain monotonic times past 2**30 work too
    pin = FakePin(0)
    d = Debounced(pin, 0, settle_ms=30)
    pin.level = 1
    base = 1 << 30
    assert d.poll(base - 5) is None
    assert d.poll(base + 24) is None
    assert d.poll(base + 25) is True


def test_poll_does_not_allocate():
    pin = FakePin(0, record=False)
    d = Debounced(pin, 0, settle_ms=30)
    events = [0]

    def loop():
        t = 0
        n = 0
        while t < 1000:
            if t % 100 == 0:
                pin.level = 1 - pin.level
            if d.poll(t) is not None:
                n += 1
            t += 1
        events[0] = n

    used = alloc_bytes(loop)
    assert events[0] == 10
    assert used is None or used == 0, used


def test_allocation_meter_works():
    # the no-allocation tests above are only worth something if the meter sees allocations
    import sys
    keep = []
    used = alloc_bytes(lambda: keep.append([1, 2, 3, 4]))
    assert len(keep) == 1
    if sys.implementation.name == "micropython":
        assert used >= 16, used
    else:
        assert used is None
