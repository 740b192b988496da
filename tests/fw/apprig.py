# The App on fake pins with the real drivers (runs on both runtimes): the rig shared by
# test_app.py and test_app_faults.py.
from fakes import FakePin, FakePWM, FakeADC
from lockshell.app import App
from lockshell.board import Board
from lockshell.store import MemoryStore
from lockctl.keys import KeyList
from lockctl.record import format_record
from lockctl.codes import KIND_ISO14443A
from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor
from drivers.position import PotPosition

LOCK, UNLOCK = 1000, 3000  # 12-bit positions
CARD = KIND_ISO14443A


class Rig:
    def __init__(self, cal=(LOCK, UNLOCK), pos=LOCK, door_open=False, config=None, indicator=None, reader=None):
        self.a, self.b = FakePWM(), FakePWM()
        self.adc = FakeADC(pos << 4)
        self.current = FakeADC(0)
        self.door_pin = FakePin(1 if door_open else 0)  # 1 = magnet away = open
        self.button_pin = FakePin(1)  # pull-up: 1 = released
        board = Board(HBridgeMotor(self.a, self.b, current_adc=self.current), PotPosition(self.adc),
                      Debounced(self.door_pin, 0), Debounced(self.button_pin, 0, active_low=True), indicator,
                      reader)
        self.store = MemoryStore(config, cal)
        self.app = App(board, self.store, KeyList([(CARD, "04A1B2C3", "alice")]))
        self.app.start(0)
        self.t = 0

    def set_pos(self, p):
        self.adc.value = p << 4

    def run_to(self, t, step=5):
        while self.t < t:
            self.t += step
            self.app.poll(self.t)

    def lines(self):
        return [format_record(r) for r in self.app.log]

    def legs(self):
        return self.a.duty, self.b.duty
