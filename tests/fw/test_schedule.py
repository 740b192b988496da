# lockctl/schedule.py: civil dates, local time with DST, profiles and the validity check (runs on both
# runtimes). Dates and instants below were computed independently (Python's datetime) and written
# out as literals.
import gc

from lockctl.codes import R_CLOCK_UNSET, R_DISABLED, R_EXPIRED, R_NOT_YET, R_OFF_SCHEDULE
from lockctl.schedule import (DST_EU, DST_NONE, DST_US, NO_END, NO_START, P_ALWAYS, P_DAILY, P_ONCE, P_WEEKLY,
                              check, civil_from_days, days_from_civil, limited, local_seconds, pack_profile,
                              unpack_profile, use_limit, validate_profile, weekday)

# the week of Monday 2026-03-09 (day numbers)
MON, TUE, WED, THU, FRI, SAT, SUN = 20521, 20522, 20523, 20524, 20525, 20526, 20527
NEXT_MON = 20528
MON_FRI = 0x1F
FRI_ONLY = 1 << 4
SUN_ONLY = 1 << 6


def at(day, hh, mm=0, ss=0):
    return day * 86400 + hh * 3600 + mm * 60 + ss


def raises(fn, *args):
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    raise AssertionError("no ValueError from %r" % (args,))


# --- civil dates ---------------------------------------------------------------------------------

def test_known_dates():
    known = (((1970, 1, 1), 0), ((2000, 1, 1), 10957), ((2000, 2, 29), 11016), ((2024, 2, 29), 19782),
             ((2100, 2, 28), 47540), ((2100, 3, 1), 47541), ((2149, 6, 6), 65535), ((1969, 12, 31), -1))
    for ymd, n in known:
        assert days_from_civil(ymd[0], ymd[1], ymd[2]) == n, ymd
        assert civil_from_days(n) == ymd, n


def test_leap_years():
    assert civil_from_days(11016 + 1) == (2000, 3, 1)  # 2000 is a leap year (divisible by 400)
    assert civil_from_days(47540 + 1) == (2100, 3, 1)  # 2100 is not (divisible by 100)
    assert civil_from_days(19782 - 1) == (2024, 2, 28) and civil_from_days(19782 + 1) == (2024, 3, 1)
    assert days_from_civil(2024, 1, 1) - days_from_civil(2023, 1, 1) == 365
    assert days_from_civil(2025, 1, 1) - days_from_civil(2024, 1, 1) == 366
    assert days_from_civil(2101, 1, 1) - days_from_civil(2100, 1, 1) == 365


def test_weekday_of_known_dates():
    assert weekday(0) == 3  # 1970-01-01 Thursday
    assert weekday(10957) == 5  # 2000-01-01 Saturday
    assert weekday(19782) == 3  # 2024-02-29 Thursday
    assert weekday(47541) == 0  # 2100-03-01 Monday
    assert weekday(MON) == 0 and weekday(FRI) == 4 and weekday(SUN) == 6
    assert weekday(-1) == 2  # 1969-12-31 Wednesday


# --- local time ----------------------------------------------------------------------------------

def test_no_dst_and_japan():
    u = 1781524800  # 2026-06-15 12:00 UTC
    assert local_seconds(u, 0, DST_NONE) == u
    assert local_seconds(u, 540, DST_NONE) == u + 9 * 3600
    assert local_seconds(1774746000, 540, DST_NONE) == 1774746000 + 9 * 3600  # Japan has no DST
    assert local_seconds(None, 540, DST_NONE) is None


