"""The emulator's answers to the commands real hosts send besides the reader's own (issue 6, point 9):
RFConfiguration item 01 (RF field), Diagnose, GetGeneralStatus, ReadRegister, WriteRegister and
SetSerialBaudRate. Each test writes the command frame byte for byte as UM0701-02 lays it out (the
checksums worked out by hand; libnfc, nfcpy and Seeed's library send the same bytes) and compares the
chip's answer with the frame the manual describes, so the emulator's own frame code is checked too."""
import pytest

import doorkit  # noqa: F401
from doorkit.sim.pn532 import ACK, ERROR_FRAME, Clock, PN532Emulator, mifare_classic, phone, suica, wrap
from drivers import pn532 as P

H = bytes.fromhex
SAM = H("0000ff05fbd4140114010200")  # SAMConfiguration normal, timeout 0x14, IRQ 1
RETRIES_1 = H("0000ff06fad43205ff0101f400")  # RFConfiguration 05: MaxRetries FF 01 01
LIST_A = H("0000ff04fcd44a0100e100")  # InListPassiveTarget MaxTg 1, 106 kbps type A


class Chip:
    """The emulator over its virtual UART, set up as a host would (SAM, finite MaxRetries)."""

    def __init__(self, **kw):
        self.clock = Clock(100)
        self.emu = PN532Emulator(self.clock, **kw)
        self.uart = self.emu.uart
        assert self.send(b"\x55\x55" + bytes(14) + SAM) == ACK + H("0000ff02fed5151600")
        assert self.send(RETRIES_1) == ACK + H("0000ff02fed533f800")

    def send(self, frame, wait=50):
        self.uart.write(frame)
        self.clock.advance(wait)
        return self.uart.read(4096)


def test_hand_written_frames_are_what_the_emulator_builds():
    assert wrap(0xD4, b"\x14\x01\x14\x01") == SAM
    assert wrap(0xD4, b"\x32\x05\xff\x01\x01") == RETRIES_1
    assert wrap(0xD4, b"\x4a\x01\x00") == LIST_A


# -- RFConfiguration item 01: bit 0 = RF field on/off, bit 1 = Auto RFCA ------------------------------

RF_OFF = H("0000ff04fcd4320100f900")  # D4 32 01 00
RF_ON = H("0000ff04fcd4320101f800")  # D4 32 01 01
RF_ON_RFCA = H("0000ff04fcd4320103f600")  # D4 32 01 03
RF_RFCA_ONLY = H("0000ff04fcd4320102f700")  # D4 32 01 02: Auto RFCA, field off
RF_OK = ACK + H("0000ff02fed533f800")  # D5 33


@pytest.mark.parametrize("frame,field,rfca", [(RF_ON, True, False), (RF_ON_RFCA, True, True),
                                              (RF_RFCA_ONLY, False, True), (RF_OFF, False, False)])
def test_rf_field_is_bit_0_auto_rfca_bit_1(frame, field, rfca):
    c = Chip()
    assert c.send(RF_OFF) == RF_OK and c.emu.field_since is None
    assert c.send(frame) == RF_OK
    assert (c.emu.rf_on, c.emu.auto_rfca) == (field, rfca)
    on0 = c.emu.field_ms()
    c.clock.advance(100)
    assert c.emu.field_ms() - on0 == (100 if field else 0)  # the field is on (or off) from now on


@pytest.mark.parametrize("frame", [RF_ON, RF_OFF, RF_RFCA_ONLY])
def test_a_list_switches_the_field_on_whatever_rf_configuration_said(frame):
    # nfcpy switches the field off (D4 32 01 02: Auto RFCA, RF off) and then lists cards, which
    # works on real PN532 boards: polling commands switch the field on themselves
    c = Chip()
    c.emu.enter(mifare_classic())
    assert c.send(frame) == RF_OK
    # D5 4B NbTg 01, Tg 01, SENS_RES 0004, SEL_RES 08, NFCIDLength 04, DEADBEEF
    assert c.send(LIST_A) == ACK + H("0000ff0cf4d54b010100040804deadbeef9600")
    assert c.emu.field_since is not None


