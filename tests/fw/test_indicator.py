# Indicator: exact LED / buzzer timelines of every pattern, alarm repeat and clear, writes only on
# change, optional outputs, wrap safety, no allocation in poll().
from fakes import FakePin, FakePWM, alloc_bytes
from fwcheck import raises
from lockctl.codes import IND_OK, IND_DENIED, IND_ALARM, IND_CLEAR, IND_LOCKED, IND_UNLOCKED, IND_CALIBRATE
from drivers.indicator import Indicator

ON = 32768  # buzzer duty while sounding


def make(**kw):
    led, buz = FakePin(0), FakePWM()
    return Indicator(led, buz, **kw), led, buz


def timeline(ind, led, buz, t0, t1, step=1):
    # poll every `step` ms over [t0, t1]; return the output changes as [(t, led, buzzer_on), ...]
    out = []
    last = (led.level, buz.duty != 0)
    t = t0
    while t <= t1:
        ind.poll(t)
        now = (led.level, buz.duty != 0)
        if now != last:
            out.append((t, now[0], now[1]))
            last = now
        t += step
    return out


# expected (t, led, buzzer) changes after show(pattern, 0), ending with both off
EXPECT = (
    (IND_OK, [(120, 0, False)]),
    (IND_DENIED, [(80, 0, False), (160, 1, True), (240, 0, False), (320, 1, True), (400, 0, False)]),
    (IND_LOCKED, [(60, 1, False), (120, 1, True), (180, 1, False), (580, 0, False)]),
    (IND_UNLOCKED, [(250, 1, False), (650, 0, False)]),
    (IND_CALIBRATE, [(40, 0, False), (200, 1, False), (400, 0, False), (600, 1, False), (800, 0, False),
                     (1000, 1, False), (1200, 0, False)]),
)


def test_constructor_turns_outputs_off():
    ind, led, buz = make()
    assert led.writes == [0]
    assert buz.history == [0]
    assert buz.freqs == [2700]
    assert ind.busy is False
    ind.poll(0)
    ind.poll(10000)
    assert led.writes == [0] and buz.history == [0]
    ind2, led2, buz2 = make(freq=4000)
    assert buz2.freqs == [4000]


def test_one_shot_patterns_exact_timelines():
    for pattern, expect in EXPECT:
        ind, led, buz = make()
        ind.show(pattern, 0)
        assert ind.busy is True
        assert (led.level, buz.duty) == (1, ON), pattern
        got = timeline(ind, led, buz, 0, 3000)
        assert got == expect, (pattern, got)
        assert ind.busy is False
        assert (led.level, buz.duty) == (0, 0)
        # outputs are written only when they change: constructor, show(), then one write per change
        n_led, n_buz = 2, 2
        prev_led, prev_buz = 1, True
        for t, lv, bz in expect:
            n_led += lv != prev_led
            n_buz += bz != prev_buz
            prev_led, prev_buz = lv, bz
        assert len(led.writes) == n_led, (pattern, led.writes)
        assert len(buz.history) == n_buz, (pattern, buz.history)


def test_pattern_timing_from_any_start_and_coarse_polls():
    ind, led, buz = make()
    ind.show(IND_DENIED, 5000)
    got = timeline(ind, led, buz, 5000, 6000, step=10)
    assert got == [(5080, 0, False), (5160, 1, True), (5240, 0, False), (5320, 1, True), (5400, 0, False)]
    # a late poll jumps to the step that is due now
    ind.show(IND_CALIBRATE, 10000)
    ind.poll(10450)
    assert (led.level, buz.duty) == (0, 0) and ind.busy is True
    ind.poll(10600)
    assert (led.level, buz.duty) == (1, 0)
    ind.poll(20000)
    assert (led.level, buz.duty) == (0, 0) and ind.busy is False


def test_alarm_repeats_until_clear():
    ind, led, buz = make()
    ind.show(IND_ALARM, 0)
    got = timeline(ind, led, buz, 0, 5099)
    expect = []
    for k in range(1, 21):
        expect.append((k * 250, k % 2 == 0 and 1 or 0, k % 2 == 0))
    assert got == expect
    assert ind.busy is True
    ind.show(IND_CLEAR, 5100)
    assert ind.busy is False
    assert (led.level, buz.duty) == (0, 0)
    assert timeline(ind, led, buz, 5100, 8000) == []
    # clear when nothing plays is harmless and writes nothing
    n = (len(led.writes), len(buz.history))
    ind.show(IND_CLEAR, 9000)
    assert (len(led.writes), len(buz.history)) == n


