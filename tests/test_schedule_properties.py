"""lockctl/schedule.py against CPython (hypothesis): civil dates and weekdays against datetime, local
time against the tz database (zoneinfo) around every DST transition, the profile encoding and its
validation, and check() against a straightforward oracle built on datetime intervals."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
from conftest import examples
from hypothesis import given, settings, strategies as st

import doorkit  # noqa: F401  (firmware/ on sys.path)
from lockctl.codes import R_CLOCK_UNSET, R_DISABLED, R_EXPIRED, R_NOT_YET, R_OFF_SCHEDULE
from lockctl.schedule import (DST_EU, DST_NONE, DST_US, NO_END, NO_START, P_ALWAYS, P_DAILY, P_ONCE, P_WEEKLY,
                              check, civil_from_days, days_from_civil, limited, local_seconds, pack_profile,
                              unpack_profile, validate_profile, weekday)

EPOCH = date(1970, 1, 1)
EPOCH_DT = datetime(1970, 1, 1)
FIRST, LAST = 0, (date(2149, 12, 31) - EPOCH).days


def tz(name):
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover (Python 3.10+ has it)
        pytest.skip("no zoneinfo module")
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        pytest.skip("no tz database on this machine for %s (pip install tzdata)" % name)


# --- civil dates ---------------------------------------------------------------------------------

@settings(max_examples=examples(300), deadline=None)
@given(st.dates(min_value=EPOCH, max_value=date(2149, 12, 31)))
def test_civil_matches_datetime_1970_2149(d):
    n = (d - EPOCH).days
    assert days_from_civil(d.year, d.month, d.day) == n
    assert civil_from_days(n) == (d.year, d.month, d.day)
    assert weekday(n) == d.weekday()


@settings(max_examples=examples(300), deadline=None)
@given(st.dates())
def test_civil_matches_datetime_proleptic(d):
    n = (d - EPOCH).days  # years 1..9999, negative day numbers included
    assert days_from_civil(d.year, d.month, d.day) == n
    assert civil_from_days(n) == (d.year, d.month, d.day)
    assert weekday(n) == d.weekday()


def test_every_day_1970_2149():
    d = EPOCH
    for n in range(FIRST, LAST + 1):
        assert civil_from_days(n) == (d.year, d.month, d.day)
        d += timedelta(1)


# --- local time against the tz database ----------------------------------------------------------

# (zone, standard offset in minutes, rule, first year the rule holds in the tz database: the EU rule
# since 1996, Lisbon back on WET from 1996-03-31, the US rule since 2007)
ZONES = [("Europe/Berlin", 60, DST_EU, 1996), ("Europe/Lisbon", 0, DST_EU, 1997),
         ("Europe/Helsinki", 120, DST_EU, 1996), ("America/New_York", -300, DST_US, 2007),
         ("America/Chicago", -360, DST_US, 2007), ("America/Los_Angeles", -480, DST_US, 2007),
         ("Asia/Tokyo", 540, DST_NONE, 1970)]
END = int(datetime(2149, 12, 31, tzinfo=timezone.utc).timestamp())


@st.composite
def instants(draw, first_year):
    """Unix seconds: anywhere from first_year to 2149, or within a minute or two of a possible DST
    transition (a Sunday-candidate day of March, October or November, around 01:00-07:00 UTC)."""
    if draw(st.booleans()):
        lo = int(datetime(first_year, 1, 1, tzinfo=timezone.utc).timestamp())
        return draw(st.integers(lo, END))
    y = draw(st.integers(first_year, 2149))
    m = draw(st.sampled_from((3, 10, 11)))
    d = draw(st.integers(1, 31 if m != 11 else 30))
    h = draw(st.integers(0, 8))
    t = int(datetime(y, m, d, h, tzinfo=timezone.utc).timestamp())
    return t + draw(st.integers(-120, 120))


@pytest.mark.parametrize("zone, offset, rule, first_year", ZONES, ids=[z[0] for z in ZONES])
def test_local_seconds_matches_zoneinfo(zone, offset, rule, first_year):
    z = tz(zone)

    @settings(max_examples=examples(300), deadline=None)
    @given(instants(first_year))
    def prop(u):
        expect = u + int(datetime.fromtimestamp(u, z).utcoffset().total_seconds())
        assert local_seconds(u, offset, rule) == expect

    prop()


@pytest.mark.parametrize("zone, offset, rule, first_year", ZONES[:6], ids=[z[0] for z in ZONES[:6]])
def test_transitions_of_every_year_match_zoneinfo(zone, offset, rule, first_year):
    # the instant of each transition, found from the tz database, and the second on either side
    z = tz(zone)
    for y in range(first_year, 2150):
        for m in ((3, 10) if rule == DST_EU else (3, 11)):
            lo = int(datetime(y, m, 1, tzinfo=timezone.utc).timestamp())
            hi = int(datetime(y, m + 1, 1, tzinfo=timezone.utc).timestamp())
            off = lambda t: datetime.fromtimestamp(t, z).utcoffset()  # noqa: E731
            assert off(lo) != off(hi)
            while hi - lo > 1:  # off(lo) != off(hi): bisect to the transition at hi
                mid = (lo + hi) // 2
                if off(mid) == off(lo):
                    lo = mid
                else:
                    hi = mid
            for t in (hi - 1, hi):
                assert local_seconds(t, offset, rule) == t + int(off(t).total_seconds()), (zone, y, m, t)


# --- profiles ------------------------------------------------------------------------------------

types = st.sampled_from((P_ALWAYS, P_WEEKLY, P_DAILY, P_ONCE))


@st.composite
def profiles(draw, kinds=types):
    t = draw(kinds)
    mask = draw(st.integers(1 if t == P_WEEKLY else 0, 127))
    start = draw(st.integers(0, 1439))
    shape = draw(st.sampled_from(("any", "whole", "cross", "day")))
    if shape == "whole":
        end = start if draw(st.booleans()) else draw(st.sampled_from((0, 1440)))
        if end == 1440:
            start = 0
    elif shape == "cross" and start > 0:
        end = draw(st.integers(0, start - 1))
    elif shape == "day" and start < 1439:
        end = draw(st.integers(start + 1, 1440))
    else:
        end = draw(st.integers(0, 1440))
    return (t, mask, start, end)


@settings(max_examples=examples(300), deadline=None)
@given(profiles(), st.binary(max_size=5))
def test_pack_unpack_round_trip(p, pad):
    b = pack_profile(*p)
    assert len(b) == 8 and b[6:] == b"\0\0" and b[0] == p[0] and b[1] == p[1]
    assert int.from_bytes(b[2:4], "little") == p[2] and int.from_bytes(b[4:6], "little") == p[3]
    assert unpack_profile(pad + b + pad, len(pad)) == p


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(-2, 6), st.integers(-2, 260), st.integers(-2, 1500), st.integers(-2, 1500))
def test_validation_accepts_exactly_the_valid(t, mask, start, end):
    valid = 0 <= t <= 3 and 0 <= mask <= 127 and not (t == 1 and mask == 0) and 0 <= start <= 1439 and 0 <= end <= 1440
    try:
        assert validate_profile((t, mask, start, end)) == (t, mask, start, end)
        accepted = True
    except ValueError as e:
        accepted = False
        assert "\n" not in str(e) and "profile" in str(e)
    assert accepted == valid


# --- check() against an oracle -------------------------------------------------------------------

def oracle(local_s, frm, until, p, enabled):
    """The spec, written the plain way: the window occurrences are datetime intervals."""
    t, mask, start, end = p
    if not enabled:
        return R_DISABLED
    if frm == NO_START and until == NO_END and t == P_ALWAYS:
        return None
    if local_s is None:
        return R_CLOCK_UNSET
    now = EPOCH_DT + timedelta(seconds=local_s)
    today = now.date()
    ref, inside = today, True
    if t != P_ALWAYS:
        inside = False
        for d in (today - timedelta(1), today):  # an occurrence starts today or yesterday
            midnight = datetime.combine(d, time())
            if start == end:
                opens, closes = midnight, midnight + timedelta(days=1)
            else:
                opens = midnight + timedelta(minutes=start)
                closes = midnight + timedelta(minutes=end, days=0 if end > start else 1)
            if opens <= now < closes:
                ref, inside = d, (t != P_WEEKLY or d.weekday() in [i for i in range(7) if mask & (1 << i)])
    day = (ref - EPOCH).days
    if frm != NO_START and day < frm:
        return R_NOT_YET
    if until != NO_END and day > until:
        return R_EXPIRED
    if not inside:
        return R_OFF_SCHEDULE
    return None


@st.composite
def cases(draw):
    p = draw(profiles())
    day = draw(st.integers(FIRST, LAST))
    near = [p[2] - 1, p[2], p[3] - 1, p[3], 0, 1439]
    minute = draw(st.one_of(st.integers(0, 1439), st.sampled_from([m for m in near if 0 <= m <= 1439])))
    local_s = day * 86400 + minute * 60 + draw(st.sampled_from((0, 59, 30)))
    if draw(st.integers(0, 9)) == 0:
        local_s = None
    rel = st.integers(-2, 2).map(lambda k: max(0, min(0xFFFE, day + k)))
    frm = draw(st.one_of(st.just(NO_START), rel))
    until = draw(st.one_of(st.just(NO_END), rel))
    enabled = draw(st.integers(0, 15)) != 0
    return local_s, frm, until, p, enabled


@settings(max_examples=examples(1000), deadline=None)
@given(cases())
def test_check_matches_oracle(case):
    assert check(*case) == oracle(*case)
    local_s, frm, until, p, enabled = case
    if enabled and local_s is None:
        assert (check(*case) == R_CLOCK_UNSET) == limited(frm, until, p)


@settings(max_examples=examples(300), deadline=None)
@given(profiles(st.just(P_WEEKLY)), st.integers(FIRST + 1, LAST - 7))
def test_week_boundaries(p, day):
    # around each midnight of a week, Sunday -> Monday included
    mon = day - weekday(day)
    for d in range(mon - 1, mon + 8):
        for s in (-60, -1, 0, 1, 60, p[2] * 60, p[3] * 60 - 1):
            ls = d * 86400 + s
            case = (ls, NO_START, NO_END, p, True)
            assert check(*case) == oracle(*case), (d, s)
