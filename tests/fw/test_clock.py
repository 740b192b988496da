# The RTC wall clock adapter (lockshell/clock.py) against a fake machine.RTC.
from lockshell.clock import RtcClock


class FakeRTC:
    def __init__(self, dt=(2000, 1, 1, 5, 0, 0, 0, 0)):
        self.dt = dt

    def datetime(self, dt=None):
        if dt is None:
            return self.dt
        self.dt = tuple(dt)


def test_an_rtc_nobody_set_is_unset():
    assert RtcClock(FakeRTC()).read() is None


def test_set_then_read_round_trips_in_utc():
    r = FakeRTC()
    c = RtcClock(r)
    c.set(1796344560)  # 2026-12-04T00:36:00Z, a Friday
    assert r.dt == (2026, 12, 4, 4, 0, 36, 0, 0)
    assert c.read() == 1796344560