def test_alarm_clear_while_on_and_while_off():
    for t_clear in (100, 300):
        ind, led, buz = make()
        ind.show(IND_ALARM, 0)
        timeline(ind, led, buz, 0, t_clear)
        ind.show(IND_CLEAR, t_clear)
        assert (led.level, buz.duty) == (0, 0) and ind.busy is False


def test_alarm_shown_again_keeps_cadence():
    ind, led, buz = make()
    ind.show(IND_ALARM, 0)
    timeline(ind, led, buz, 0, 100)
    ind.show(IND_ALARM, 100)
    assert timeline(ind, led, buz, 101, 600) == [(250, 0, False), (500, 1, True)]


def test_another_show_ends_the_alarm():
    ind, led, buz = make()
    ind.show(IND_ALARM, 0)
    timeline(ind, led, buz, 0, 300)  # in the off half
    ind.show(IND_OK, 300)
    assert (led.level, buz.duty) == (1, ON)
    assert timeline(ind, led, buz, 300, 3000) == [(420, 0, False)]
    assert ind.busy is False


def test_show_restarts_a_one_shot():
    ind, led, buz = make()
    ind.show(IND_UNLOCKED, 0)
    timeline(ind, led, buz, 0, 300)
    ind.show(IND_UNLOCKED, 300)
    assert (led.level, buz.duty) == (1, ON)
    assert timeline(ind, led, buz, 300, 2000) == [(550, 1, False), (950, 0, False)]


def test_late_alarm_poll_keeps_cadence():
    ind, led, buz = make()
    ind.show(IND_ALARM, 0)
    ind.poll(1130)  # 1000..1250 is an "on" half
    assert (led.level, buz.duty) == (1, ON)
    assert timeline(ind, led, buz, 1131, 1600) == [(1250, 0, False), (1500, 1, True)]


def test_bad_pattern():
    ind, led, buz = make()
    for bad in (0, 8, -1, None, True, "ok", 1.0):
        raises(ValueError, ind.show, bad, 0)
    assert ind.busy is False and led.writes == [0] and buz.history == [0]


def test_optional_outputs():
    ind = Indicator()
    ind.show(IND_ALARM, 0)
    for t in range(0, 1000, 50):
        ind.poll(t)
    assert ind.busy is True
    ind.show(IND_CLEAR, 1000)
    assert ind.busy is False
    led = FakePin(0)
    ind = Indicator(led=led)
    ind.show(IND_OK, 0)
    ind.poll(200)
    assert led.writes == [0, 1, 0]

    class BareBuzzer:  # duty only, no freq()
        def __init__(self):
            self.d = []

        def duty_u16(self, v):
            self.d.append(v)

    bz = BareBuzzer()
    ind = Indicator(buzzer=bz, buzz_duty_u16=1000)
    ind.show(IND_OK, 0)
    ind.poll(200)
    assert bz.d == [0, 1000, 0]


def test_wraps_with_ticks_ms():
    mask = 0x3FFFFFFF
    ind, led, buz = make()
    start = mask - 300
    ind.show(IND_ALARM, start)
    changes = []
    last = 1
    t = start
    for i in range(1200):
        ind.poll(t)
        if led.level != last:
            changes.append(i)
            last = led.level
        t = (t + 1) & mask
    assert changes == [250, 500, 750, 1000]


def test_poll_does_not_allocate():
    led, buz = FakePin(0, record=False), FakePWM(record=False)
    ind = Indicator(led, buz)
    ind.show(IND_ALARM, 0)
    out = [0]

    def loop():
        t = 0
        n = 0
        last = 1
        while t < 1000:
            ind.poll(t)
            if led.level != last:
                n += 1
                last = led.level
            t += 1
        out[0] = n

    used = alloc_bytes(loop)
    assert out[0] == 3  # off at 250, on at 500, off at 750
    assert used is None or used == 0, used
