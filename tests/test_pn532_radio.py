"""The emulator's radio and wire timing (docs/pn532.md, "Radio timing") and the commands built on it:
guard time after the field comes on, one try per passive activation, anticollision time per
cascade level, bytes taking 10 bit times on the HSU line, the field's on-time (duty cycle), and
InAutoPoll, InCommunicateThru, InDeselect as libnfc's nfc-list and nfc-poll send them."""
import pytest

import doorkit  # noqa: F401
from doorkit.sim.pn532 import (ACK, Clock, PN532Emulator, mifare_classic, ntag215, phone, suica, triple_uid_card,
                               wrap)

H = bytes.fromhex
B = 10000.0 / 115200  # ms a byte takes at 115200 baud, 8N1


class Chip:
    def __init__(self, retries=1, **kw):
        self.clock = Clock(0)
        self.emu = PN532Emulator(self.clock, **kw)
        self.uart = self.emu.uart
        self.cmd("14011401")
        self.cmd("3205ff01%02x" % retries)

    def cmd(self, hexdata, limit=2000):
        """Send D4 + hexdata; return (ms from the write to the complete answer, answer frame)."""
        self.uart.write(b"\x55\x55" + bytes(14) + wrap(0xD4, H(hexdata)))
        t0 = self.clock.t
        got = b""
        while self.clock.t - t0 < limit:
            self.clock.advance(0.25)
            got += self.uart.read(512)
            if len(got) > 6 and got.endswith(b"\x00") and got[6:9] == b"\x00\x00\xff":
                body = got[6:]
                n = body[3]
                if len(body) >= 5 + n + 2:
                    return self.clock.t - t0, body
        return None, got


def test_wire_time_is_ten_bit_times_a_byte():
    c = Chip()
    t, frame = c.cmd("02")  # 16 wake bytes + 9 command bytes in; ACK 1 ms later, answer 2 ms after it
    assert frame == wrap(0xD5, H("0332010607"))
    assert t == pytest.approx((16 + 9) * B + 1 + 2 + 13 * B, abs=0.3)
    c2 = Chip(wire=False)
    assert c2.cmd("02")[0] == pytest.approx(3, abs=0.3)


def test_list_without_a_card_guard_plus_tries():
    c = Chip(retries=1)
    c.cmd("1610")  # PowerDown: the field goes off
    assert c.emu.field_since is None
    t, frame = c.cmd("4a0100")  # 16 + 11 bytes in, 10 out
    assert frame == wrap(0xD5, H("4b00"))
    # ACK 1 ms after the frame, the field on: 5 ms guard, then 2 tries (MaxRetries 1) of 3 ms
    assert t == pytest.approx(27 * B + 1 + 5 + 2 * 3 + 10 * B, abs=0.3)
    t2, _ = c.cmd("4a0100")  # the field is on already: no guard
    assert t2 == pytest.approx(27 * B + 1 + 2 * 3 + 10 * B, abs=0.3)
    c.cmd("320100")  # RF off by RFConfiguration: the next list switches it on again, guard first
    assert c.emu.field_since is None
    t3, _ = c.cmd("4a0100")
    assert t3 == pytest.approx(t, abs=0.3) and c.emu.field_since is not None


def test_felica_guard_counts_from_the_field_coming_on():
    c = Chip(retries=0)
    c.cmd("1610")
    t_a, _ = c.cmd("4a0100")  # field on at its ACK, 5 ms guard, one 3 ms try
    assert t_a == pytest.approx(27 * B + 1 + 5 + 3 + 10 * B, abs=0.3)
    t_f, _ = c.cmd("4a010100ffff0100")  # FeliCa: 20 ms of field before its first try
    on_at_f_ack = (t_a - 27 * B - 1) + 32 * B + 1  # field time already run when the F list starts
    assert t_f == pytest.approx(32 * B + 1 + (20 - on_at_f_ack) + 4 + 10 * B, abs=0.5)


@pytest.mark.parametrize("make,rf_ms", [(mifare_classic, 2), (ntag215, 3), (triple_uid_card, 4), (suica, 3)])
def test_card_answer_time_per_cascade_level(make, rf_ms):
    c = Chip()
    c.emu.enter(make())
    data = "4a010100ffff0100" if make is suica else "4a0100"
    t, frame = c.cmd(data)
    assert frame[5:7] == b"\xd5\x4b" and frame[7] == 1
    n_in = 16 + 7 + len(H(data))
    guard = 20 if make is suica else 5  # the first list turns the field on
    assert t == pytest.approx(n_in * B + 1 + guard + rf_ms + len(frame) * B, abs=0.5)


def test_field_on_time_for_the_duty_cycle():
    c = Chip()
    f0 = c.emu.field_ms()
    c.cmd("4a0100")
    on = c.emu.field_ms()
    assert on > f0
    c.cmd("1610")  # PowerDown: the field goes off with the answer
    assert c.emu.field_since is None
    off = c.emu.field_ms()
    c.clock.advance(500)
    assert c.emu.field_ms() == off
    c.cmd("320101")  # RF on by RFConfiguration: on until switched off
    c.clock.advance(100)
    assert c.emu.field_ms() >= off + 100


def test_in_auto_poll_finds_a_mifare_and_a_suica():
    c = Chip()
    c.emu.enter(mifare_classic())
    # PollNr 1, Period 1 (150 ms), types 10 (MIFARE) and 11 (FeliCa 212)
    t, frame = c.cmd("6001011011")
    # NbTg 1, type 10, AutoPollTargetData length 9: Tg, SENS_RES, SEL_RES, NFCIDLength, NFCID
    assert frame == wrap(0xD5, H("61" "01" "10" "09" "0100040804deadbeef"))
    c2 = Chip()
    c2.emu.enter(suica())
    t, frame = c2.cmd("6001011011")
    # type 11, length 19: Tg, POL_RES length 12 (polled with request code 00), 01, IDm, PMm
    assert frame[5:9] == H("d5610111") and frame[9] == 19 and frame[10:13] == H("011201")
    assert frame[13:21] == H("01014e1f2d3c4b5a")


