"""A third-party client against the emulator: Adafruit's CircuitPython PN532 library (PyPI
adafruit-circuitpython-pn532, run on CPython) reads the firmware version and type A UIDs through its
own PN532_UART and PN532_I2C classes, unpatched. Its frames are also compared byte for byte with the
firmware driver's. The emulator runs on real time here, as Adafruit's code sleeps between polls."""
import pytest

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim.pn532 import PN532Emulator, mifare_classic, ntag215, phone, triple_uid_card
from drivers import pn532 as P

# a dev dependency (pyproject.toml): missing, this module fails rather than skips
from adafruit_pn532.i2c import PN532_I2C  # noqa: E402
from adafruit_pn532.uart import PN532_UART  # noqa: E402


class RecordingUart:
    """What Adafruit's PN532_UART uses of a UART (write, read, in_waiting, reset_input_buffer),
    passed through to the emulator's, keeping what the host wrote."""

    def __init__(self, uart):
        self._uart = uart
        self.written = []

    def write(self, buf):
        self.written.append(bytes(buf))
        return self._uart.write(buf)

    def read(self, n=1):
        return self._uart.read(n)

    @property
    def in_waiting(self):
        return self._uart.in_waiting

    def reset_input_buffer(self):
        self._uart.reset_input_buffer()


class ResetLine:
    """A stand-in for the digitalio pin on RSTPD_N: driving it low resets the emulated chip."""

    def __init__(self, emu):
        self.emu = emu
        self.direction = None
        self._value = True
        self.resets = 0

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, v):
        if self._value and not v:
            self.emu.power_on()
            self.resets += 1
        self._value = bool(v)


def ours(*data):
    buf = bytearray(64)
    return bytes(buf[:P.frame(buf, P.TFI_HOST, bytes(data))])


def test_uart_firmware_version_and_uids():
    emu = PN532Emulator()
    uart = RecordingUart(emu.uart)
    pn = PN532_UART(uart)  # wakes the chip, SAMConfiguration, GetFirmwareVersion
    assert pn.firmware_version == (0x32, 0x01, 0x06, 0x07)
    assert emu.commands[:2] == [0x14, 0x02] and emu.ignored == []
    classic, tag = mifare_classic(), ntag215()
    emu.enter(classic)
    assert bytes(pn.read_passive_target(timeout=0.5)) == classic.uid
    emu.leave(classic)
    emu.enter(tag)
    assert bytes(pn.read_passive_target(timeout=0.5)) == tag.uid
    # the same bytes on the wire as the firmware driver's frames
    assert uart.written[0][:2] == b"\x55\x55" and set(uart.written[0][2:]) == {0}
    assert uart.written[1] == ours(0x14, 0x01, 0x14, 0x01)
    assert uart.written[2] == ours(0x02)
    assert ours(0x4A, 0x01, 0x00) in uart.written


def test_i2c_firmware_version_and_uids():
    emu = PN532Emulator()
    pn = PN532_I2C(emu.i2c)  # probes the address, SAMConfiguration, GetFirmwareVersion
    assert pn.firmware_version == (0x32, 0x01, 0x06, 0x07)
    for card in (mifare_classic(), ntag215()):
        emu.enter(card)
        assert bytes(pn.read_passive_target(timeout=0.5)) == card.uid
        emu.leave(card)


def test_i2c_with_a_reset_pin():
    emu = PN532Emulator()
    emu.sam = True  # whatever state it was in, the reset pin puts it back to LowVbat
    rst = ResetLine(emu)
    pn = PN532_I2C(emu.i2c, reset=rst)
    assert rst.resets == 1 and emu.sam
    assert pn.firmware_version[0] == 0x32


def test_no_card_returns_none_with_default_retries():
    # PassiveActivation 0xFF (default): the chip waits for a card, Adafruit gives up -> None
    emu = PN532Emulator()
    pn = PN532_UART(emu.uart)
    assert pn.read_passive_target(timeout=0.2) is None
    card = mifare_classic()
    emu.enter(card)  # the next command replaces the waiting one
    assert bytes(pn.read_passive_target(timeout=0.5)) == card.uid


def test_no_card_raises_with_finite_retries():
    # a finite PassiveActivation answers NbTg = 0, which Adafruit's parser reports as an error
    emu = PN532Emulator()
    pn = PN532_I2C(emu.i2c)
    assert pn.call_function(0x32, params=[0x05, 0xFF, 0x01, 0x01]) == b""
    with pytest.raises(RuntimeError):
        pn.read_passive_target(timeout=0.5)


def test_limits_of_the_client():
    # 106A only and UIDs up to 7 bytes: a 10-byte UID is refused by the client, not the emulator
    emu = PN532Emulator()
    pn = PN532_UART(emu.uart)
    emu.enter(triple_uid_card())
    with pytest.raises(RuntimeError):
        pn.read_passive_target(timeout=0.5)
    emu.field.clear()
    ph = phone(lambda apdu: b"\x90\x00")
    emu.enter(ph)
    uid = pn.read_passive_target(timeout=0.5)
    assert bytes(uid) == ph.uid and uid[0] == 0x08
