# lockshell.signals: what each indication looks and sounds like (exact timelines through the real
# Indicator player) and the alarm policy: sound for alarm_sound_ms, then LED only until cleared;
# every alarm event re-arms the sound; another indication plays over the alarm, which then resumes.
from fakes import FakePin, FakePWM, alloc_bytes, timeline
from fwcheck import raises
from lockctl.codes import (IND_OK, IND_DENIED, IND_ALARM, IND_CLEAR, IND_LOCKED, IND_UNLOCKED, IND_CALIBRATE,
                           IND_BATTERY)
from drivers.indicator import Indicator
from lockshell.signals import Signals

ON = 32768


def make(**kw):
    led, buz = FakePin(0), FakePWM()
    return Signals(Indicator(led, buz), **kw), led, buz


# expected (t, led, buzzer) changes after show(pattern, 0), ending with both off
EXPECT = (
    (IND_OK, [(120, 0, False)]),
    (IND_DENIED, [(80, 0, False), (160, 1, True), (240, 0, False), (320, 1, True), (400, 0, False)]),
    (IND_LOCKED, [(60, 1, False), (120, 1, True), (180, 1, False), (580, 0, False)]),
    (IND_UNLOCKED, [(250, 1, False), (650, 0, False)]),
    (IND_CALIBRATE, [(40, 0, False), (200, 1, False), (400, 0, False), (600, 1, False), (800, 0, False),
                     (1000, 1, False), (1200, 0, False)]),
    (IND_BATTERY, [(40, 0, False), (240, 1, True), (280, 0, False), (480, 1, True), (520, 0, False)]),
)


def test_one_shot_indications_exact_timelines():
    for pattern, expect in EXPECT:
        sig, led, buz = make()
        sig.show(pattern, 0)
        assert (led.level, buz.duty) == (1, ON), pattern
        assert timeline(sig, led, buz, 0, 3000) == expect, pattern
        assert not sig.ind.busy and sig.next_deadline() is None


def test_alarm_sounds_for_its_time_then_blinks_silently_until_cleared():
    sig, led, buz = make(alarm_sound_ms=2000)
    sig.show(IND_ALARM, 0)
    got = timeline(sig, led, buz, 0, 4100)
    loud = [(k * 250, k % 2 == 0 and 1 or 0, k % 2 == 0) for k in range(1, 8)]
    # at 2000 the sound time is over: the LED goes on blinking, the buzzer stays off
    quiet = [(t, 1 if (t // 250) % 2 == 0 else 0, False) for t in range(2000, 4101, 250)]
    assert got == loud + quiet, got
    assert sig.alarm and not sig.sounding
    sig.show(IND_CLEAR, 4200)
    assert (led.level, buz.duty) == (0, 0) and not sig.alarm and sig.next_deadline() is None
    assert timeline(sig, led, buz, 4200, 8000) == []


def test_a_new_alarm_event_re_arms_the_sound_and_keeps_the_cadence():
    sig, led, buz = make(alarm_sound_ms=1000)
    sig.show(IND_ALARM, 0)
    timeline(sig, led, buz, 0, 100)
    sig.show(IND_ALARM, 100)  # while sounding: same cadence, sound until 1100
    assert timeline(sig, led, buz, 101, 600) == [(250, 0, False), (500, 1, True)]
    timeline(sig, led, buz, 601, 1500)
    assert not sig.sounding and buz.duty == 0
    sig.show(IND_ALARM, 1500)  # another alarm event after it went quiet: loud again
    assert sig.sounding and buz.duty == ON and sig.next_deadline() == 1750


def test_another_indication_plays_over_the_alarm_which_then_resumes():
    sig, led, buz = make()
    sig.show(IND_ALARM, 0)
    timeline(sig, led, buz, 0, 300)  # in the off half
    sig.show(IND_DENIED, 300)
    got = timeline(sig, led, buz, 300, 1400)
    # the denied beeps end at 700 (on); the alarm starts over right then, on for 250, off for 250
    assert got == [(380, 0, False), (460, 1, True), (540, 0, False), (620, 1, True), (950, 0, False),
                   (1200, 1, True)], got
    assert sig.alarm and sig.ind.repeat


def test_clear_without_an_alarm_stops_any_pattern():
    sig, led, buz = make()
    sig.show(IND_UNLOCKED, 0)
    sig.show(IND_CLEAR, 10)
    assert (led.level, buz.duty) == (0, 0) and not sig.ind.busy


def test_bad_indication_is_refused():
    sig, led, buz = make()
    for bad in (0, IND_BATTERY + 1, -1, None, True, "ok", 1.0):
        raises(ValueError, sig.show, bad, 0)
    assert not sig.ind.busy and led.writes == [0] and buz.history == [0]


def test_every_indication_the_core_emits_is_shown():
    # the core's IND_* codes are 1..IND_BATTERY (lockctl/codes.py): each one plays or is the policy's
    # (a code Signals refused was a FAULT action at every battery level change)
    for code in range(IND_OK, IND_BATTERY + 1):
        sig, led, buz = make()
        sig.show(code, 0)
        if code != IND_CLEAR:
            assert sig.ind.busy, code


def test_a_board_without_indicator():
    sig = Signals(None)
    sig.show(IND_ALARM, 0)
    sig.poll(100000)
    assert sig.alarm and not sig.sounding and sig.next_deadline() is None
    sig.show(IND_OK, 100000)
    sig.show(IND_CLEAR, 100001)
    assert not sig.alarm


def test_signals_poll_does_not_allocate():
    led, buz = FakePin(0, record=False), FakePWM(record=False)
    sig = Signals(Indicator(led, buz), alarm_sound_ms=500)

    def loop():
        sig.show(IND_ALARM, 0)
        t = 0
        while t < 2000:
            sig.poll(t)
            sig.next_deadline()
            t += 1
        sig.show(IND_CLEAR, t)

    used = alloc_bytes(loop)
    assert used is None or used == 0, used


def test_low_battery_plays_its_pattern_once():
    from lockctl.codes import IND_BATTERY
    sig, led, buz = make()
    sig.show(IND_BATTERY, 0)
    assert sig.ind.busy and not sig.alarm
    t = 0
    while sig.ind.busy and t < 5000:
        t += 10
        sig.poll(t)
    assert 520 <= t <= 600 and not sig.ind.busy  # three chirps, then silence


def test_an_error_code_is_n_long_flashes_three_times_then_dark():
    sig, led, buz = make()
    sig.error_code(2, 0)
    t, ons, last = 0, 0, 0
    while sig.ind.busy and t < 20000:
        t += 10
        sig.poll(t)
        v = led.writes[-1]
        if v and not last:
            ons += 1
        last = v
    assert ons == 6 and not sig.ind.busy and led.writes[-1] == 0  # 2 flashes, 3 times
    assert buz.history == [0]  # silent
