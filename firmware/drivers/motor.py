# DC motor on an H-bridge with two PWM inputs (DRV8833 / TB6612 style):
#   IN1 IN2:  1 0 = forward (+1, toward unlock)   0 1 = reverse (-1)   1 1 = brake   0 0 = coast
# A "1" is written as duty_u16 (speed), brake as full on. invert=True swaps the legs (motor wired the
# other way round). The constructor writes 0 to both legs: the bolt never moves at boot.
#
# Stall detection (optional, needs current_adc): poll() returns True once when the sense reading has
# been >= stall_u16 for stall_ms without a break, not counting the first inrush_ms after drive(). It
# does not stop the motor; it reports again only after the next drive(). next_deadline() is the tick
# at which poll() may report without the current changing (the end of the inrush window, or of a
# stall window under way); a change of the current can only be seen by polling. Times are compared
# modulo 2**30, so time.ticks_ms() can be passed directly (wrap-safe).
from micropython import const

from drivers.ticks import ticks_diff, ticks_add

_FULL = const(65535)


class HBridgeMotor:
    def __init__(self, pwm_a, pwm_b, duty_u16=65535, invert=False, current_adc=None, stall_u16=40000,
                 stall_ms=60, inrush_ms=150):
        if duty_u16 < 0 or duty_u16 > _FULL:
            raise ValueError("duty_u16")
        if invert:
            pwm_a, pwm_b = pwm_b, pwm_a
        self._fwd = pwm_a  # the leg that is on for direction +1
        self._rev = pwm_b
        self._duty = duty_u16
        self._adc = current_adc
        self._stall_u16 = stall_u16
        self._stall_ms = stall_ms
        self._inrush_ms = inrush_ms
        self._t_drive = 0
        self._inrush_done = False
        self._over = False  # sense reading at or above stall_u16 at the last poll
        self._over_since = 0
        self._reported = False
        self.direction = 0
        self._fwd.duty_u16(0)
        self._rev.duty_u16(0)

    @property
    def running(self):
        return self.direction != 0

    # read-only tunables
    @property
    def stall_u16(self):
        return self._stall_u16

    @property
    def stall_ms(self):
        return self._stall_ms

    @property
    def inrush_ms(self):
        return self._inrush_ms

    def next_deadline(self):
        """The tick at which poll() can next change its mind with the current unchanged: the end of
        the inrush window, or the end of a stall window under way; None otherwise."""
        if self.direction == 0 or self._adc is None or self._reported:
            return None
        if not self._inrush_done:
            return ticks_add(self._t_drive, self._inrush_ms)
        if self._over:
            return ticks_add(self._over_since, self._stall_ms)
        return None

    def drive(self, direction, now_ms):
        # +1 toward unlock, -1 toward lock; anything else (bools and floats included) is refused
        if type(direction) is not int or (direction != 1 and direction != -1):
            raise ValueError("direction")
        # the leg going low is written first, so a reversal passes through coast, never brake
        if direction == 1:
            self._rev.duty_u16(0)
            self._fwd.duty_u16(self._duty)
            self.direction = 1
        else:
            self._fwd.duty_u16(0)
            self._rev.duty_u16(self._duty)
            self.direction = -1
        self._t_drive = now_ms
        self._inrush_done = False
        self._over = False
        self._reported = False

    def brake(self):
        self._fwd.duty_u16(_FULL)
        self._rev.duty_u16(_FULL)
        self.direction = 0

    def coast(self):
        self._fwd.duty_u16(0)
        self._rev.duty_u16(0)
        self.direction = 0

    def poll(self, now_ms):
        if self.direction == 0 or self._adc is None or self._reported:
            return False
        if not self._inrush_done:
            if ticks_diff(now_ms, self._t_drive) < self._inrush_ms:
                return False
            self._inrush_done = True
        if self._adc.read_u16() < self._stall_u16:
            self._over = False
            return False
        if not self._over:
            self._over = True
            self._over_since = now_ms
        if ticks_diff(now_ms, self._over_since) >= self._stall_ms:
            self._reported = True
            return True
        return False
