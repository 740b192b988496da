# URL keys (lockctl/urlkey.py): time-limited remote-unlock windows on the flash tally. Opened,
# moved, closed, checked on the lock's clock, kept across a remount, bounded, and a power cut at
# any write leaves no window that was not asked for. Both runtimes.
from fwcheck import raises
from sim.nor import NorFlash
from lockctl.tally import Tally
from lockctl.urlkey import (parse_window, parse_unlock, window_args, unlock_args, windows, check, open_window,
                            MAX_KEYS, MAX_SPAN)


class UrlKeys:
    """The module's functions on one tally."""

    def __init__(self, t):
        self.t = t

    def open(self, kid, frm, until, now):
        return open_window(self.t, kid, frm, until, now)

    def check(self, kid, now):
        return check(self.t, kid, now)

    def windows(self):
        return windows(self.t)
from lockctl.codes import R_FORMAT, R_UNKNOWN, R_NOT_YET, R_EXPIRED, R_NO_ROOM, R_STORE

T = 1796000000  # 2026-11-29


def keys():
    d = NorFlash(2)
    return d, UrlKeys(Tally(d))


def test_a_window_opens_the_unlock_only_inside_it():
    _d, k = keys()
    assert k.check(7, T) == R_UNKNOWN
    assert k.open(7, T + 60, T + 3600, T) == 0
    assert k.check(7, T) == R_NOT_YET
    assert k.check(7, T + 59) == R_NOT_YET
    assert k.check(7, T + 60) == 0
    assert k.check(7, T + 3599) == 0
    assert k.check(7, T + 3600) == R_EXPIRED
    assert k.check(8, T + 100) == R_UNKNOWN
    assert k.windows() == [(7, T + 60, T + 3600)]


def test_moved_closed_and_kept_across_a_remount():
    d, k = keys()
    assert k.open(7, 0, T + 3600, T) == 0  # from 0: from now on
    assert k.check(7, T) == 0
    assert k.open(7, T + 7200, T + 9000, T) == 0  # moved: the old window is gone
    assert k.check(7, T + 100) == R_NOT_YET and k.check(7, T + 8000) == 0
    assert k.open(9, T, T + 60, T) == 0
    assert k.open(9, 0, T + 10, T + 20) == R_EXPIRED and k.check(9, T + 20) == 0  # a refused move keeps it
    k2 = UrlKeys(Tally(d))  # after a reboot
    assert k2.windows() == [(7, T + 7200, T + 9000), (9, T, T + 60)]
    assert k2.open(7, 0, 0, T) == 0  # closed
    assert k2.check(7, T + 8000) == R_UNKNOWN
    assert k2.open(7, 0, 0, T) == R_UNKNOWN  # closing it again
    assert UrlKeys(Tally(d)).windows() == [(9, T, T + 60)]


def test_past_windows_are_refused_and_make_room():
    _d, k = keys()
    assert k.open(1, T - 100, T - 1, T) == R_EXPIRED
    assert k.open(1, T - 100, T, T) == R_EXPIRED  # until is the first second it is closed
    for i in range(1, MAX_KEYS + 1):
        assert k.open(i, T, T + 10 * i, T) == 0
    assert k.open(99, T, T + 100, T) == R_NO_ROOM
    assert k.open(3, T, T + 500, T) == 0  # moving one held is not a new one
    assert k.open(99, T, T + 100, T + 15) == 0  # window 1 is over at T + 10: dropped, room for one
    assert len(k.windows()) == MAX_KEYS and 1 not in [w[0] for w in k.windows()]


def test_a_window_from_now_is_at_most_a_year_on_the_locks_clock():
    _d, k = keys()
    assert k.open(1, 0, T + MAX_SPAN + 1, T) == R_FORMAT
    assert k.open(1, 0, T + MAX_SPAN, T) == 0 and k.check(1, T) == 0


def test_a_lock_without_flash_holds_none():
    k = UrlKeys(None)
    assert k.open(1, T, T + 60, T) == R_STORE and k.check(1, T) == R_UNKNOWN and k.windows() == []


def test_args_are_checked_both_ways():
    assert parse_window(window_args(7, T, T + 60)) == (7, T, T + 60)
    assert parse_window(window_args(7, 0, 0)) == (7, 0, 0)
    assert parse_unlock(unlock_args(65535)) == 65535 and parse_unlock(b"") == 0
    for kid, frm, until in ((0, T, T + 1), (65536, T, T + 1), (1, T, T), (1, T + 1, T), (1, T, T + MAX_SPAN + 1)):
        raises(ValueError, window_args, kid, frm, until)
    assert window_args(1, T, T + MAX_SPAN)
    assert parse_window(window_args(1, 0, T)) == (1, 0, T)  # from 0: when the lock takes it (checked there)
    for bad in (b"\x01\x00\x00", b"\x00\x00\x00\x00", b"\x01\x00\x00\x00\x00"):
        raises(ValueError, parse_unlock, bad)
    raises(ValueError, parse_window, b"\x01" * 11)
    assert R_FORMAT  # (what the hub answers for these)


def test_a_power_cut_at_any_write_leaves_no_window_not_asked_for():
    # open window 5, move it, close it: the power cut at each write (a torn program, a lost
    # erase); after the next boot the window is the old one, the new one, or none at all
    steps = ((T + 1000, T + 2000), (T + 3000, T + 4000), (0, 0))
    for si in range(len(steps)):
        n = 0
        while True:
            d, k = keys()
            for frm, until in steps[:si]:
                k.open(5, frm, until, T)
            before = k.windows()
            d.cut_at(d.ops + n)
            try:
                done = k.open(5, steps[si][0], steps[si][1], T) == 0
            except OSError:
                done = False
            got = UrlKeys(Tally(d.power_cycle())).windows()
            want = [(5, steps[si][0], steps[si][1])] if steps[si][1] else []
            assert got == before or got == want or got == [], (si, n, got)
            if done and not d.dead:
                assert got == want
                break
            n += 1
        assert n >= 2  # (each step is at least two writes: both were cut)