def test_in_auto_poll_no_card_and_cards_entering_late():
    c = Chip()
    t, frame = c.cmd("6002011011")  # 2 rounds of 2 types, a 150 ms slot each, nothing there
    assert frame == wrap(0xD5, H("6100"))
    assert 600 <= t <= 620
    # endless; a MIFARE entering 40 ms into the type A slot is found at the next try
    c.uart.write(wrap(0xD4, H("60ff011011")))
    t0 = c.clock.t
    c.clock.advance(40)
    c.emu.enter(mifare_classic())
    want = wrap(0xD5, H("61" "01" "10" "09" "0100040804deadbeef"))
    got = b""
    while not got.endswith(want) and c.clock.t - t0 < 400:
        c.clock.advance(0.5)
        got += c.uart.read(512)
    assert got.endswith(want) and 40 < c.clock.t - t0 < 50
    assert c.emu.field_since is not None  # the field stays on through InAutoPoll
    # a Suica entering during the type A slot waits for the FeliCa slot, 150 ms after the start
    c.emu.leave(c.emu.field[0])
    c.uart.write(wrap(0xD4, H("60ff011011")))
    t0 = c.clock.t
    c.clock.advance(20)
    c.emu.enter(suica())
    got = b""
    while b"\xd5\x61\x01\x11" not in got and c.clock.t - t0 < 400:
        c.clock.advance(0.5)
        got += c.uart.read(512)
    assert b"\xd5\x61\x01\x11" in got and 150 < c.clock.t - t0 < 165


def test_in_communicate_thru_and_in_deselect():
    c = Chip()
    assert c.cmd("420a")[1] == wrap(0xD5, H("4301"))  # nothing answers: time-out
    assert c.cmd("4400")[1] == wrap(0xD5, H("4500"))
    card = ntag215()
    c.emu.enter(card)
    c.cmd("4a0100")
    assert c.cmd("423000")[1] == wrap(0xD5, H("4300") + bytes(card.memory[0:16]))  # NTAG READ page 0
    assert c.cmd("4402")[1] == wrap(0xD5, H("4527"))


def test_type_b_and_jewel_lists_answer_no_target():
    c = Chip()
    assert c.cmd("4a010300")[1] == wrap(0xD5, H("4b00"))  # 106 kbps type B, AFI 00 (libnfc)
    assert c.cmd("4a0104")[1] == wrap(0xD5, H("4b00"))  # Innovision Jewel
    assert c.uart.write(wrap(0xD4, H("4a0105"))) and c.clock.advance(20) is None
    assert c.uart.read(64) == ACK + H("0000ff01ff7f8100")  # BrTy 05: refused, application error


def test_felica_answers_polling_and_request_response_through_in_data_exchange():
    # nfcpy and libnfc check a FeliCa card is still there with Request Response (04 + IDm)
    c = Chip()
    c.emu.enter(suica())
    c.cmd("4a010100ffff0100")
    idm = "01014e1f2d3c4b5a"
    assert c.cmd("4001" "0a04" + idm)[1] == wrap(0xD5, H("4100" "0b05" + idm + "00"))
    got = c.cmd("4001" "0600ffff0100")[1]  # Polling, request code 01
    assert got == wrap(0xD5, H("4100" "14" "01" + idm + "100b4b428485d0ff" "0003"))
    assert c.cmd("4001" "0a04" + "ff" * 8)[1] == wrap(0xD5, H("4101"))  # another IDm: no answer


def test_iso_dep_over_in_communicate_thru():
    # nfcpy runs ISO-DEP itself: RATS, then I-blocks, through InCommunicateThru
    c = Chip()
    c.emu.enter(phone(lambda apdu: b"\x90\x00"))
    c.cmd("4a0100")
    assert c.cmd("42e080")[1] == wrap(0xD5, H("4300" "0578807002"))  # RATS -> ATS
    assert c.cmd("4202" "00a4040007f0010203040506")[1] == wrap(0xD5, H("4300" "02" "9000"))
    assert c.cmd("42c2")[1] == wrap(0xD5, H("4300c2"))  # S(DESELECT)


def test_next_event_is_the_first_whole_ms_the_host_can_see_something_new():
    # the virtual board wakes at these instants while a reader command runs: it must never be later
    # than the first ms a host polling every ms would see a new byte, and nothing may be seen before
    c = Chip(retries=1)
    c.emu.enter(mifare_classic())
    c.clock.t = 100
    assert c.emu.next_event() is None  # idle, nothing pending
    c.uart.write(b"\x55\x55" + bytes(14) + wrap(0xD4, H("4a0100")))
    seen = []
    while len(seen) < 2:
        e = c.emu.next_event()
        assert e is not None and e == int(e) and e > c.clock.t
        while c.clock.t < e - 1:  # every ms before it: nothing new on the line
            c.clock.advance(1)
            assert c.uart.in_waiting == 0, c.clock.t
        c.clock.advance(e - c.clock.t)
        if c.uart.in_waiting:
            seen.append((c.clock.t, c.uart.read(512)))
    assert seen[0][1] == ACK and seen[1][1].startswith(b"\x00\x00\xff") and seen[1][1][5:7] == H("d54b")
    assert c.emu.next_event() is None
