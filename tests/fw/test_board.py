# firmware/lockshell/board.py's pin map composes the real drivers (and the PN532 reader) from `machine`
# classes; here a fake machine records what was built. Runs on both runtimes.
from fakes import FakePWM, FakeADC
from lockshell.board import (make_board, MOTOR_A, MOTOR_B, DOOR_REED, BUTTON, NFC_UART, NFC_TX, NFC_RX, KP_ROWS,
                             KP_COLS, BATT_ADC)


def test_board_composition_from_machine():
    made = {}

    class Pin:
        IN, OUT, PULL_UP, OPEN_DRAIN = 1, 2, 3, 4

        def __init__(self, n, mode=None, pull=None, value=None):
            self.n = n
            self.v = 1 if n in (DOOR_REED, BUTTON) else (value or 0)
            made[n] = self

        def value(self, v=None):
            if v is None:
                return self.v
            self.v = v

    class PWM(FakePWM):
        def __init__(self, pin, freq=0, duty_u16=0):
            FakePWM.__init__(self, duty_u16)
            made[("pwm", pin.n)] = self

    class ADC(FakeADC):
        ATTN_11DB = 3

        def __init__(self, pin):
            FakeADC.__init__(self, 1000 << 4)
            self.att = None

        def atten(self, a):
            self.att = a

    class UART:
        def __init__(self, n, baudrate=0, tx=None, rx=None, timeout=None):
            made["uart"] = (n, baudrate, tx, rx, timeout)

        def write(self, buf):
            return len(buf)

        def any(self):
            return 0

        def readinto(self, buf, n=-1):
            return None

    class machine:
        pass

    machine.Pin, machine.PWM, machine.ADC, machine.UART = Pin, PWM, ADC, UART
    b = make_board(machine, 0)
    assert made["uart"] == (NFC_UART, 115200, NFC_TX, NFC_RX, 0)  # non-blocking reads
    assert b.reader is not None and b.reader.eng.link.uart is not None
    assert make_board(machine, 0, nfc=False).reader is None
    assert b.door.value is True  # reed open-circuit with pull-up reads as door open
    assert b.button.value is False  # pull-up, not pressed
    assert made[("pwm", MOTOR_A)].duty == 0 and made[("pwm", MOTOR_B)].duty == 0
    assert b.position.read() == 1000
    assert b.keypad is None and b.battery is None  # only when asked for
    kb = make_board(machine, 0, nfc=False, keypad=True, battery=True)
    assert kb.keypad is not None and kb.battery is not None
    for n in KP_ROWS:
        assert made[n].v == 0  # rows idle low: one read of the columns sees any key
    assert all(n in made for n in KP_COLS) and BATT_ADC in made
    assert kb.keypad.step(0) is None  # nothing pressed
