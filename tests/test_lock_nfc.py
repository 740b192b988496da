"""The lock with its card reader, end to end on CPython: firmware App + NfcReader + the real PN532
driver over HSU, against the byte-level PN532 emulator (sim/pn532.py); motor, knob and door on fake
pins. An enrolled card unlocks and is logged with its user, an unknown one is denied with its
identity, a dead reader is logged down (with its error code) while the lock keeps working, and
logged up when it answers again."""
import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim.pn532 import Clock, PN532Emulator, mifare_classic, ntag215, suica

from app import App
from board import Board
from drivers import pn532 as P
from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor
from drivers.position import PotPosition
from fakes import FakeADC, FakePin, FakePWM
from lockctl.keys import KeyList
from lockctl.record import format_record
from nfc import NfcReader
from store import MemoryStore

LOCK, UNLOCK = 1000, 3000


class Lock:
    def __init__(self):
        self.clock = Clock(1000)
        self.emu = PN532Emulator(self.clock, seed=1)
        self.pwm_a, self.pwm_b = FakePWM(), FakePWM()
        self.knob = FakeADC(LOCK << 4)
        self.button = FakePin(1)
        t = self.clock.t
        board = Board(HBridgeMotor(self.pwm_a, self.pwm_b), PotPosition(self.knob), Debounced(FakePin(0), t),
                      Debounced(self.button, t, active_low=True), None,
                      NfcReader(P.PN532(P.HsuLink(self.emu.uart)), interval_ms=100))
        keys = KeyList([("iso14443a", "DEADBEEF", "alice"), ("felica", "01014E1F2D3C4B5A", "bob")])
        self.app = App(board, MemoryStore({"auto_lock": False}, (LOCK, UNLOCK)), keys)
        self.app.start(t)

    def run(self, ms):
        end = self.clock.t + ms
        while self.clock.t < end:
            self.app.poll(self.clock.t)
            # a motor that gets there in 300 ms
            d = self.app.board.motor.direction
            if d:
                self.moving = getattr(self, "moving", 0) + 1
                if self.moving >= 300:
                    self.knob.value = (UNLOCK if d > 0 else LOCK) << 4
            else:
                self.moving = 0
            self.clock.advance(1)

    def log(self):
        return [format_record(r).split(" ", 1)[1] for r in self.app.log]


def test_enrolled_card_unlocks_unknown_card_is_denied():
    lock = Lock()
    lock.run(300)
    card = mifare_classic()
    lock.emu.enter(card)
    lock.run(1500)
    lock.emu.leave(card)
    lock.run(300)
    lock.emu.enter(ntag215())
    lock.run(1000)
    assert lock.log() == ["BOOT locked", "UNLOCK iso14443a alice", "DENIED unknown iso14443a:04512A1A7C5D80"]


def test_felica_card_unlocks_with_its_user():
    lock = Lock()
    lock.run(300)
    lock.emu.enter(suica())
    lock.run(1500)
    assert lock.log() == ["BOOT locked", "UNLOCK felica bob"]


def test_dead_reader_is_logged_and_the_lock_keeps_working():
    lock = Lock()
    lock.run(300)
    lock.emu.silent = True
    lock.run(3000)
    lock.button.set(0)  # leaving by the button needs no reader
    lock.run(100)
    lock.button.set(1)
    lock.run(1000)
    lock.emu.silent = False
    lock.emu.power_on()
    lock.run(6000)
    log = lock.log()
    assert log == ["BOOT locked", "READER_DOWN %d" % P.E_NO_ACK, "UNLOCK button", "READER_UP"]
    assert lock.app.core.reader_down is False
