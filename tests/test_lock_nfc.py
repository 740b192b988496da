"""The lock with its card reader, end to end on CPython: firmware App + NfcReader + the real PN532
driver over HSU, against the byte-level PN532 emulator (sim/pn532.py); motor, knob and door on fake
pins. An enrolled card unlocks and is logged with its user, an unknown one is denied with its
identity, a dead reader is logged down (with its error code) while the lock keeps working, and
logged up when it answers again. Phones (sim/phone.py) go through the phone-as-key protocol run by
the reader: enrolled -> unlock, wrong key / replay -> bad-mac, unknown -> unknown-phone, no app ->
no-app, silent -> no-answer; a phone held in the field is decided once."""
import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim.phone import PhoneApp
from doorkit.sim.pn532 import Clock, PN532Emulator, TypeA, mifare_classic, ntag215, phone, suica

from lockshell.app import App
from lockshell.board import Board
from drivers import pn532 as P
from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor
from drivers.position import PotPosition
from fakes import FakeADC, FakePin, FakePWM
from lockctl.keys import KeyList
from lockctl.codes import KIND_ISO14443A, KIND_FELICA, KIND_PHONE
from lockctl.phone import PhoneKeys
from lockctl.record import format_record
from lockshell.nfc import NfcReader
from lockshell.store import MemoryStore

LOCK, UNLOCK = 1000, 3000
DOOR = b"front-door-01"
PID = b"pixel-7a-0001"
KEY = bytes(range(0x10, 0x30))


class Lock:
    def __init__(self, phones=False):
        self.clock = Clock(1000)
        self.emu = PN532Emulator(self.clock, seed=1)
        self.pwm_a, self.pwm_b = FakePWM(), FakePWM()
        self.knob = FakeADC(LOCK << 4)
        self.button = FakePin(1)
        t = self.clock.t
        board = Board(HBridgeMotor(self.pwm_a, self.pwm_b), PotPosition(self.knob), Debounced(FakePin(0), t),
                      Debounced(self.button, t, active_low=True), None,
                      NfcReader(P.PN532(P.HsuLink(self.emu.uart)), interval_ms=100,
                                phone_auth=(PhoneKeys([(PID, KEY)]), DOOR) if phones else None, rand=self.rand))
        self.challenges = []
        keys = KeyList([(KIND_ISO14443A, "DEADBEEF", "alice"), (KIND_FELICA, "01014E1F2D3C4B5A", "bob"),
                        (KIND_PHONE, PID.hex().upper(), "carol")])
        self.app = App(board, MemoryStore({"auto_lock": False}, (LOCK, UNLOCK)), keys)
        self.app.start(t)

    def rand(self, n):
        c = bytes((len(self.challenges) * 37 + i * 11) & 0xFF for i in range(n))  # fresh each time
        self.challenges.append(c)
        return c

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


# -- phone as key: the reader runs the protocol against the emulator's HCE phone (sim/phone.py) --

PID_HEX = PID.hex().upper()


def test_enrolled_phone_unlocks_once_while_held():
    lock = Lock(phones=True)
    lock.run(300)
    app = PhoneApp(PID, KEY, DOOR)
    lock.emu.enter(phone(app))
    lock.run(3000)  # held: many polls find it, one decision
    assert lock.log() == ["BOOT locked", "UNLOCK phone carol"]
    assert len(app.challenges) == 1 and app.challenges == lock.challenges
    assert lock.emu.commands.count(0x40) == 2


def test_phone_with_a_wrong_key_is_denied_bad_mac():
    lock = Lock(phones=True)
    lock.run(300)
    lock.emu.enter(phone(PhoneApp(PID, bytes(32), DOOR)))
    lock.run(1500)
    assert lock.log() == ["BOOT locked", "DENIED bad-mac phone:" + PID_HEX]


def test_unknown_phone_is_denied():
    lock = Lock(phones=True)
    lock.run(300)
    lock.emu.enter(phone(PhoneApp(b"stranger", KEY, DOOR)))
    lock.run(1500)
    assert lock.log() == ["BOOT locked", "DENIED unknown-phone phone:" + b"stranger".hex().upper()]
    assert lock.challenges == []


def test_replayed_answer_is_denied():
    lock = Lock(phones=True)
    lock.run(300)
    good = PhoneApp(PID, KEY, DOOR)
    card = phone(good)
    lock.emu.enter(card)
    lock.run(1500)
    lock.emu.leave(card)
    lock.run(1500)
    attacker = PhoneApp(PID, bytes(32), DOOR, replay=good.answers[0])
    lock.emu.enter(phone(attacker))
    lock.run(1500)
    log = lock.log()
    assert log[:2] == ["BOOT locked", "UNLOCK phone carol"]
    assert log[-1] == "DENIED bad-mac phone:" + PID_HEX
    assert attacker.answers == [good.answers[0]] and attacker.challenges[0] != good.challenges[0]


def test_iso_dep_card_without_the_app_is_denied_no_app():
    lock = Lock(phones=True)
    lock.run(300)
    bank = TypeA(bytes.fromhex("08010203"), b"\x00\x04", 0x20, ats=bytes.fromhex("0578807002"),
                 apdu=lambda apdu: b"\x6a\x82", random_uid=True, name="bank")
    lock.emu.enter(bank)
    lock.run(1500)
    assert lock.log() == ["BOOT locked", "DENIED no-app phone:" + bank.uid.hex().upper()]


def test_phone_that_goes_silent_is_denied_no_answer_and_the_reader_carries_on():
    lock = Lock(phones=True)
    lock.run(300)
    card = phone(PhoneApp(PID, KEY, DOOR, silent=True))
    lock.emu.enter(card)
    lock.run(1500)
    assert lock.log() == ["BOOT locked", "DENIED no-answer phone:" + PID_HEX]
    assert not lock.app.board.reader.down
    lock.emu.leave(card)
    lock.run(1000)
    lock.emu.enter(mifare_classic())
    lock.run(1000)
    assert lock.log()[-1] == "UNLOCK iso14443a alice"


def test_without_phone_keys_a_phone_is_an_unknown_iso_dep_card():
    lock = Lock()
    lock.run(300)
    card = phone(PhoneApp(PID, KEY, DOOR))
    lock.emu.enter(card)
    lock.run(1500)
    assert lock.log() == ["BOOT locked", "DENIED unknown iso-dep:" + card.uid.hex().upper()]