def test_eu_dst_transitions():
    on = 1774746000  # 2026-03-29 01:00 UTC: last Sunday of March
    off = 1792890000  # 2026-10-25 01:00 UTC: last Sunday of October
    for offset in (0, 60, 120):
        base = offset * 60
        assert local_seconds(on - 60, offset, DST_EU) == on - 60 + base
        assert local_seconds(on - 1, offset, DST_EU) == on - 1 + base
        assert local_seconds(on, offset, DST_EU) == on + base + 3600
        assert local_seconds(on + 60, offset, DST_EU) == on + 60 + base + 3600
        assert local_seconds(off - 60, offset, DST_EU) == off - 60 + base + 3600
        assert local_seconds(off - 1, offset, DST_EU) == off - 1 + base + 3600
        assert local_seconds(off, offset, DST_EU) == off + base
        assert local_seconds(off + 60, offset, DST_EU) == off + 60 + base
    # Berlin: 02:00 CET jumps to 03:00 CEST; 03:00 CEST falls back to 02:00 CET
    assert civil_from_days(local_seconds(on, 60, DST_EU) // 86400) == (2026, 3, 29)
    assert local_seconds(on, 60, DST_EU) % 86400 == 3 * 3600
    assert local_seconds(on - 1, 60, DST_EU) % 86400 == 2 * 3600 - 1
    assert local_seconds(off, 60, DST_EU) % 86400 == 2 * 3600
    assert local_seconds(off - 1, 60, DST_EU) % 86400 == 3 * 3600 - 1


def test_us_dst_transitions():
    on = 1772953200  # 2026-03-08 07:00 UTC = 02:00 EST, second Sunday of March
    off = 1793512800  # 2026-11-01 06:00 UTC = 02:00 EDT, first Sunday of November
    ny = -300
    assert local_seconds(on - 60, ny, DST_US) == on - 60 - 5 * 3600
    assert local_seconds(on - 1, ny, DST_US) == on - 1 - 5 * 3600
    assert local_seconds(on, ny, DST_US) == on - 4 * 3600
    assert local_seconds(on + 60, ny, DST_US) == on + 60 - 4 * 3600
    assert local_seconds(off - 60, ny, DST_US) == off - 60 - 4 * 3600
    assert local_seconds(off - 1, ny, DST_US) == off - 1 - 4 * 3600
    assert local_seconds(off, ny, DST_US) == off - 5 * 3600
    assert local_seconds(off + 60, ny, DST_US) == off + 60 - 5 * 3600
    # the rule is in local time: Los Angeles (-480) changes 3 hours later in UTC
    assert local_seconds(on + 3 * 3600 - 1, -480, DST_US) == on + 3 * 3600 - 1 - 8 * 3600
    assert local_seconds(on + 3 * 3600, -480, DST_US) == on + 3 * 3600 - 7 * 3600
    assert local_seconds(off + 3 * 3600 - 1, -480, DST_US) == off + 3 * 3600 - 1 - 7 * 3600
    assert local_seconds(off + 3 * 3600, -480, DST_US) == off + 3 * 3600 - 8 * 3600


def test_unknown_dst_rule():
    assert "dst rule" in raises(local_seconds, 0, 0, 3)


# --- profiles ------------------------------------------------------------------------------------

def test_pack_unpack():
    b = pack_profile(P_WEEKLY, MON_FRI, 540, 1080)
    assert b == b"\x01\x1f\x1c\x02\x38\x04\x00\x00" and len(b) == 8
    assert unpack_profile(b) == (P_WEEKLY, MON_FRI, 540, 1080)
    buf = b"\xee\xee" + pack_profile(P_DAILY, 0, 1320, 360) + pack_profile(P_ALWAYS, 0, 0, 0)
    assert unpack_profile(buf, 2) == (P_DAILY, 0, 1320, 360)
    assert unpack_profile(buf, 10) == (P_ALWAYS, 0, 0, 0)
    assert pack_profile(P_ONCE, 0, 0, 1440)[4:6] == b"\xa0\x05"


def test_validation_names_what_is_wrong():
    assert "type" in raises(pack_profile, 4, 0, 0, 0)
    assert "type" in raises(pack_profile, -1, 0, 0, 0)
    assert "days mask" in raises(pack_profile, P_DAILY, 128, 0, 0)
    assert "non-zero days mask" in raises(pack_profile, P_WEEKLY, 0, 0, 0)
    assert "start" in raises(pack_profile, P_DAILY, 0, 1440, 0)
    assert "start" in raises(pack_profile, P_DAILY, 0, -1, 0)
    assert "end" in raises(pack_profile, P_DAILY, 0, 0, 1441)
    assert "start" in raises(pack_profile, P_DAILY, 0, True, 0)
    assert "tuple" in raises(validate_profile, (1, 2, 3))
    assert "reserved" in raises(unpack_profile, b"\x02\x00\x00\x00\x00\x00\x01\x00")
    assert "8 bytes" in raises(unpack_profile, b"\x02\x00\x00\x00\x00\x00\x00")
    assert "8 bytes" in raises(unpack_profile, pack_profile(P_DAILY, 0, 0, 0), 1)
    assert "type" in raises(unpack_profile, b"\x09\x00\x00\x00\x00\x00\x00\x00")
    for e in (raises(pack_profile, 9, 0, 0, 0), raises(pack_profile, P_WEEKLY, 0, 0, 0)):
        assert "\n" not in e
    assert validate_profile((P_WEEKLY, 127, 1439, 1440)) == (P_WEEKLY, 127, 1439, 1440)
    assert validate_profile((P_DAILY, 0, 0, 0)) == (P_DAILY, 0, 0, 0)


def test_limited_and_use_limit():
    always = (P_ALWAYS, 0, 0, 0)
    assert not limited(NO_START, NO_END, always)
    assert limited(1, NO_END, always) and limited(NO_START, 30000, always)
    assert limited(NO_START, NO_END, (P_DAILY, 0, 0, 0))
    assert use_limit(P_ONCE, 0) == 1 and use_limit(P_ONCE, 3) == 3
    assert use_limit(P_ALWAYS, 0) == 0 and use_limit(P_DAILY, 5) == 5 and use_limit(P_WEEKLY, 0) == 0


# --- the validity check --------------------------------------------------------------------------

def ok(local_s, profile, frm=NO_START, until=NO_END, enabled=True):
    return check(local_s, frm, until, profile, enabled)


def test_weekly_office_hours_edges():
    p = (P_WEEKLY, MON_FRI, 540, 1080)  # Mon-Fri 09:00-18:00
    assert ok(at(WED, 8, 59), p) == R_OFF_SCHEDULE
    assert ok(at(WED, 8, 59, 59), p) == R_OFF_SCHEDULE
    assert ok(at(WED, 9, 0), p) is None
    assert ok(at(WED, 17, 59), p) is None
    assert ok(at(WED, 17, 59, 59), p) is None
    assert ok(at(WED, 18, 0), p) == R_OFF_SCHEDULE
    assert ok(at(MON, 9, 0), p) is None and ok(at(FRI, 17, 59), p) is None
    assert ok(at(SAT, 12, 0), p) == R_OFF_SCHEDULE and ok(at(SUN, 12, 0), p) == R_OFF_SCHEDULE
    assert ok(at(NEXT_MON, 12, 0), p) is None


def test_window_crossing_midnight_belongs_to_its_start_day():
    p = (P_WEEKLY, FRI_ONLY, 1320, 360)  # Friday 22:00 - Saturday 06:00
    assert ok(at(FRI, 21, 59), p) == R_OFF_SCHEDULE
    assert ok(at(FRI, 22, 0), p) is None
    assert ok(at(FRI, 23, 0), p) is None
    assert ok(at(SAT, 0, 0), p) is None
    assert ok(at(SAT, 3, 0), p) is None
    assert ok(at(SAT, 5, 59), p) is None
    assert ok(at(SAT, 6, 0), p) == R_OFF_SCHEDULE
    assert ok(at(SAT, 22, 30), p) == R_OFF_SCHEDULE  # Saturday is not in the mask
    assert ok(at(THU, 3, 0), p) == R_OFF_SCHEDULE  # Wednesday's night
    assert ok(at(FRI, 3, 0), p) == R_OFF_SCHEDULE  # Thursday's night
    assert ok(at(THU, 23, 0), p) == R_OFF_SCHEDULE


def test_week_boundary_sunday_night_into_monday():
    p = (P_WEEKLY, SUN_ONLY, 1320, 360)
    assert ok(at(NEXT_MON, 3, 0), p) is None  # Sunday's night: weekday 6 -> 0
    assert ok(at(MON, 3, 0), p) is None
    assert ok(at(SUN, 3, 0), p) == R_OFF_SCHEDULE
    assert ok(at(SUN, 22, 0), p) is None
    m = (P_WEEKLY, 1, 1320, 360)  # Monday night
    assert ok(at(TUE, 3, 0), m) is None and ok(at(MON, 3, 0), m) == R_OFF_SCHEDULE


def test_whole_day_when_start_equals_end():
    for s in (0, 600, 1439):
        p = (P_WEEKLY, 1 << 2, s, s)  # Wednesday, all day
        assert ok(at(WED, 0, 0), p) is None
        assert ok(at(WED, 23, 59, 59), p) is None
        assert ok(at(THU, 0, 0), p) == R_OFF_SCHEDULE
        assert ok(at(TUE, 23, 59, 59), p) == R_OFF_SCHEDULE
    assert ok(at(SAT, 12), (P_DAILY, 0, 0, 1440)) is None
    assert ok(at(SAT, 12), (P_DAILY, 0, 0, 0)) is None


def test_daily_and_once_ignore_the_mask():
    for t in (P_DAILY, P_ONCE):
        p = (t, 0, 480, 1200)
        assert ok(at(SUN, 8, 0), p) is None and ok(at(SAT, 19, 59), p) is None
        assert ok(at(SUN, 20, 0), p) == R_OFF_SCHEDULE and ok(at(SUN, 7, 59), p) == R_OFF_SCHEDULE
        assert ok(at(SUN, 12), (t, 3, 1320, 360)) == R_OFF_SCHEDULE
        assert ok(at(SUN, 23), (t, 3, 1320, 360)) is None


def test_period_edges_are_inclusive():
    a = (P_ALWAYS, 0, 0, 0)
    assert ok(at(TUE, 23, 59, 59), a, WED, FRI) == R_NOT_YET
    assert ok(at(WED, 0, 0), a, WED, FRI) is None
    assert ok(at(FRI, 23, 59, 59), a, WED, FRI) is None
    assert ok(at(SAT, 0, 0), a, WED, FRI) == R_EXPIRED
    assert ok(at(WED, 12), a, WED, WED) is None
    assert ok(at(THU, 12), a, NO_START, WED) == R_EXPIRED
    assert ok(at(MON, 12), a, WED, NO_END) == R_NOT_YET
    assert ok(at(65535, 12), a, 1, NO_END) is None  # 0xFFFF means no end, not the day 2149-06-06
    assert ok(at(70000, 12), a, 1, NO_END) is None


def test_period_applies_to_the_day_the_window_started():
    p = (P_DAILY, 0, 1320, 360)
    assert ok(at(SAT, 3), p, WED, FRI) is None  # Friday's night, Friday is in the period
    assert ok(at(SAT, 22), p, WED, FRI) == R_EXPIRED
    assert ok(at(WED, 3), p, WED, FRI) == R_NOT_YET  # Tuesday's night
    assert ok(at(WED, 22), p, WED, FRI) is None
    assert ok(at(SAT, 12), p, WED, FRI) == R_EXPIRED  # off schedule too: the period comes first
    assert ok(at(TUE, 12), p, WED, FRI) == R_NOT_YET


def test_clock_unset():
    assert ok(None, (P_ALWAYS, 0, 0, 0)) is None  # an ALWAYS credential with no period opens
    assert ok(None, (P_ALWAYS, 0, 0, 0), WED) == R_CLOCK_UNSET
    assert ok(None, (P_ALWAYS, 0, 0, 0), NO_START, FRI) == R_CLOCK_UNSET
    assert ok(None, (P_DAILY, 0, 0, 0)) == R_CLOCK_UNSET
    assert ok(None, (P_WEEKLY, 127, 0, 0)) == R_CLOCK_UNSET
    assert ok(None, (P_ONCE, 0, 0, 0)) == R_CLOCK_UNSET


def test_disabled_wins_over_everything():
    for local_s in (None, at(WED, 12), at(SUN, 3)):
        for p in ((P_ALWAYS, 0, 0, 0), (P_WEEKLY, FRI_ONLY, 1320, 360), (P_ONCE, 0, 0, 0)):
            for frm, until in ((NO_START, NO_END), (THU, THU), (SAT, NO_END), (NO_START, MON)):
                assert ok(local_s, p, frm, until, enabled=False) == R_DISABLED
    assert ok(at(WED, 12), (P_ALWAYS, 0, 0, 0), enabled=0) == R_DISABLED


def test_evaluation_order():
    p = (P_WEEKLY, FRI_ONLY, 540, 600)
    assert ok(None, p, SAT, MON) == R_CLOCK_UNSET
    assert ok(at(WED, 12), p, THU, MON) == R_NOT_YET  # also off schedule
    assert ok(at(WED, 12), p, MON, TUE) == R_EXPIRED  # also off schedule
    assert ok(at(WED, 12), p, MON, SUN) == R_OFF_SCHEDULE
    assert ok(at(FRI, 9, 30), p, MON, SUN) is None


def test_check_allocates_nothing():
    if not hasattr(gc, "mem_alloc"):
        return  # CPython: nothing to measure
    p = (P_WEEKLY, FRI_ONLY, 1320, 360)
    a = (P_ALWAYS, 0, 0, 0)
    t0, t1 = at(SAT, 3), at(SAT, 22, 30)
    gc.collect()
    before = gc.mem_alloc()
    i = 0
    while i < 200:
        check(t0, WED, FRI, p, True)
        check(t1, WED, SAT, p, True)
        check(None, NO_START, NO_END, a, True)
        check(t0, NO_START, NO_END, a, False)
        i += 1
    assert gc.mem_alloc() == before, gc.mem_alloc() - before
