# The virtual board's `machine`: the ESP32 API the firmware uses (Pin, PWM, ADC, UART, RTC, reset),
# each object a handle on its counterpart in the simulated world (sim/vboard/world.py) reached over
# _vbrpc. reset() is a hard reset (the supervisor restarts the interpreter with fresh RAM);
# soft_reset() ends this interpreter, which the supervisor restarts as a board's soft reboot.
import os
import time
import _vbrpc

_call = _vbrpc.call

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_CAUSES = {"power": PWRON_RESET, "hard": HARD_RESET, "soft": SOFT_RESET}


class _Obj:
    vb_handle = None

    def _rpc(self, method, *args):
        return _call(self.vb_handle, method, args)


class Pin(_Obj):
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.vb_handle = _call(0, "Pin", (id, mode, pull, value))

    def value(self, v=None):
        if v is None:
            return self._rpc("value")
        self._rpc("value", 1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self._rpc("value", 1)

    def off(self):
        self._rpc("value", 0)

    def init(self, mode=-1, pull=-1, value=None):
        self._rpc("init", mode, pull, value)

    def __repr__(self):
        return "Pin(%d)" % self.id


class Signal:
    def __init__(self, pin, invert=False):
        self.pin = pin
        self.invert = bool(invert)

    def value(self, v=None):
        if v is None:
            return self.pin.value() ^ self.invert
        self.pin.value((1 if v else 0) ^ self.invert)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM(_Obj):
    def __init__(self, pin, freq=None, duty_u16=None):
        self.vb_handle = _call(0, "PWM", (pin, freq, duty_u16))

    def duty_u16(self, d=None):
        return self._rpc("duty_u16") if d is None else self._rpc("duty_u16", d)

    def freq(self, f=None):
        return self._rpc("freq") if f is None else self._rpc("freq", f)

    def init(self, freq=None, duty_u16=None):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def deinit(self):
        self._rpc("duty_u16", 0)


class ADC(_Obj):
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3

    def __init__(self, pin, atten=None):
        self.vb_handle = _call(0, "ADC", (pin, atten))

    def read_u16(self):
        return self._rpc("read_u16")

    def read(self):
        return self.read_u16() >> 4

    def atten(self, a):
        pass  # the virtual ADC reads the full range

    def width(self, w):
        pass


class UART(_Obj):
    def __init__(self, id, baudrate=115200, tx=None, rx=None, timeout=0, **kw):
        self.vb_handle = _call(0, "UART", (id, baudrate, tx, rx, timeout))

    def write(self, buf):
        return self._rpc("write", bytes(buf))

    def any(self):
        return self._rpc("any")

    def read(self, n=None):
        return self._rpc("read") if n is None else self._rpc("read", n)

    def readinto(self, buf, n=None):
        n = len(buf) if n is None else min(n, len(buf))
        got = self._rpc("readinto", n)
        if not got:
            return None
        buf[:len(got)] = got
        return len(got)

    def flush(self):
        pass


class RTC:
    """The board's RTC: kept by the supervisor across resets, lost in a power cut."""

    def datetime(self, dt=None):
        if dt is None:
            return tuple(_call(0, "rtc", ()))
        _call(0, "rtc", (list(dt),))

    def init(self, dt):
        self.datetime(dt)


def reset_cause():
    return _CAUSES.get(os.getenv("DOORKIT_VB_CAUSE") or "power", PWRON_RESET)


def reset():
    """A hard reset: the supervisor kills this interpreter and starts a fresh one on the same flash."""
    try:
        _call(0, "reset", (True,))
    finally:
        while True:  # until the supervisor kills this interpreter (a Ctrl-C does not get out)
            try:
                time.sleep_ms(1000)
            except KeyboardInterrupt:
                pass


def soft_reset():
    raise SystemExit(0)


def freq(hz=None):
    return 160000000


def unique_id():
    return b"\x24\x0a\xc4\x00\xd0\x0c"


def idle():
    time.sleep_ms(0)


def lightsleep(ms=None):
    time.sleep_ms(ms or 0)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass
