# What the LED and buzzer say, and the alarm policy: the one place for both. The core asks for an
# indication (A_INDICATE, IND_*); Signals turns it into a step pattern for the Indicator player
# (drivers/indicator.py), which knows no lock codes.
#
# Alarm policy: an alarm event (IND_ALARM: forced open, held open, jam) sounds the alarm pattern
# (LED and buzzer) for alarm_sound_ms, then only the LED keeps blinking until the alarm is cleared
# (IND_CLEAR: the door shut, a jam cleared, a calibration done). Every new alarm event re-arms the
# sound for another alarm_sound_ms; one arriving while the sound plays keeps its cadence. Any other
# indication plays once over the alarm (a denied card is still heard), after which the alarm
# pattern resumes where the policy says.
from micropython import const

from drivers.ticks import ticks_diff, ticks_add
from lockctl.codes import IND_OK, IND_ALARM, IND_CLEAR, IND_BATTERY

ALARM_SOUND_MS = const(30000)

#          led buzz  ms
_OK = (1, 1, 120)
_DENIED = (1, 1, 80, 0, 0, 80,
          1, 1, 80, 0, 0, 80,
          1, 1, 80)
_ALARM = (1, 1, 250, 0, 0, 250)  # repeats
_ALARM_SILENT = (1, 0, 250, 0, 0, 250)  # repeats: the alarm after its sound time
_LOCKED = (1, 1, 60, 1, 0, 60,
          1, 1, 60, 1, 0, 400)
_UNLOCKED = (1, 1, 250, 1, 0, 400)
_CALIBRATE = (1, 1, 40, 0, 0, 160,
             1, 0, 200, 0, 0, 200,
             1, 0, 200, 0, 0, 200,
             1, 0, 200)
_BATTERY = (1, 1, 40, 0, 0, 200,  # three short chirps: change the battery
            1, 1, 40, 0, 0, 200,
            1, 1, 40)

# indexed by IND_* (1..8); IND_ALARM and IND_CLEAR are the policy's
_PATTERNS = (None, _OK, _DENIED, _ALARM, None, _LOCKED, _UNLOCKED, _CALIBRATE, _BATTERY)


class Signals:
    def __init__(self, indicator, alarm_sound_ms=ALARM_SOUND_MS):
        self.ind = indicator  # a drivers.indicator.Indicator, or None (a board without one)
        self.alarm_sound_ms = alarm_sound_ms
        self.alarm = False  # an alarm is on (until IND_CLEAR)
        self.sounding = False  # ... and its sound time has not run out
        self._until = 0  # tick the sound time runs out

    def show(self, code, tick):
        if type(code) is not int or code < IND_OK or code > IND_BATTERY:
            raise ValueError("indication")
        ind = self.ind
        if code == IND_CLEAR:
            self.alarm = self.sounding = False
            if ind is not None:
                ind.stop()
            return
        if code == IND_ALARM:
            self.alarm = self.sounding = True
            self._until = ticks_add(tick, self.alarm_sound_ms)
            if ind is not None and ind.steps is not _ALARM:
                ind.play(_ALARM, tick, True)  # already sounding: keep the cadence
            return
        if ind is not None:
            ind.play(_PATTERNS[code], tick)

    def error_code(self, n, tick):
        """Blink an error code: n long LED flashes (n = STORE_* of a flash area found corrupt at
        boot: 1 keys, 2 log, 3 fs), a pause, three times, then the LED stays off. No sound: the lock
        works on, this is for the installer looking at it."""
        ind = self.ind
        if ind is None or n < 1:
            return
        steps = []
        for _ in range(3):
            for _ in range(n):
                steps += [1, 0, 400, 0, 0, 300]
            steps += [0, 0, 1500]
        ind.play(tuple(steps), tick)

    def poll(self, tick):
        ind = self.ind
        if self.sounding and ticks_diff(tick, self._until) >= 0:
            self.sounding = False
            if ind is not None and ind.steps is _ALARM:
                ind.play(_ALARM_SILENT, tick, True)
        if ind is None:
            return
        if ind.poll(tick) and self.alarm:
            # a one-shot pattern played over the alarm has ended: the alarm goes on
            ind.play(_ALARM if self.sounding else _ALARM_SILENT, tick, True)

    def next_deadline(self):
        """Tick of the next output change, or None."""
        d = None if self.ind is None else self.ind.next_deadline()
        if self.sounding and (d is None or ticks_diff(self._until, d) < 0):
            d = self._until
        return d
