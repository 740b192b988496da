# The rig of test_app_offline*.py: the whole firmware (App + core + the real drivers on minimal pin
# stand-ins) over lockshell.flash.Storage on a small simulated NOR flash (key store 8 blocks; log
# partition: 2 tally blocks + a ring of 4 sectors; in MicroPython its cells live in a file), rebooted
# on the same cells; and the oracle of what the event log must hold.
#
# Heap (MicroPython, 96wK): the unix port holds the loaded code on the heap (the board runs it frozen
# in flash), about 140 KB of App, core, key store, event log and bundle code. So this rig imports no
# more than the firmware needs: records are compared as tuples (no lockctl.record and its name
# tables), and pins, the board and the settings store are the few lines below rather than
# fakes.py, lockshell.board and lockshell.store; a collection after each big import keeps the loaded
# code from strewing the heap with holes (as one import the largest free block left was under 1 KB,
# too small for the key store's 4 KB block buffer).
import gc

from lockshell.app import App
gc.collect()
from lockshell.flash import Storage
gc.collect()
from keykit import rec, full, SECRET, DOOR, ALWAYS
gc.collect()
from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor
from drivers.position import PotPosition
from lockctl import schedule as S
from lockctl.plan import TALLY_BLOCKS
from lockctl.codes import EV_CREDENTIAL, KIND_ISO14443A, KIND_PIN, LOG_CLOCK_SET, LOG_MANUAL_LOCK, \
    LOG_MANUAL_UNLOCK, LOG_UNLOCK, SRC_BUTTON, LOCKED
from sim.nor import NorFlash, Partition
gc.collect()

KEY_BLOCKS = 8
LOG_BLOCKS = TALLY_BLOCKS + 4
LOCK, UNLOCK = 1000, 3000
CARD = KIND_ISO14443A
PIN = KIND_PIN
ONCE = S.pack_profile(S.P_ONCE, 0, 0, 0)  # one day-long window a day; a use limit
PROFILES = (ALWAYS, ONCE)
U = 1704067200  # 2024-01-01 00:00 UTC


def creds():
    return [rec(CARD, "A1B2C3D4", 1), rec(CARD, "0E0E0E0E", 2, profile=1, uses=2),
            rec(CARD, "0F0F0F0F", 3, uses=2), rec(PIN, "4711", 4)]


def bundle(version=1, recs=None, **kw):
    return full(creds() if recs is None else recs, version, PROFILES, **kw)


# ------------------------------------------------------------------ stand-ins
class Pin:
    def __init__(self, level):
        self.level = level

    def value(self):
        return self.level


class Pwm:
    def __init__(self):
        self.duty = 0
        self.most = 0  # the highest duty ever written

    def duty_u16(self, v=None):
        if v is None:
            return self.duty
        self.duty = v
        if v > self.most:
            self.most = v


class Adc:
    def __init__(self, value):
        self.value = value

    def read_u16(self):
        return self.value


class Board:
    def __init__(self, motor, position, door, button):
        self.motor = motor
        self.position = position
        self.door = door
        self.button = button
        self.indicator = None


class Settings:
    def __init__(self, config):
        self.config = config
        self.calibration = (LOCK, UNLOCK)

    def load(self):
        return dict(self.config), self.calibration

    def save(self, what, data):
        if what == "config":
            self.config = dict(data)


def nor(blocks):
    """A fresh simulated flash; in MicroPython its cells in a file (as keykit.flash) with 512-byte
    copy buffers rather than 4 KB ones."""
    import sys
    if sys.implementation.name != "micropython":
        return NorFlash(blocks)
    from keykit import cell_file
    return NorFlash(blocks, cells=cell_file(blocks, 512))


class Rtc:
    """The board's RTC on the rig's world clock (continuous across reboots): read() / set()."""

    def __init__(self, door):
        self.door = door
        self.base = None

    def read(self):
        if self.base is None:
            return None
        return self.base[1] + (self.door.world + self.door.t - self.base[0]) // 1000

    def set(self, unix):
        self.base = (self.door.world + self.door.t, unix)


