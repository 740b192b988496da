# The wall clock on the board's RTC (machine.RTC): read() -> Unix seconds (UTC) or None while it
# has not been set since power-up (the ESP32's RTC starts at 2000-01-01 and keeps time across a
# reset and deep sleep, not across a power cut); set(unix) writes it. The RTC holds UTC.
from micropython import const

from lockctl.schedule import days_from_civil, civil_from_days, weekday

_SET_YEAR = const(2024)  # an RTC reading before this year is a clock nobody set


class RtcClock:
    def __init__(self, rtc):
        self.rtc = rtc

    def read(self):
        y, mo, d, _, h, mi, s = self.rtc.datetime()[:7]
        if y < _SET_YEAR:
            return None
        return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s

    def set(self, unix):
        days, s = divmod(int(unix), 86400)
        y, mo, d = civil_from_days(days)
        self.rtc.datetime((y, mo, d, weekday(days), s // 3600, s // 60 % 60, s % 60, 0))
