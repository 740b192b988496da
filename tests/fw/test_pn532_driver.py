# PN532 command engine over fake HSU / I2C / SPI links: wake and LowVbat order, each command's frame
# and parsing (4/7/10-byte UIDs, ATS, FeliCa with system code, InDataExchange status and chaining
# bits), stage timeouts of a silent reader, NACK recovery, noise, truncation, and no allocation in
# steady-state polling.
from fakes import FakePin, alloc_bytes
from fwcheck import raises
from pn532fakes import ACK, FakeChip, FakeI2c, FakeSpi, FakeUart, app_error, chip_frame
from drivers import pn532 as P

NACK = b"\x00\x00\xff\xff\x00\x00"
SAM = chip_frame(0x15)
FW = chip_frame(0x03, b"\x32\x01\x06\x07")
RF = chip_frame(0x33)
NONE = chip_frame(0x4B, b"\x00")
WAKE = b"\x55\x55" + bytes(14)


def hexb(s):
    return bytes(int(x, 16) for x in s.split())


def list_a(uid, sens=b"\x00\x04", sak=0x08, ats=b"", tg=1):
    return chip_frame(0x4B, bytes([1, tg]) + sens + bytes([sak, len(uid)]) + uid + ats)


def list_f(idm, pmm, sc=b""):
    body = b"\x01" + idm + pmm + sc
    return chip_frame(0x4B, bytes([1, 1, len(body) + 1]) + body)


def run(drv, start, t=0, limit=5000):
    # start(now) -> status; poll every ms until not BUSY; returns (status, time it ended)
    st = start(t)
    n = 0
    while st == P.BUSY:
        t += 1
        n += 1
        assert n < limit, "never finished"
        st = drv.poll(t)
    return st, t


def hsu(replies=None):
    chip = FakeChip(replies)
    uart = FakeUart(chip)
    drv = P.PN532(P.HsuLink(uart))
    return drv, chip, uart


def ready(replies=None):
    # an HSU driver past SAMConfiguration, with the written log cleared
    r = {0x14: SAM}
    if replies:
        for k in replies:
            r[k] = replies[k]
    drv, chip, uart = hsu(r)
    assert run(drv, drv.start_sam_configuration)[0] == P.DONE
    uart.written = bytearray()
    return drv, chip, uart