def test_rf_configuration_items_lengths_are_checked():
    c = Chip()
    # 02 various timings (RFU, ATR_RES timeout, retry timeout), 04 MaxRtyCOM: accepted, stored
    assert c.send(H("0000ff06fad43202000b0ae300")) == RF_OK
    assert c.send(H("0000ff04fcd4320400f600")) == RF_OK
    assert c.emu.rf_items == {0x02: H("000b0a"), 0x04: H("00")}
    # nfcpy's analog settings for 106 kbps type A (item 0A, 11 bytes)
    a = wrap(0xD4, H("320a59f43f114d85616f266287"))
    assert c.send(a) == RF_OK and c.emu.rf_items[0x0A] == H("59f43f114d85616f266287")
    assert c.send(wrap(0xD4, H("320a59f4"))) == ACK + ERROR_FRAME  # too short
    assert c.send(wrap(0xD4, H("3209"))) == ACK + ERROR_FRAME  # no such item


# -- Diagnose --------------------------------------------------------------------------------------

def test_diagnose_communication_line_test_echoes():
    c = Chip()
    # libnfc's check: D4 00 00 'libnfc' -> D5 01 00 'libnfc'
    assert c.send(H("0000ff09f7d40000") + b"libnfc" + H("be00")) == (
        ACK + H("0000ff09f7d50100") + b"libnfc" + H("bc00"))
    # nfcpy's oldest probe: D4 00 00 (no data) -> D5 01 00
    assert c.send(H("0000ff03fdd400002c00")) == ACK + H("0000ff03fdd501002a00")


def test_diagnose_communication_line_test_with_262_bytes_uses_extended_frames():
    c = Chip()
    data = bytes((7 * i + 3) & 0xFF for i in range(262))
    # host frame: TFI D4, 00, NumTst 00, 262 bytes = LEN 0x0109: extended 00 00 FF FF FF 01 09 F6
    body = b"\xd4\x00\x00" + data
    frame = H("0000ffffff0109f6") + body + bytes([-sum(body) % 256, 0])
    assert frame == wrap(0xD4, b"\x00\x00" + data)
    got = c.send(frame, wait=100)  # 2 x 275 bytes at 115200 baud: about 48 ms of wire
    rbody = b"\xd5\x01\x00" + data
    assert got == ACK + H("0000ffffff0109f6") + rbody + bytes([-sum(rbody) % 256, 0])
    # one byte more than the chip's buffer: refused with the application error frame
    assert c.send(wrap(0xD4, b"\x00\x00" + data + b"\x00"), wait=100) == ACK + ERROR_FRAME


def test_diagnose_rom_ram_antenna_presence_polling():
    c = Chip()
    assert c.send(H("0000ff03fdd400012b00")) == ACK + H("0000ff03fdd501002a00")  # ROM ok
    assert c.send(H("0000ff03fdd400022a00")) == ACK + H("0000ff03fdd501002a00")  # RAM ok
    assert c.send(wrap(0xD4, H("000720"))) == ACK + wrap(0xD5, H("0100"))  # antenna self test ok
    # 06: ISO14443-4 card presence: no target yet (27), a listed phone present (00), gone (01)
    assert c.send(wrap(0xD4, H("0006"))) == ACK + wrap(0xD5, H("0127"))
    ph = phone(lambda apdu: b"\x90\x00")
    c.emu.enter(ph)
    assert c.send(LIST_A)[6:][:8] == H("0000ff11efd54b01")
    assert c.send(wrap(0xD4, H("0006"))) == ACK + wrap(0xD5, H("0100"))
    c.emu.leave(ph)
    assert c.send(wrap(0xD4, H("0006"))) == ACK + wrap(0xD5, H("0101"))
    # 04: polling test to a FeliCa target at 212 kbps: failures out of 128
    assert c.send(wrap(0xD4, H("000401"))) == ACK + wrap(0xD5, H("0180"))
    c.emu.enter(suica())
    assert c.send(wrap(0xD4, H("000401"))) == ACK + wrap(0xD5, H("0100"))
    # 05: echo back test: ACKed, never answered; a host ACK ends it and the chip answers again
    assert c.send(wrap(0xD4, H("0005000000"))) == ACK
    assert c.emu.echo_loop
    c.send(ACK)
    assert not c.emu.echo_loop
    assert c.send(wrap(0xD4, H("0003"))) == ACK + ERROR_FRAME  # no test 03


# -- GetGeneralStatus ------------------------------------------------------------------------------

