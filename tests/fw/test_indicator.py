# Indicator, the LED / buzzer step player: exact timelines, one-shot and repeat, stop, writes only on
# change, optional outputs, next_deadline(), wrap safety, no allocation in poll(). It knows no lock
# codes (the patterns and the alarm policy are lockshell/signals.py's, tests/fw/test_signals.py).
from fakes import FakePin, FakePWM, alloc_bytes, timeline
from fwcheck import raises
from drivers.indicator import Indicator

ON = 32768  # buzzer duty while sounding
BEEP2 = (1, 1, 80, 0, 0, 80, 1, 1, 80)
BLINK = (1, 1, 250, 0, 0, 250)


def make(**kw):
    led, buz = FakePin(0), FakePWM()
    return Indicator(led, buz, **kw), led, buz


def test_constructor_turns_outputs_off():
    ind, led, buz = make()
    assert led.writes == [0] and buz.history == [0] and buz.freqs == [2700]
    assert ind.busy is False and ind.next_deadline() is None
    ind.poll(0)
    ind.poll(10000)
    assert led.writes == [0] and buz.history == [0]
    ind2, led2, buz2 = make(freq=4000)
    assert buz2.freqs == [4000]


def test_one_shot_plays_once_and_reports_its_end():
    ind, led, buz = make()
    ind.play(BEEP2, 1000)
    assert ind.busy and (led.level, buz.duty) == (1, ON)
    assert ind.next_deadline() == 1080
    ends = []
    t = 1000
    while t <= 2000:
        if ind.poll(t):
            ends.append(t)
        t += 1
    assert ends == [1240] and not ind.busy and (led.level, buz.duty) == (0, 0)
    # outputs written only when they change: constructor, play, then each change
    assert led.writes == [0, 1, 0, 1, 0] and buz.history == [0, ON, 0, ON, 0]


def test_exact_timeline_and_coarse_polls():
    ind, led, buz = make()
    ind.play(BEEP2, 5000)
    assert timeline(ind, led, buz, 5000, 6000, step=10) == [(5080, 0, False), (5160, 1, True), (5240, 0, False)]
    ind.play((1, 0, 100, 0, 0, 100, 1, 0, 100), 10000)
    ind.poll(10150)  # a late poll jumps to the step that is due now
    assert (led.level, buz.duty) == (0, 0) and ind.busy and ind.next_deadline() == 10200
    ind.poll(10200)
    assert (led.level, buz.duty) == (1, 0)
    assert ind.poll(20000) is True and not ind.busy


def test_repeat_until_stop_or_the_next_play():
    ind, led, buz = make()
    ind.play(BLINK, 0, True)
    got = timeline(ind, led, buz, 0, 2099)
    assert got == [(k * 250, k % 2 == 0 and 1 or 0, k % 2 == 0) for k in range(1, 9)]
    assert ind.busy and ind.repeat and ind.next_deadline() == 2250
    ind.stop()
    assert not ind.busy and (led.level, buz.duty) == (0, 0) and ind.next_deadline() is None
    assert timeline(ind, led, buz, 2100, 4000) == []
    n = (len(led.writes), len(buz.history))
    ind.stop()  # stopping when nothing plays writes nothing
    assert (len(led.writes), len(buz.history)) == n
    ind.play(BLINK, 5000, True)
    ind.play((1, 1, 120), 5100)  # replaces the repeating one
    assert timeline(ind, led, buz, 5100, 6000) == [(5220, 0, False)] and not ind.busy


def test_late_poll_of_a_repeating_pattern_keeps_cadence():
    ind, led, buz = make()
    ind.play(BLINK, 0, True)
    ind.poll(1130)  # 1000..1250 is an "on" half
    assert (led.level, buz.duty) == (1, ON)
    assert timeline(ind, led, buz, 1131, 1600) == [(1250, 0, False), (1500, 1, True)]


def test_bad_steps_are_refused_and_change_nothing():
    ind, led, buz = make()
    for bad in ((), (1, 1), (1, 1, 0), (1, 1, 100, 0, 0), (1, 1, -5)):
        raises(ValueError, ind.play, bad, 0)
    assert not ind.busy and led.writes == [0] and buz.history == [0]


def test_optional_outputs():
    ind = Indicator()
    ind.play(BLINK, 0, True)
    for t in range(0, 1000, 50):
        ind.poll(t)
    assert ind.busy and ind.led_on is False  # last polled at 950: in the 750..1000 "off" half
    ind.stop()
    led = FakePin(0)
    ind = Indicator(led=led)
    ind.play((1, 1, 120), 0)
    ind.poll(200)
    assert led.writes == [0, 1, 0]

    class BareBuzzer:  # duty only, no freq()
        def __init__(self):
            self.d = []

        def duty_u16(self, v):
            self.d.append(v)

    bz = BareBuzzer()
    ind = Indicator(buzzer=bz, buzz_duty_u16=1000)
    ind.play((1, 1, 120), 0)
    assert ind.buzzing
    ind.poll(200)
    assert bz.d == [0, 1000, 0] and not ind.buzzing


def test_wraps_with_ticks_ms():
    mask = 0x3FFFFFFF
    ind, led, buz = make()
    start = mask - 300
    ind.play(BLINK, start, True)
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
    assert ind.next_deadline() == (start + 1250) & mask


def test_poll_and_play_do_not_allocate():
    led, buz = FakePin(0, record=False), FakePWM(record=False)
    ind = Indicator(led, buz)
    out = [0]

    def loop():
        ind.play(BLINK, 0, True)
        t = 0
        n = 0
        last = 1
        while t < 1000:
            ind.poll(t)
            ind.next_deadline()
            if led.level != last:
                n += 1
                last = led.level
            t += 1
        out[0] = n

    used = alloc_bytes(loop)
    assert out[0] == 3  # off at 250, on at 500, off at 750
    assert used is None or used == 0, used
