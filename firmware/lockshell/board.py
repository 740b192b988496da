# ESP32 lock board pin map: composes the drivers from machine objects. `machine` is passed in so the
# composition itself is tested (tests/fw/test_board.py) with fake machine classes.
from micropython import const

from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor
from drivers.position import PotPosition
from drivers.indicator import Indicator

MOTOR_A = const(25)  # H-bridge IN1 (PWM): high = toward unlock
MOTOR_B = const(26)  # H-bridge IN2 (PWM)
MOTOR_SENSE = const(34)  # motor current shunt amplifier (ADC1, input only)
KNOB_POT = const(35)  # thumb-turn potentiometer wiper (ADC1, input only)
DOOR_REED = const(27)  # reed switch to GND, pull-up: 1 = magnet away = door open
BUTTON = const(14)  # push button to GND, pull-up: 0 = pressed
LED = const(2)
BUZZER = const(4)
NFC_UART = const(2)  # PN532 over HSU (UART2) at 115200 8N1
NFC_TX = const(17)  # ESP32 TX -> PN532 RX
NFC_RX = const(16)  # ESP32 RX <- PN532 TX
KP_ROWS = (18, 19, 21, 22)  # 3x4 keypad rows: open-drain outputs, scanned low one at a time
KP_COLS = (13, 23, 32)  # keypad columns: inputs with pull-up (docs/keypad.md)
BATT_ADC = const(36)  # battery through a 1:2 divider (ADC1: readable while Wi-Fi runs)
# the battery changes over hours: one read every 15 min, a new average every hour (4 reads), so it
# costs the idle loop 96 wakes a day
BATT_PERIOD_MS = const(3600000)
BATT_SAMPLES = const(4)
_PWM_HZ = const(20000)  # above hearing


class Board:
    def __init__(self, motor, position, door, button, indicator, reader=None, keypad=None, battery=None):
        self.motor = motor
        self.position = position
        self.door = door
        self.button = button
        self.indicator = indicator
        self.reader = reader  # NfcReader, or None on a board without a card reader
        self.keypad = keypad  # PinEntry port (lockshell/keypad.py), or None without a keypad
        self.battery = battery  # BatteryPort (lockshell/battery.py), or None on mains power


def keypad_port(rows, cols, now_ms):
    """The PIN entry port on a matrix keypad's row (output) and column (input) pins."""
    from drivers.keypad import MatrixKeypad
    from lockshell.keypad import PinEntry
    return PinEntry(MatrixKeypad(rows, cols, now_ms))


def battery_port(adc, now_ms, motor, ratio=2.0):
    """The battery port: rare averaged readings, none while the motor runs (its sag)."""
    from drivers.battery import BatteryMonitor
    from lockshell.battery import BatteryPort
    return BatteryPort(BatteryMonitor(adc, now_ms, ratio=ratio, period_ms=BATT_PERIOD_MS, samples=BATT_SAMPLES),
                       loaded=lambda: motor.running)


def make_board(machine, now_ms=0, nfc=True, phones=None, keypad=False, battery=False):
    """phones: (keys with key_for(phone_id), door_id) to run the phone-as-key protocol on the
    reader (lockctl/phone.py); None reports phones as plain "iso-dep" targets."""
    Pin, PWM, ADC = machine.Pin, machine.PWM, machine.ADC
    # legs start at duty 0: the bolt never moves at power-up
    motor = HBridgeMotor(PWM(Pin(MOTOR_A), freq=_PWM_HZ, duty_u16=0), PWM(Pin(MOTOR_B), freq=_PWM_HZ, duty_u16=0),
                         current_adc=_adc(ADC, Pin, MOTOR_SENSE))
    position = PotPosition(_adc(ADC, Pin, KNOB_POT))
    door = Debounced(Pin(DOOR_REED, Pin.IN, Pin.PULL_UP), now_ms)
    button = Debounced(Pin(BUTTON, Pin.IN, Pin.PULL_UP), now_ms, active_low=True)
    indicator = Indicator(Pin(LED, Pin.OUT, value=0), PWM(Pin(BUZZER), freq=2700, duty_u16=0))
    reader = None
    if nfc:
        from drivers.pn532 import PN532, HsuLink
        from lockshell.nfc import NfcReader
        uart = machine.UART(NFC_UART, baudrate=115200, tx=NFC_TX, rx=NFC_RX, timeout=0)
        reader = NfcReader(PN532(HsuLink(uart)), phone_auth=phones)
    kp = None
    if keypad:
        kp = keypad_port([Pin(n, Pin.OPEN_DRAIN, value=1) for n in KP_ROWS],
                         [Pin(n, Pin.IN, Pin.PULL_UP) for n in KP_COLS], now_ms)
    bat = battery_port(_adc(ADC, Pin, BATT_ADC), now_ms, motor) if battery else None
    return Board(motor, position, door, button, indicator, reader, kp, bat)


def _adc(ADC, Pin, n):
    a = ADC(Pin(n))
    if hasattr(a, "atten") and hasattr(ADC, "ATTN_11DB"):
        a.atten(ADC.ATTN_11DB)  # full 0..3.3 V range
    return a