def test_get_general_status():
    c = Chip()
    # D4 04 -> D5 05 Err Field NbTg SAMstatus: no error, no external field, no target
    assert c.send(H("0000ff02fed4042800")) == ACK + H("0000ff06fad505000000002600")
    c.emu.enter(mifare_classic())
    c.send(LIST_A)
    # one target: Tg 01, BrRx 00, BrTx 00 (106 kbps), type 00 (ISO14443A / MIFARE)
    assert c.send(wrap(0xD4, H("04"))) == ACK + wrap(0xD5, H("05" "00" "00" "01" "01000000" "00"))
    c.send(wrap(0xD4, H("40013004")))  # READ without authentication: status 14 (MIFARE auth error)
    assert c.send(wrap(0xD4, H("04")))[6 + 7] == 0x14  # Err now reports it
    c.send(wrap(0xD4, H("5200")))
    assert c.send(wrap(0xD4, H("04"))) == ACK + wrap(0xD5, H("05" "14" "00" "00" "00"))


# -- ReadRegister / WriteRegister ------------------------------------------------------------------

def test_read_and_write_registers():
    c = Chip()
    # read CIU_TxMode (6302), CIU_RxMode (6303), CIU_TxAuto (6305): D5 07 + one byte each
    rd = H("0000ff08f8d406630263036305f300")
    assert c.send(rd) == ACK + H("0000ff05fbd5070000002400")
    # write 6302 = 80 and 6303 = 80 (CRC on, as libnfc does), then read back
    assert c.send(wrap(0xD4, H("08630280630380"))) == ACK + H("0000ff02fed5092200")
    assert c.send(rd) == ACK + wrap(0xD5, H("07808000"))
    assert c.send(wrap(0xD4, H("066301"))) == ACK + wrap(0xD5, H("073f"))  # CIU_Mode after reset
    assert c.send(wrap(0xD4, H("0663"))) == ACK + ERROR_FRAME  # half an address
    assert c.send(wrap(0xD4, H("0863028063"))) == ACK + ERROR_FRAME
    c.emu.power_on()  # a reset puts the registers back
    c.send(b"\x55\x55" + bytes(14) + SAM)
    assert c.send(rd) == ACK + wrap(0xD5, H("07000000"))


# -- SetSerialBaudRate ------------------------------------------------------------------------------

def test_set_serial_baud_rate_changes_after_the_hosts_ack():
    c = Chip()
    # D4 10 07 (921600): answered D5 11 at the old rate; the new rate from the host's ACK on
    assert c.send(H("0000ff03fdd410071500")) == ACK + H("0000ff02fed5111a00")
    assert c.emu.baud == 115200
    c.send(ACK)
    assert c.emu.baud == 921600
    fw = H("0000ff02fed4022a00")
    assert c.send(fw) == b""  # the host still at 115200: the chip cannot read it
    c.uart.baudrate = 921600
    assert c.send(fw) == ACK + H("0000ff06fad50332010607e800")
    # without the ACK the change does not happen: the next command is read at the old rate
    assert c.send(wrap(0xD4, H("1004"))) == ACK + wrap(0xD5, H("11"))
    assert c.send(fw) == ACK + H("0000ff06fad50332010607e800") and c.emu.baud == 921600
    assert c.send(wrap(0xD4, H("1009"))) == ACK + ERROR_FRAME  # no rate 09


# -- the firmware driver's raw-command path meets the same commands --------------------------------

def test_driver_start_command_with_the_new_commands():
    clock = Clock(100)
    emu = PN532Emulator(clock)
    drv = P.PN532(P.HsuLink(emu.uart))


    assert clock.run(drv, drv.start_sam_configuration) == P.DONE
    data = bytes(range(200)) + bytes(62)
    assert clock.run(drv, lambda t: drv.start_command(t, 0x00, b"\x00" + data)) == P.DONE
    assert bytes(drv.rx[:drv.rx_len]) == b"\x00" + data
    assert clock.run(drv, lambda t: drv.start_command(t, 0x04, b"")) == P.DONE
    assert bytes(drv.rx[:drv.rx_len]) == H("00000000")  # Err Field NbTg SAMstatus
    assert clock.run(drv, lambda t: drv.start_command(t, 0x32, b"\x01\x01")) == P.DONE and emu.rf_on