def test_sam_configuration_first_with_hsu_wake():
    drv, chip, uart = hsu({0x14: SAM, 0x02: FW})
    assert drv.start_firmware_version(0) == P.E_ORDER
    assert uart.written == b"" and not drv.busy
    st, t = run(drv, drv.start_sam_configuration)
    assert st == P.DONE and drv.configured
    assert bytes(uart.written) == WAKE + hexb("00 00 FF 05 FB D4 14 01 14 01 02 00")
    assert chip.wakes == 1
    uart.written = bytearray()
    assert run(drv, drv.start_firmware_version)[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 02 FE D4 02 2A 00")  # awake: no preamble
    assert (drv.ic, drv.ver, drv.rev, drv.support) == (0x32, 1, 6, 7)
    assert chip.cmds == [0x14, 0x02]


def test_firmware_version_too_short_is_a_protocol_error():
    drv, chip, uart = ready({0x02: chip_frame(0x03, b"\x32\x01")})
    assert run(drv, drv.start_firmware_version)[0] == P.E_PROTO


def test_max_retries_and_set_parameters_frames():
    drv, chip, uart = ready({0x32: RF, 0x12: chip_frame(0x13)})
    assert run(drv, drv.start_max_retries)[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 06 FA D4 32 05 FF 01 01 F4 00")
    uart.written = bytearray()
    assert run(drv, lambda t: drv.start_set_parameters(t, 0x14))[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 03 FD D4 12 14 06 00")


def test_list_a_uids_of_4_7_10_bytes():
    cases = ((hexb("DE AD BE EF"), b"\x00\x04", 0x08),
             (hexb("04 51 2A 1A 7C 5D 80"), b"\x00\x44", 0x00),
             (hexb("01 02 03 04 05 06 07 08 09 0A"), b"\x00\x84", 0x00))
    for uid, sens, sak in cases:
        drv, chip, uart = ready({0x4A: list_a(uid, sens, sak)})
        assert run(drv, drv.start_list_a)[0] == P.DONE
        assert bytes(uart.written) == hexb("00 00 FF 04 FC D4 4A 01 00 E1 00")
        assert drv.nbtg == 1 and drv.tg == 1 and drv.kind == P.KIND_A
        assert drv.uid_len == len(uid) and drv.uid_bytes() == uid
        assert drv.sens_res == (sens[0] << 8 | sens[1]) and drv.sak == sak
        assert drv.ats_len == 0 and drv.sys_code == -1


def test_list_a_iso_dep_with_ats():
    ats = hexb("05 78 80 70 02")
    drv, chip, uart = ready({0x4A: list_a(hexb("08 12 34 56"), sak=0x20, ats=ats)})
    assert run(drv, drv.start_list_a)[0] == P.DONE
    assert drv.sak == 0x20 and drv.ats_len == 5 and drv.ats_bytes() == ats
    assert drv.uid_bytes() == hexb("08 12 34 56")
    # ISO14443-4 SAK but no ATS bytes (AutoRATS off): fine, no ATS
    drv, chip, uart = ready({0x4A: list_a(hexb("08 12 34 56"), sak=0x20)})
    assert run(drv, drv.start_list_a)[0] == P.DONE and drv.ats_len == 0
    # bytes after a non-ISO14443-4 target that nothing accounts for: a damaged answer, asked for
    # again (NACK) and in the end refused; no UID is reported from it
    drv, chip, uart = ready({0x4A: list_a(hexb("DE AD BE EF"), sak=0x08, ats=ats)})
    assert run(drv, drv.start_list_a)[0] == P.E_PROTO
    assert drv.nacks == 3 and drv.uid_len == 0 and drv.kind == P.KIND_NONE


def test_list_no_card_and_second_target_ignored():
    drv, chip, uart = ready({0x4A: NONE})
    assert run(drv, drv.start_list_a)[0] == P.DONE
    assert drv.nbtg == 0 and drv.kind == P.KIND_NONE and drv.uid_len == 0
    two = chip_frame(0x4B, hexb("02 01 00 04 08 04 DE AD BE EF 02 00 44 00 07 04 01 02 03 04 05 06"))
    drv, chip, uart = ready({0x4A: two})
    assert run(drv, lambda t: drv.start_list_a(t, max_tg=2))[0] == P.DONE
    assert chip.frames[-1][7] == 2  # MaxTg
    assert drv.nbtg == 2 and drv.uid_bytes() == hexb("DE AD BE EF")


def test_list_malformed_responses():
    bad = (chip_frame(0x4B, hexb("01 01 00 04 08 05 01 02 03 04 05")),  # UID length 5
           chip_frame(0x4B, hexb("01 01 00 04 08 07 01 02 03")),  # UID cut short
           chip_frame(0x4B, hexb("01 01 00")),  # target cut short
           chip_frame(0x4B, b""),  # no NbTg
           list_a(hexb("08 12 34 56"), sak=0x20, ats=hexb("09 78 80")))  # TL beyond the data
    for frame in bad:
        drv, chip, uart = ready({0x4A: frame})
        assert run(drv, drv.start_list_a)[0] == P.E_PROTO, frame
        assert drv.kind == P.KIND_NONE


def test_felica_with_system_code():
    idm = hexb("01 2E 4C 8A 9B 12 34 56")
    pmm = hexb("10 0B 4B 42 84 85 D0 FF")
    drv, chip, uart = ready({0x4A: list_f(idm, pmm, b"\x00\x03")})
    assert run(drv, lambda t: drv.start_list_felica(t, 0x0003))[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 09 F7 D4 4A 01 01 00 00 03 01 00 DC 00")
    assert drv.kind == P.KIND_FELICA and drv.nbtg == 1 and drv.tg == 1
    assert bytes(drv.idm) == idm and bytes(drv.pmm) == pmm and drv.sys_code == 0x0003
    assert drv.uid_len == 0


def test_felica_without_system_code_and_424():
    idm = hexb("01 2E 4C 8A 9B 12 34 56")
    pmm = hexb("10 0B 4B 42 84 85 D0 FF")
    drv, chip, uart = ready({0x4A: list_f(idm, pmm)})
    assert run(drv, lambda t: drv.start_list_felica(t, 0xFFFF, 0, True))[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 09 F7 D4 4A 01 02 00 FF FF 00 00 E1 00")
    assert drv.sys_code == -1 and bytes(drv.idm) == idm
    # RC 02 (communication performance) also answers 0x14 bytes: those are not a system code
    drv, chip, uart = ready({0x4A: list_f(idm, pmm, b"\x00\x83")})
    assert run(drv, lambda t: drv.start_list_felica(t, 0xFFFF, 2))[0] == P.DONE
    assert drv.sys_code == -1
    drv, chip, uart = ready({0x4A: NONE})
    assert run(drv, lambda t: drv.start_list_felica(t, 0xFE00))[0] == P.DONE
    assert drv.nbtg == 0 and drv.kind == P.KIND_NONE


def test_felica_malformed():
    body = b"\x01" + bytes(16)
    for frame in (chip_frame(0x4B, bytes([1, 1, 0x13]) + body + b"\x00"),  # bad POL_RES length
                  chip_frame(0x4B, bytes([1, 1, 0x12]) + body[:10]),  # cut short
                  chip_frame(0x4B, bytes([1, 1, 0x12, 0x02]) + bytes(16))):  # not a polling response
        drv, chip, uart = ready({0x4A: frame})
        assert run(drv, lambda t: drv.start_list_felica(t))[0] == P.E_PROTO


def test_data_exchange():
    drv, chip, uart = ready({0x40: chip_frame(0x41, hexb("00 6F 00 90 00"))})
    apdu = hexb("00 A4 04 00")
    assert run(drv, lambda t: drv.start_exchange(t, 1, apdu))[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 07 F9 D4 40 01 00 A4 04 00 43 00")
    assert drv.status == 0 and not drv.more
    assert drv.data_bytes() == hexb("6F 00 90 00")
    # a prefix of a longer buffer, with the MI bit (more to send)
    uart.written = bytearray()
    assert run(drv, lambda t: drv.start_exchange(t, 1, apdu + b"\xff\xff", 4, True))[0] == P.DONE
    assert bytes(uart.written)[6:12] == hexb("40 41 00 A4 04 00")


def test_data_exchange_status_and_chaining_bits():
    drv, chip, uart = ready({0x40: chip_frame(0x41, b"\x01")})
    assert run(drv, lambda t: drv.start_exchange(t, 1, b"\x30\x04"))[0] == P.E_STATUS
    assert drv.status == 0x01
    drv, chip, uart = ready({0x40: chip_frame(0x41, b"\x40" + bytes(range(200)))})
    assert run(drv, lambda t: drv.start_exchange(t, 1, b"\x00"))[0] == P.DONE
    assert drv.more and drv.status == 0 and drv.data_bytes() == bytes(range(200))
    drv, chip, uart = ready({0x40: chip_frame(0x41, b"\x6B")})  # 0x40 | 0x2B
    assert run(drv, lambda t: drv.start_exchange(t, 1, b"\x00"))[0] == P.E_STATUS
    assert drv.status == 0x2B and drv.more


def test_data_exchange_extended_frames():
    big = bytes((i * 3) & 0xFF for i in range(P.MAX_DATA))
    drv, chip, uart = ready({0x40: chip_frame(0x41, b"\x00" + big)})
    assert run(drv, lambda t: drv.start_exchange(t, 1, big))[0] == P.DONE
    w = bytes(uart.written)
    ln = 1 + 1 + 1 + len(big)
    assert w[:8] == bytes([0, 0, 0xFF, 0xFF, 0xFF, ln >> 8, ln & 0xFF, (-(ln >> 8) - (ln & 0xFF)) & 0xFF])
    assert w[8:11] == b"\xd4\x40\x01" and w[11:-2] == big
    assert drv.data_bytes() == big
    raises(ValueError, drv.start_exchange, 0, 1, bytes(P.MAX_DATA + 1))


def test_release_and_power_down():
    drv, chip, uart = ready({0x52: chip_frame(0x53, b"\x00"), 0x16: chip_frame(0x17, b"\x00"),
                             0x02: FW})
    assert run(drv, drv.start_release)[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 03 FD D4 52 00 DA 00")
    uart.written = bytearray()
    assert run(drv, drv.start_power_down)[0] == P.DONE
    assert bytes(uart.written) == hexb("00 00 FF 03 FD D4 16 10 06 00")  # HSU wake enabled
    assert not drv.awake
    uart.written = bytearray()
    assert run(drv, drv.start_firmware_version)[0] == P.DONE
    assert bytes(uart.written).startswith(WAKE)
    drv, chip, uart = ready({0x52: chip_frame(0x53, b"\x27")})
    assert run(drv, lambda t: drv.start_release(t, 1))[0] == P.E_STATUS and drv.status == 0x27


def test_silent_reader_times_out_never_hangs():
    drv, chip, uart = ready({0x02: FW})
    chip.silent = True
    st, t = run(drv, drv.start_firmware_version, t=1000)
    assert st == P.E_NO_ACK and t == 1000 + 30
    assert not drv.configured and not drv.awake
    assert drv.poll(t + 1) == P.E_NO_ACK  # sticky while idle
    assert drv.start_firmware_version(t) == P.E_ORDER  # LowVbat may be back: SAM first
    chip.silent = False
    uart.written = bytearray()
    assert run(drv, drv.start_sam_configuration, t=2000)[0] == P.DONE
    assert bytes(uart.written).startswith(WAKE)
    # a custom ACK deadline
    quiet = FakeChip({})
    quiet.silent = True
    drv2 = P.PN532(P.HsuLink(FakeUart(quiet)), ack_ms=15)
    assert run(drv2, drv2.start_sam_configuration) == (P.E_NO_ACK, 15)


def test_acked_but_no_response_times_out_and_aborts():
    drv, chip, uart = ready({})
    st, t = run(drv, lambda t: drv.start_list_a(t, timeout_ms=200), t=50)
    assert st == P.E_TIMEOUT and t == 51 + 200  # the response clock starts at the ACK
    assert chip.aborts == 1 and bytes(uart.written).endswith(ACK)
    assert drv.configured  # the chip answered: still configured


def test_corrupt_response_is_asked_again():
    bad = bytearray(FW)
    bad[-2] ^= 0x01
    drv, chip, uart = ready({0x02: [bytes(bad), FW]})
    assert run(drv, drv.start_firmware_version)[0] == P.DONE
    assert chip.nacks == 1 and drv.nacks == 1 and drv.ic == 0x32
    lcs = bytearray(FW)
    lcs[4] ^= 0x10
    drv, chip, uart = ready({0x02: [bytes(lcs), FW]})
    assert run(drv, drv.start_firmware_version)[0] == P.DONE and chip.nacks >= 1


def test_persistent_corruption_gives_checksum_error():
    bad = bytearray(FW)
    bad[7] ^= 0x01
    drv, chip, uart = ready({0x02: bytes(bad)})
    st, t = run(drv, drv.start_firmware_version)
    assert st == P.E_CHECKSUM and chip.nacks == 3


def test_noise_around_ack_and_response():
    drv, chip, uart = ready({0x02: FW})
    uart.hold = True
    assert drv.start_firmware_version(0) == P.BUSY
    uart.push(b"\x55\xff\x00\x13\x00\xff")
    uart.hold = False
    st = P.BUSY
    t = 0
    while st == P.BUSY and t < 500:
        t += 1
        st = drv.poll(t)
    assert st == P.DONE and drv.ver == 1


def test_dropped_bytes_gap_then_resend():
    cut = FW[:10]  # the line drops the end: the frame never completes
    drv, chip, uart = ready({0x02: [cut, FW]})
    st, t = run(drv, drv.start_firmware_version)
    assert st == P.DONE and chip.nacks == 1
    assert 15 <= t < 30  # after the inter-byte gap, long before the response deadline
    # a byte lost in the middle: the DCS lands on the wrong byte and fails at once
    drv, chip, uart = ready({0x02: [FW[:7] + FW[8:], FW]})
    st, t = run(drv, drv.start_firmware_version)
    assert st == P.DONE and chip.nacks == 1 and t < 5


def test_frame_without_start_code_is_asked_again():
    lost = FW[:2] + FW[3:]  # 00 00 06 FA D5 ...: no 00 FF, the frame reads as noise
    drv, chip, uart = ready({0x02: [lost, FW]})
    st, t = run(drv, drv.start_firmware_version)
    assert st == P.DONE and chip.nacks == 1 and 15 <= t < 30  # after a quiet gap
    chip = FakeChip({0x14: SAM, 0x02: [lost, FW]})
    drv = P.PN532(P.I2cLink(FakeI2c(chip)))
    assert run(drv, drv.start_sam_configuration)[0] == P.DONE
    st, t = run(drv, drv.start_firmware_version)
    assert st == P.DONE and chip.nacks == 1 and t < 10  # at once: one read is one whole frame


def test_application_error_frame():
    drv, chip, uart = ready({0x02: app_error()})
    assert run(drv, drv.start_firmware_version)[0] == P.E_APP


def test_stray_frame_is_ignored():
    drv, chip, uart = ready({0x02: chip_frame(0x4B, b"\x00") + chip_frame(0x03, b"\x01\x02", tfi=0xD4) + FW})
    assert run(drv, drv.start_firmware_version)[0] == P.DONE
    assert drv.stray == 2 and drv.ic == 0x32


def test_response_without_ack_is_accepted():
    drv, chip, uart = ready({0x02: FW})
    chip.no_ack = True
    assert run(drv, drv.start_firmware_version)[0] == P.DONE


def test_nack_from_chip_resends_command():
    drv, chip, uart = ready({0x02: [NACK, FW]})
    chip.no_ack = True
    assert run(drv, drv.start_firmware_version)[0] == P.DONE
    assert chip.cmds[-2:] == [0x02, 0x02]


def test_one_command_at_a_time_and_abort():
    drv, chip, uart = ready({})
    assert drv.start_list_a(0) == P.BUSY
    assert drv.start_firmware_version(0) == P.E_INUSE
    assert drv.poll(1) == P.BUSY and drv.busy
    drv.abort()
    assert not drv.busy and drv.poll(2) == P.E_ABORTED and chip.aborts == 1
    drv.abort()  # idle: nothing sent
    assert chip.aborts == 1


def test_stale_bytes_are_dropped_at_command_start():
    drv, chip, uart = ready({0x02: FW})
    uart.push(chip_frame(0x03, b"\x99\x99\x99\x99"))  # left over from an aborted command
    assert run(drv, drv.start_firmware_version)[0] == P.DONE and drv.ic == 0x32


def test_ticks_wraparound():
    drv, chip, uart = ready({})
    chip.silent = True
    t0 = (1 << 30) - 10
    st = drv.start_firmware_version(t0)
    t = t0
    n = 0
    while st == P.BUSY:
        n += 1
        t = (t + 1) & ((1 << 30) - 1)
        st = drv.poll(t)
        assert n < 100
    assert st == P.E_NO_ACK and n == 30


def test_i2c_flow_with_busy_nacks():
    chip = FakeChip({0x14: SAM, 0x02: FW})
    bus = FakeI2c(chip)
    drv = P.PN532(P.I2cLink(bus))
    bus.busy = 2  # the chip NACKs its address twice (waking up)
    st, t = run(drv, drv.start_sam_configuration)
    assert st == P.DONE and chip.cmds == [0x14]
    bus.read_sizes = []
    assert run(drv, drv.start_firmware_version)[0] == P.DONE
    assert (drv.ic, drv.ver, drv.rev, drv.support) == (0x32, 1, 6, 7)
    assert bus.read_sizes[:2] == [1, 7]  # status, then status + ACK
    assert chip.wakes == 0


def test_i2c_read_errors_are_tolerated():
    chip = FakeChip({0x14: SAM})
    bus = FakeI2c(chip)
    drv = P.PN532(P.I2cLink(bus))
    assert drv.start_sam_configuration(0) == P.BUSY
    bus.busy = 5
    st = P.BUSY
    t = 0
    while st == P.BUSY and t < 100:
        t += 1
        st = drv.poll(t)
    assert st == P.DONE


def test_i2c_absent_reader():
    bus = FakeI2c(FakeChip({}))
    bus.absent = True
    drv = P.PN532(P.I2cLink(bus))
    assert run(drv, drv.start_sam_configuration) == (P.E_NO_ACK, 30)


def test_i2c_response_longer_than_the_read():
    ats = bytes([80]) + bytes(range(79))
    chip = FakeChip({0x14: SAM, 0x4A: list_a(hexb("08 01 02 03"), sak=0x20, ats=ats)})
    bus = FakeI2c(chip)
    drv = P.PN532(P.I2cLink(bus))
    assert run(drv, drv.start_sam_configuration)[0] == P.DONE
    assert run(drv, drv.start_list_a)[0] == P.DONE
    assert chip.nacks == 1 and drv.ats_bytes() == ats


def test_spi_flow_bit_reversed():
    cs = FakePin(1)
    chip = FakeChip({0x14: SAM, 0x02: FW, 0x4A: list_a(hexb("04 51 2A 1A 7C 5D 80"), b"\x00\x44", 0)})
    spi = FakeSpi(chip, cs)
    drv = P.PN532(P.SpiLink(spi, cs))
    assert cs.level == 1
    assert run(drv, drv.start_sam_configuration)[0] == P.DONE
    assert run(drv, drv.start_firmware_version)[0] == P.DONE and drv.ic == 0x32
    assert run(drv, drv.start_list_a)[0] == P.DONE and drv.uid_bytes() == hexb("04 51 2A 1A 7C 5D 80")
    assert chip.frames[1] == hexb("00 00 FF 02 FE D4 02 2A 00")
    assert spi.errors == [] and cs.level == 1
    link = P.SpiLink(spi, cs)
    assert link.rev[0x01] == 0x80 and link.rev[0x02] == 0x40 and link.rev[0x03] == 0xC0
    assert link.rev[0xD4] == 0x2B and P.SpiLink(spi, cs, reverse=False).rev[0xD4] == 0xD4


def test_poll_is_bounded_under_a_flood_of_noise():
    drv, chip, uart = ready({})
    uart.buf = bytearray(8192)
    assert drv.start_firmware_version(0) == P.BUSY
    junk = bytes((i * 37 + 11) & 0xFF or 1 for i in range(200))
    for t in range(1, 30):
        uart.push(junk)
        before = uart.reads
        assert drv.poll(t) == P.BUSY
        assert uart.reads - before <= 1
    assert run(drv, lambda t: P.BUSY, t=30)[0] == P.E_TIMEOUT


def _steady(drv, rounds):
    # poll for a card `rounds` times, like the polling policy will
    out = [0, 0]

    def loop():
        t = 1000
        done = 0
        for _ in range(rounds):
            st = drv.start_list_a(t)
            while st == P.BUSY:
                t += 1
                st = drv.poll(t)
            if st == P.DONE and drv.nbtg == 0:
                done += 1
        out[0] = done
    return out, loop


def test_steady_state_polling_allocates_nothing_hsu():
    chip = FakeChip({0x14: SAM, 0x4A: NONE}, record=False)
    uart = FakeUart(chip, record=False)
    drv = P.PN532(P.HsuLink(uart))
    assert run(drv, drv.start_sam_configuration)[0] == P.DONE
    out, loop = _steady(drv, 1)
    loop()  # warm up: the frame's memoryview is made once
    out, loop = _steady(drv, 20)
    used = alloc_bytes(loop)
    assert out[0] == 20
    assert used is None or used == 0, used


def test_steady_state_polling_allocates_nothing_i2c():
    chip = FakeChip({0x14: SAM, 0x4A: NONE}, record=False)
    bus = FakeI2c(chip)
    bus.record = False
    drv = P.PN532(P.I2cLink(bus))
    assert run(drv, drv.start_sam_configuration)[0] == P.DONE
    out, loop = _steady(drv, 1)
    loop()
    out, loop = _steady(drv, 20)
    used = alloc_bytes(loop)
    assert out[0] == 20
    assert used is None or used == 0, used


def _poll_until_state_changes(drv, t, until):
    # poll every ms from t; return the first time poll() is not BUSY (or until)
    while t < until:
        t += 1
        if drv.poll(t) != P.BUSY:
            return t
    return None


def test_next_deadline_is_when_the_engine_acts_without_new_bytes():
    # a silent chip: nothing changes until the ACK deadline, and it acts exactly then
    drv, chip, uart = ready({0x02: FW})
    assert drv.next_deadline() is None  # idle
    chip.silent = True
    assert drv.start_firmware_version(1000) == P.BUSY
    assert drv.next_deadline() == 1000 + drv.ack_ms
    assert _poll_until_state_changes(drv, 1000, 2000) == 1030
    assert drv.next_deadline() is None
    # ACKed, no response: the response deadline counts from the ACK
    drv, chip, uart = ready({})
    assert drv.start_list_a(50, timeout_ms=200) == P.BUSY
    assert drv.poll(51) == P.BUSY and drv.next_deadline() == 251
    assert _poll_until_state_changes(drv, 51, 1000) == 251
    # a frame cut short: the quiet gap after its last byte is the next deadline
    drv, chip, uart = ready({0x02: [FW[:10], FW]})
    assert drv.start_firmware_version(0) == P.BUSY
    t = 0
    while not (drv.parser.busy() and drv.next_deadline() is not None and drv.next_deadline() < 100):
        t += 1
        assert drv.poll(t) == P.BUSY and t < 50
    gap = drv.next_deadline()
    assert t < gap <= t + 15
    assert _poll_until_state_changes(drv, t, gap - 1) is None  # nothing happens before it ...
    drv.poll(gap)  # ... at it the cut frame is given up and asked for again (NACK)
    assert chip.nacks == 1