class Door:
    def __init__(self, config=None, pos=LOCK, rtc=False, keys=True, provision=None):
        """keys: install bundle() at 10 ms (BUNDLE v1 4); provision: fn(keys partition) run before
        the first boot instead (an installer's factory image: no BUNDLE record)."""
        cfg = {"auto_lock": False}
        if config:
            cfg.update(config)
        self.dev = nor(KEY_BLOCKS + LOG_BLOCKS)
        self.store = Settings(cfg)
        self.world = 0  # ms before this boot
        self.t = 0
        self.rtc = Rtc(self) if rtc else None
        self.pos = pos
        self.logs = []  # App.log of each boot (the Apps themselves are let go)
        if provision is not None:
            provision(self.parts()[0])
            gc.collect()
        self.boot()
        if keys:
            assert self.app.install_bundle(self.step(10), [bundle()]) == (1, None), self.app.last_fault

    def parts(self):
        return Partition(self.dev, 0, KEY_BLOCKS), Partition(self.dev, KEY_BLOCKS, LOG_BLOCKS)

    def boot(self):
        kp, lp = self.parts()
        self.storage = Storage(kp, lp, SECRET, DOOR)
        self.a, self.b = Pwm(), Pwm()
        self.adc = Adc(self.pos << 4)
        self.door_pin = Pin(0)  # 1 = open
        self.button_pin = Pin(1)  # pull-up: 0 = pressed
        board = Board(HBridgeMotor(self.a, self.b, current_adc=Adc(0)), PotPosition(self.adc),
                      Debounced(self.door_pin, 0), Debounced(self.button_pin, 0, active_low=True))
        # (a RAM log of 16, not 200: records kept all over the heap leave it in pieces too small for
        # the key store's 4 KB buffers; every test compares at most the last 16)
        self.app = App(board, self.store, None, 16, flash=self.storage, clock=self.rtc)
        self.logs.append(self.app.log)
        self.t = 0
        self.app.start(0)

    def reboot(self):
        """Power off and on: the same flash cells, a new Storage and App (time from 0 again)."""
        self.pos = self.adc.value >> 4
        self.world += self.t + 1000
        self.dev = self.dev.power_cycle()
        self.app = self.storage = None  # (the old boot's RAM is gone before the new one boots)
        gc.collect()
        self.boot()

    def step(self, t):
        assert t >= self.t
        self.t = t
        return t

    def run_to(self, t, step=5):
        while self.t < t:
            self.t = min(t, self.t + step)
            self.app.poll(self.t)

    def card(self, t, ident, kind=CARD):
        """Present a credential at t; -> the last record."""
        self.run_to(t)
        self.app.feed(t, EV_CREDENTIAL, (kind, ident))
        return self.app.log[-1]

    def set_pos(self, p):
        self.adc.value = p << 4

    def legs(self):
        return self.a.duty, self.b.duty

    def moved(self):
        return self.a.most or self.b.most


def expected(recs, ref=None):
    """What the event log must hold for App records recs of one boot (App time 0 at start): (wall,
    t, code, arg, who) with t in ms since boot until the clock is known, Unix seconds after. ref:
    (ms, unix) when the RTC gave the time at boot."""
    out = []
    for r in recs:
        t, code, arg, who = r
        if code == LOG_CLOCK_SET:
            ref = (arg[1], arg[0])
        if ref is None:
            out.append((False, t, code, arg, who))
        else:
            out.append((True, ref[1] + (t - ref[0]) // 1000, code, arg, who))
    return out


def on_flash(door, boot=None):
    return [(r[2], r[3], r[4], r[5], r[6]) for r in door.storage.log.records() if boot is None or r[1] == boot]


def still_serves(d, t, state=LOCKED):
    """Nothing moved at boot; a manual turn and the button (egress) still work."""
    assert d.app.core.state == state and not d.moved()
    d.run_to(t)
    assert not d.moved()  # (auto_lock off: nothing to do)
    n = len(d.app.log)
    d.set_pos(UNLOCK)
    d.run_to(t + 100)
    d.set_pos(LOCK)
    d.run_to(t + 200)
    d.button_pin.level = 0
    d.run_to(t + 300)
    assert d.legs() == (65535, 0)  # driving toward unlock
    d.button_pin.level = 1
    d.set_pos(UNLOCK)
    d.run_to(t + 500)
    assert d.app.log[n:] == [(t + 5, LOG_MANUAL_UNLOCK, None, None), (t + 105, LOG_MANUAL_LOCK, None, None),
                             (t + 305, LOG_UNLOCK, SRC_BUTTON, None)], d.app.log[n:]
