# Wall clock, local time and credential schedules (sans-IO; docs/keys.md "Schedules and local time").
#
# Wall time is Unix seconds UTC (an int, from EV_CLOCK). Local time = UTC + utc_offset_min + DST.
# Day numbers are days since 1970-01-01 of the LOCAL date (proleptic Gregorian; u16 reaches 2149);
# weekday 0 = Monday .. 6 = Sunday. Pure integer arithmetic: no time or datetime module.
#
# A profile is a tuple (type, days, start, end): type P_*, days a weekday bit mask (bit0 Monday ..
# bit6 Sunday; WEEKLY only), start/end minutes of the day, end exclusive; start == end is the whole
# day; end < start crosses midnight and the window belongs to the day it starts on. On flash it is
# 8 bytes "<BBHHH" (type, days, start, end, 0).
#
# check() runs on every card tap: no allocation beyond ints (on the 32-bit board Unix seconds are
# past the small-int range, so the two divisions of local_s make heap ints; nothing else does).
import struct
from micropython import const

from lockctl.codes import R_CLOCK_UNSET, R_DISABLED, R_EXPIRED, R_NOT_YET, R_OFF_SCHEDULE

DST_NONE = const(0)
DST_EU = const(1)  # +60 min from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC
DST_US = const(2)  # +60 min from the second Sunday of March 02:00 local standard time to the first
#                    Sunday of November 02:00 local daylight time (01:00 standard)

P_ALWAYS = const(0)
P_WEEKLY = const(1)
P_DAILY = const(2)
P_ONCE = const(3)  # one use (use_limit), window like DAILY

NO_START = const(0)  # from_day: no first day
NO_END = const(0xFFFF)  # until_day: no last day

_DAY = const(86400)
_MIN_PER_DAY = const(1440)
_P_LAST = const(3)
_FMT = "<BBHHH"


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the date y-m-d (proleptic Gregorian; any year)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400  # 0..399
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1  # 0..365, from March 1st
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy  # 0..146096
    return era * 146097 + doe - 719468


def _split(days):
    # (year counted from March, day of that year from March 1st); mp = (5 * doy + 2) // 153
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    return yoe + era * 400, doe - (365 * yoe + yoe // 4 - yoe // 100)


def civil_from_days(days):
    """(year, month, day) of a day number (days since 1970-01-01)."""
    y, doy = _split(days)
    mp = (5 * doy + 2) // 153  # 0 = March .. 11 = February
    d = doy - (153 * mp + 2) // 5 + 1
    if mp < 10:
        return y, mp + 3, d
    return y + 1, mp - 9, d


def _year(days):
    y, doy = _split(days)
    return y + 1 if doy >= 306 else y  # doy 306 = January 1st


def weekday(days):
    """0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday, 3)."""
    return (days + 3) % 7


def _last_sunday(y, m, last):
    d = days_from_civil(y, m, last)
    return d - (d + 4) % 7  # (d + 4) % 7 = days since the last Sunday


def _first_sunday(y, m):
    d = days_from_civil(y, m, 1)
    return d + (3 - d) % 7  # (6 - weekday(d)) % 7


def local_seconds(utc_s, offset_min, dst_rule):
    """Local time in seconds since 1970-01-01 00:00 local: UTC + offset + DST (rule DST_*).
    None (clock unset) stays None."""
    if utc_s is None:
        return None
    if dst_rule == DST_NONE:
        return utc_s + offset_min * 60
    if dst_rule == DST_EU:
        # the transitions are instants in UTC: compare (day, second of the day) in UTC
        s = utc_s
        adj = 0
    elif dst_rule == DST_US:
        # the transitions are 02:00 standard (start) and 01:00 standard (end): compare in local standard
        s = utc_s + offset_min * 60
        adj = 3600
    else:
        raise ValueError("dst rule must be 0 (none), 1 (EU) or 2 (US), not %r" % (dst_rule,))
    day = s // _DAY
    sec = s % _DAY
    y = _year(day)
    if dst_rule == DST_EU:
        on = _last_sunday(y, 3, 31)
        off = _last_sunday(y, 10, 31)
    else:
        on = _first_sunday(y, 3) + 7
        off = _first_sunday(y, 11)
    # in DST from (on, 3600 + adj) up to but not including (off, 3600)
    if (day > on or (day == on and sec >= 3600 + adj)) and (day < off or (day == off and sec < 3600)):
        return utc_s + offset_min * 60 + 3600
    return utc_s + offset_min * 60


def _field(name, v, hi):
    if type(v) is not int or v < 0 or v > hi:
        raise ValueError("profile %s must be an int in 0..%d, not %r" % (name, hi, v))


def validate_profile(profile):
    """Return profile (type, days, start, end) if valid, else raise ValueError naming what is wrong."""
    if type(profile) is not tuple or len(profile) != 4:
        raise ValueError("a profile must be a tuple (type, days, start, end), not %r" % (profile,))
    t, days, start, end = profile
    if type(t) is not int or t < 0 or t > _P_LAST:
        raise ValueError("profile type must be 0..3 (ALWAYS, WEEKLY, DAILY, ONCE), not %r" % (t,))
    _field("days mask", days, 127)
    if t == P_WEEKLY and days == 0:
        raise ValueError("a WEEKLY profile needs a non-zero days mask (bit0 Monday .. bit6 Sunday)")
    _field("start", start, _MIN_PER_DAY - 1)
    _field("end", end, _MIN_PER_DAY)
    return profile


def pack_profile(ptype, days, start, end):
    """The 8-byte encoding "<BBHHH" (type, days, start, end, 0) of a valid profile."""
    validate_profile((ptype, days, start, end))
    return struct.pack(_FMT, ptype, days, start, end, 0)


def unpack_profile(buf, off=0):
    """The profile tuple encoded at buf[off:off + 8]; ValueError if it does not validate."""
    if len(buf) - off < 8 or off < 0:
        raise ValueError("a profile needs 8 bytes")
    t, days, start, end, rsv = struct.unpack_from(_FMT, buf, off)
    if rsv:
        raise ValueError("profile reserved bytes must be 0, not %r" % (rsv,))
    return validate_profile((t, days, start, end))


def limited(from_day, until_day, profile):
    """True if the credential is time-limited: a period set, or a profile other than ALWAYS."""
    return from_day != NO_START or until_day != NO_END or profile[0] != P_ALWAYS


def use_limit(profile_type, uses):
    """Effective use limit: ONCE with uses 0 counts as 1; otherwise uses (0 = unlimited)."""
    if profile_type == P_ONCE and uses == 0:
        return 1
    return uses


def check(local_s, from_day, until_day, profile, enabled):
    """None if the credential is valid at local time local_s (None = clock unset), else the first
    failing reason: R_DISABLED, R_CLOCK_UNSET, R_NOT_YET, R_EXPIRED, R_OFF_SCHEDULE. The use limit
    (R_USED_UP) is the key store's. profile = (type, days, start, end), already validated."""
    if not enabled:
        return R_DISABLED
    t = profile[0]
    if from_day == NO_START and until_day == NO_END and t == P_ALWAYS:
        return None
    if local_s is None:
        return R_CLOCK_UNSET
    day = local_s // _DAY
    ok = True
    if t != P_ALWAYS:
        # ok: now is inside an occurrence of the window; day becomes the day that occurrence started on
        minute = (local_s % _DAY) // 60
        start = profile[2]
        end = profile[3]
        if start < end:
            ok = start <= minute < end
        elif end < start:
            if minute < end:
                day -= 1  # the after-midnight part of yesterday's window
            else:
                ok = minute >= start
        # start == end: the whole day
        if ok and t == P_WEEKLY:
            ok = (profile[1] >> ((day + 3) % 7)) & 1
        if t > _P_LAST or t < 0:
            ok = False  # an unknown type (a profile that never validated): refuse
    if from_day != NO_START and day < from_day:
        return R_NOT_YET
    if until_day != NO_END and day > until_day:
        return R_EXPIRED
    if not ok:
        return R_OFF_SCHEDULE
    return None
