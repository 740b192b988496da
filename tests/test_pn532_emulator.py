"""The firmware PN532 driver against the CPython emulator (sim/pn532.py), over the virtual UART and
I2C bus: every card kind, field entry and exit, MaxRetries semantics, LowVbat, faults (noise, dropped
bytes, bad checksums, truncation, muted frames, a silent reader) and hypothesis fuzzing of the frame
parser and of the driver's receive path. Two independent frame implementations meet here."""
import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings, strategies as st

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim import pn532 as emu_mod
from doorkit.sim.pn532 import (ACK, Clock, Felica, PN532Emulator, TypeA, mifare_classic, ntag215, phone,
                               suica, triple_uid_card, wrap)
from drivers import pn532 as P

LINKS = ("uart", "i2c")


class Rig:
    """Emulator + driver on one link, stepped in virtual milliseconds."""

    def __init__(self, link="uart", retries=1, **kw):
        self.clock = Clock(1000)
        self.emu = PN532Emulator(self.clock, **kw)
        self.link = P.HsuLink(self.emu.uart) if link == "uart" else P.I2cLink(self.emu.i2c)
        self.drv = P.PN532(self.link)
        assert self.run(self.drv.start_sam_configuration) == P.DONE
        if retries is not None:
            assert self.run(lambda t: self.drv.start_max_retries(t, passive=retries)) == P.DONE

    def run(self, start, limit=20000):
        st = start(self.clock.t)
        n = 0
        while st == P.BUSY:
            self.clock.advance(1)
            n += 1
            assert n < limit, "never finished"
            st = self.drv.poll(self.clock.t)
        return st

    def list_a(self, **kw):
        return self.run(lambda t: self.drv.start_list_a(t, **kw))

    def list_f(self, *a, **kw):
        return self.run(lambda t: self.drv.start_list_felica(t, *a, **kw))

    def exchange(self, data, tg=1, **kw):
        return self.run(lambda t: self.drv.start_exchange(t, tg, data, **kw))


@pytest.fixture(params=LINKS)
def rig(request):
    return Rig(request.param)


def test_firmware_version(rig):
    assert rig.run(rig.drv.start_firmware_version) == P.DONE
    d = rig.drv
    assert (d.ic, d.ver, d.rev, d.support) == (0x32, 0x01, 0x06, 0x07)
    assert rig.emu.commands[:3] == [0x14, 0x32, 0x02]


@pytest.mark.parametrize("make,uid_len,sens,sak", [(mifare_classic, 4, 0x0004, 0x08), (ntag215, 7, 0x0044, 0x00),
                                                   (triple_uid_card, 10, 0x0084, 0x00)])
def test_type_a_cards(rig, make, uid_len, sens, sak):
    card = make()
    rig.emu.enter(card)
    assert rig.list_a() == P.DONE
    d = rig.drv
    assert d.nbtg == 1 and d.kind == P.KIND_A and d.tg == 1
    assert d.uid_len == uid_len and d.uid_bytes() == card.uid
    assert d.sens_res == sens and d.sak == sak and d.ats_len == 0


def test_no_card_finite_retries_answers_nbtg_0(rig):
    t0 = rig.clock.t
    assert rig.list_a() == P.DONE
    assert rig.drv.nbtg == 0 and rig.drv.kind == P.KIND_NONE
    assert rig.clock.t - t0 < 50  # 2 tries of 10 ms, not the 300 ms deadline
    assert rig.list_f(0xFFFF) == P.DONE and rig.drv.nbtg == 0


def test_cards_enter_and_leave(rig):
    card = ntag215()
    assert rig.list_a() == P.DONE and rig.drv.nbtg == 0
    rig.emu.enter(card)
    assert rig.list_a() == P.DONE and rig.drv.uid_bytes() == card.uid
    rig.emu.leave(card)
    assert rig.list_a() == P.DONE and rig.drv.nbtg == 0


def test_infinite_retries_waits_then_times_out_and_aborts():
    r = Rig("uart", retries=0xFF)
    assert r.run(lambda t: r.drv.start_list_a(t, timeout_ms=120)) == P.E_TIMEOUT
    assert r.emu.host_acks == 1 and r.emu.running is None
    # with a card arriving while it waits, the answer comes when it enters
    card = mifare_classic()
    st = r.drv.start_list_a(r.clock.t, timeout_ms=500)
    for _ in range(60):
        r.clock.advance(1)
        st = r.drv.poll(r.clock.t)
    assert st == P.BUSY
    r.emu.enter(card)
    assert r.run(lambda t: P.BUSY) == P.DONE and r.drv.uid_bytes() == card.uid


def test_two_targets(rig):
    a, b = mifare_classic(), ntag215()
    rig.emu.enter(a)
    rig.emu.enter(b)
    assert rig.list_a(max_tg=2) == P.DONE
    assert rig.drv.nbtg == 2 and rig.drv.uid_bytes() == a.uid
    assert rig.emu.targets == {1: a, 2: b}


def test_felica_suica_system_codes(rig):
    card = suica()
    rig.emu.enter(card)
    d = rig.drv
    assert rig.list_f(0x0003) == P.DONE
    assert d.kind == P.KIND_FELICA and bytes(d.idm) == card.idm and d.sys_code == 0x0003
    assert bytes(d.pmm) == card.pmm and d.uid_len == 0
    assert rig.list_f(0xFE00) == P.DONE
    assert d.sys_code == 0xFE00 and bytes(d.idm) == card.idm_for(1) and d.idm[0] >> 4 == 1
    assert rig.list_f(0xFFFF) == P.DONE and d.sys_code == 0x0003  # wildcard: the first system
    assert rig.list_f(0xFEFF) == P.DONE and d.sys_code == 0xFE00  # FF byte: wildcard
    assert rig.list_f(0x12FC) == P.DONE and d.nbtg == 0  # no NDEF system: no answer
    assert rig.list_f(0x0003, 0) == P.DONE and d.nbtg == 1 and d.sys_code == -1  # RC 00
    assert rig.list_f(0x0003, 1, True) == P.DONE and d.nbtg == 0  # Suica-like: 212 kbps only
    assert rig.list_a() == P.DONE and d.nbtg == 0  # not a type A card


def test_felica_at_424(rig):
    card = Felica(bytes.fromhex("012e4c8a9b123456"), bytes(8), systems=(0x12FC,))
    rig.emu.enter(card)
    assert rig.list_f(0x12FC, 1, True) == P.DONE
    assert rig.drv.sys_code == 0x12FC and bytes(rig.drv.idm) == card.idm


def test_phone_iso_dep_apdus(rig):
    seen = []

    def hce(apdu):
        seen.append(apdu)
        if apdu[:2] == b"\x00\xa4":
            return b"\x90\x00"
        return b"\x01\x02\x03\x90\x00"

    ph = phone(hce)
    rig.emu.enter(ph)
    d = rig.drv
    assert rig.list_a() == P.DONE
    assert d.sak == 0x20 and d.uid_len == 4 and d.uid[0] == 0x08
    assert d.ats_bytes() == bytes.fromhex("0578807002")
    select = bytes.fromhex("00a4040007f0010203040506")
    assert rig.exchange(select) == P.DONE and d.data_bytes() == b"\x90\x00"
    assert rig.exchange(b"\x80\x10\x00\x00") == P.DONE and d.data_bytes() == b"\x01\x02\x03\x90\x00"
    assert seen == [select, b"\x80\x10\x00\x00"]
    assert rig.run(rig.drv.start_release) == P.DONE
    assert rig.exchange(select) == P.E_STATUS and d.status == 0x27  # released: no such target


def test_phone_uid_is_random_per_entry():
    r = Rig("uart")
    ph = phone(lambda a: b"\x90\x00")
    uids = set()
    for _ in range(5):
        r.emu.enter(ph)
        assert r.list_a() == P.DONE
        uids.add(r.drv.uid_bytes())
        r.emu.leave(ph)
    assert len(uids) > 1 and all(u[0] == 0x08 for u in uids)


def test_card_gone_and_no_answer(rig):
    ph = phone(lambda a: None)
    rig.emu.enter(ph)
    assert rig.list_a() == P.DONE
    assert rig.exchange(b"\x00") == P.E_STATUS and rig.drv.status == 0x01  # no answer: timeout
    rig.emu.leave(ph)
    assert rig.exchange(b"\x00") == P.E_STATUS and rig.drv.status == 0x2B  # card gone


def test_long_response_is_chained(rig):
    big = bytes(range(256)) * 2
    ph = phone(lambda a: big)
    rig.emu.enter(ph)
    assert rig.list_a() == P.DONE
    d = rig.drv
    assert rig.exchange(b"\x00\xb0\x00\x00\x00") == P.DONE
    first = d.data_bytes()
    assert d.more and len(first) == P.MAX_DATA
    assert rig.exchange(b"") == P.DONE and not d.more
    assert first + d.data_bytes() == big


def test_host_chaining_and_extended_frames(rig):
    got = []
    ph = phone(lambda a: got.append(a) or b"\x90\x00")
    rig.emu.enter(ph)
    assert rig.list_a() == P.DONE
    part1, part2 = bytes(range(200)) + bytes(60), bytes(range(100))
    assert rig.exchange(part1, more=True) == P.DONE  # 260 data bytes: an extended frame
    assert rig.exchange(part2) == P.DONE
    assert got == [part1 + part2]


def test_ntag_and_classic_reads(rig):
    tag = ntag215()
    rig.emu.enter(tag)
    assert rig.list_a() == P.DONE
    assert rig.exchange(b"\x30\x00") == P.DONE
    assert rig.drv.data_bytes()[:3] == tag.uid[:3]
    rig.emu.leave(tag)
    classic = mifare_classic()
    rig.emu.enter(classic)
    assert rig.list_a() == P.DONE
    assert rig.exchange(b"\x30\x04") == P.E_STATUS and rig.drv.status == 0x14
    assert rig.exchange(b"\x60\x04" + b"\xff" * 6 + classic.uid) == P.DONE
    assert rig.exchange(b"\x30\x04") == P.DONE and rig.drv.data_bytes() == bytes(16)


def test_power_down_then_wake(rig):
    d = rig.drv
    assert rig.run(d.start_power_down) == P.DONE and not d.awake
    assert rig.emu.asleep
    assert rig.run(d.start_firmware_version) == P.DONE and d.ic == 0x32
    assert not rig.emu.asleep


def test_cold_chip_wakes_on_any_byte_power_down_needs_55():
    # docs/pn532.md "Start-up": a cold C106 (LowVbat) is woken by the first byte on HSU_RX, which is
    # lost; after PowerDown only 55 wakes it (what precedes it, and the 55, is lost)
    clk = Clock()
    emu = PN532Emulator(clk)
    uart = emu.uart
    fw = wrap(0xD4, b"\x02")
    pdown = wrap(0xD4, b"\x16\x10")
    uart.write(fw)  # no preamble at all: its first 00 is lost, 00 FF ... still parses
    clk.advance(10)
    assert uart.read(64) == ACK + wrap(0xD5, b"\x03\x32\x01\x06\x07")
    assert emu.lowvbat and emu.ignored == []
    uart.write(pdown)
    clk.advance(10)
    assert uart.read(64) == ACK + wrap(0xD5, b"\x17\x00") and emu.asleep
    uart.write(bytes(10) + fw)  # a 00 preamble does not wake it from PowerDown
    clk.advance(10)
    assert uart.in_waiting == 0 and emu.asleep
    uart.write(b"\x55\x55" + bytes(14) + fw)
    clk.advance(10)
    assert uart.read(64) == ACK + wrap(0xD5, b"\x03\x32\x01\x06\x07")


def test_strict_lowvbat_model_ignores_all_but_sam():
    clk = Clock()
    emu = PN532Emulator(clk, lowvbat="sam-first")
    uart = emu.uart
    uart.write(b"\x55\x55" + bytes(14) + wrap(0xD4, b"\x02"))
    clk.advance(10)
    assert uart.in_waiting == 0 and emu.ignored == [0x02]
    uart.write(wrap(0xD4, b"\x14\x01\x14\x01"))
    clk.advance(10)
    assert uart.read(64) == ACK + wrap(0xD5, b"\x15") and not emu.lowvbat
    uart.write(wrap(0xD4, b"\x02"))
    clk.advance(10)
    assert uart.read(64) == ACK + wrap(0xD5, b"\x03\x32\x01\x06\x07")
    with pytest.raises(ValueError):
        PN532Emulator(clk, lowvbat="maybe")


def test_emulator_answers_errors_and_resends():
    clk = Clock()
    emu = PN532Emulator(clk)
    uart = emu.uart
    uart.write(b"\x55" + bytes(14) + wrap(0xD4, b"\x14\x01"))
    clk.advance(5)
    uart.read(64)
    uart.write(wrap(0xD4, b"\x7e"))  # unknown command: ACK, then the application error frame
    clk.advance(5)
    assert uart.read(64) == ACK + bytes.fromhex("0000ff01ff7f8100")
    uart.write(wrap(0xD4, b"\x4a\x03\x00"))  # MaxTg 3: a syntax error
    clk.advance(5)
    assert uart.read(64) == ACK + bytes.fromhex("0000ff01ff7f8100")
    bad = bytearray(wrap(0xD4, b"\x02"))
    bad[-2] ^= 1
    uart.write(bad)  # bad checksum: ignored
    clk.advance(5)
    assert uart.read(64) == b""
    uart.write(wrap(0xD4, b"\x02"))
    clk.advance(5)
    uart.read(64)
    uart.write(emu_mod.NACK)  # the last frame again
    clk.advance(5)
    assert uart.read(64) == wrap(0xD5, b"\x03\x32\x01\x06\x07")


def test_i2c_status_byte_and_frame_consumption():
    clk = Clock()
    emu = PN532Emulator(clk)
    bus = emu.i2c
    bus.writeto(0x24, wrap(0xD4, b"\x14\x01"))
    buf = bytearray(1)
    bus.readfrom_into(0x24, buf)
    assert buf == b"\x00"  # not ready before ack_ms
    clk.advance(1)
    bus.readfrom_into(0x24, buf)
    assert buf == b"\x01"  # ready; a status-only read does not consume
    big = bytearray(10)
    bus.readfrom_into(0x24, big)
    assert bytes(big) == b"\x01" + ACK + b"\x00\x00\x00"
    clk.advance(5)
    big = bytearray(13)
    bus.readfrom_into(0x24, big)
    assert bytes(big) == b"\x01" + wrap(0xD5, b"\x15") + b"\x00\x00\x00"
    bus.readfrom_into(0x24, buf)
    assert buf == b"\x00"
    with pytest.raises(OSError):
        bus.writeto(0x25, b"\x00")
    assert bus.try_lock() and not bus.try_lock()
    bus.unlock()


def test_i2c_busy_nack_is_tolerated():
    r = Rig("i2c", i2c_busy_nack=True, exec_ms=8)
    card = ntag215()
    r.emu.enter(card)
    assert r.list_a() == P.DONE and r.drv.uid_bytes() == card.uid


# -- faults --

FAULT_CASES = [("noise", {"data": b"\x00\xff\x12\x00\x13"}), ("noise", {"data": b"\xff" * 30}),
               ("drop", {"index": 7}), ("drop", {"index": 2}), ("drop", {"index": 12, "count": 2}), ("dcs", {}),
               ("lcs", {}), ("truncate", {"keep": 9}), ("truncate", {"keep": 3})]


@pytest.mark.parametrize("fault,params", FAULT_CASES)
@pytest.mark.parametrize("link", LINKS)
def test_response_faults_recover(link, fault, params):
    r = Rig(link)
    card = triple_uid_card()
    r.emu.enter(card)
    r.emu.inject(fault, **params)
    assert r.list_a() == P.DONE
    assert r.drv.uid_bytes() == card.uid


@pytest.mark.parametrize("link", LINKS)
def test_lost_zero_before_the_postamble_is_asked_again_not_misread(link):
    """Found by the fuzzer: an NTAG answer that loses its 00 SENS_RES byte (index 9) swallows its
    own DCS as data and takes the 00 postamble as DCS, so both checksums still pass. The decoder
    must see the record is one byte off and ask again, never report a shifted UID."""
    r = Rig(link)
    card = ntag215()
    r.emu.enter(card)
    r.emu.inject("drop", index=9)
    assert r.list_a() == P.DONE
    assert r.drv.uid_bytes() == card.uid and r.drv.nacks == 1


@pytest.mark.parametrize("fault,params", FAULT_CASES)
@pytest.mark.parametrize("link", LINKS)
def test_ack_faults_recover(link, fault, params):
    r = Rig(link)
    r.emu.inject(fault, on="ack", **params)
    assert r.run(r.drv.start_firmware_version) == P.DONE and r.drv.ic == 0x32


@pytest.mark.parametrize("link", LINKS)
def test_noise_between_frames(link):
    r = Rig(link)
    r.emu.enter(mifare_classic())
    st = r.drv.start_list_a(r.clock.t)
    if link == "uart":
        r.emu.noise(b"\x55\x00\xff\xff\x00\x00\xff\x05")
    assert r.run(lambda t: st) == P.DONE and r.drv.uid_len == 4


@pytest.mark.parametrize("link", LINKS)
def test_persistent_corruption_ends_in_checksum_error(link):
    r = Rig(link)
    for _ in range(4):
        r.emu.inject("dcs")
    assert r.run(r.drv.start_firmware_version) == P.E_CHECKSUM
    assert r.emu.host_nacks == 3
    assert r.run(r.drv.start_firmware_version) == P.DONE  # and the next command is fine


@pytest.mark.parametrize("link", LINKS)
def test_muted_response_times_out(link):
    r = Rig(link)
    r.emu.inject("mute")
    assert r.run(lambda t: r.drv.start_firmware_version(t, timeout_ms=80)) == P.E_TIMEOUT
    assert r.run(r.drv.start_firmware_version) == P.DONE


@pytest.mark.parametrize("link", LINKS)
def test_silent_reader(link):
    r = Rig(link)
    r.emu.silent = True
    t0 = r.clock.t
    assert r.run(r.drv.start_firmware_version) == P.E_NO_ACK
    assert r.clock.t - t0 == r.drv.ack_ms
    assert r.drv.start_firmware_version(r.clock.t) == P.E_ORDER
    r.emu.silent = False
    assert r.run(r.drv.start_sam_configuration) == P.DONE
    assert r.run(r.drv.start_firmware_version) == P.DONE


@pytest.mark.parametrize("link", LINKS)
def test_reader_reset_answers_but_has_lost_its_settings(link):
    r = Rig(link)
    r.emu.power_on()  # a brown-out: LowVbat, asleep, defaults back (MaxRetries FF)
    assert r.run(r.drv.start_firmware_version) == P.DONE  # a cold C106 answers this
    assert r.emu.lowvbat and r.emu.ignored == []
    assert r.list_a() == P.E_TIMEOUT  # PassiveActivation FF again: waits for a card for ever
    assert r.run(r.drv.start_sam_configuration) == P.DONE and not r.emu.lowvbat
    assert r.run(lambda t: r.drv.start_max_retries(t, passive=1)) == P.DONE
    assert r.list_a() == P.DONE and r.drv.nbtg == 0


@pytest.mark.parametrize("link", LINKS)
def test_reader_reset_in_the_strict_model(link):
    r = Rig(link, lowvbat="sam-first")
    r.emu.power_on()
    assert r.run(r.drv.start_firmware_version) == P.E_NO_ACK
    assert r.emu.ignored == [0x02]  # heard (a cold chip wakes on any byte), ignored until SAM
    assert r.run(r.drv.start_sam_configuration) == P.DONE
    assert r.run(r.drv.start_firmware_version) == P.DONE


@pytest.mark.parametrize("link", LINKS)
def test_chaos_every_command_ends(link):
    # random faults on a third of all frames: every command ends (DONE or an error code) within its
    # deadlines, and a DONE always carries the right card
    r = Rig(link, seed=5)
    cards = [mifare_classic(), ntag215(), triple_uid_card()]
    r.emu.chaos = 0.35
    outcomes = {}
    for i in range(150):
        card = cards[i % 3]
        r.emu.enter(card)
        if not r.drv.configured:
            st = r.run(r.drv.start_sam_configuration)
        else:
            st = r.list_a()
            if st == P.DONE and r.drv.nbtg:
                assert r.drv.uid_bytes() == card.uid
        outcomes[st] = outcomes.get(st, 0) + 1
        r.emu.leave(card)
    assert set(outcomes) <= {P.DONE, P.E_NO_ACK, P.E_TIMEOUT, P.E_CHECKSUM, P.E_PROTO, P.E_APP}
    assert outcomes[P.DONE] > 75


# -- hypothesis --

frames = st.builds(lambda code, data: wrap(0xD5, bytes([code]) + data), st.integers(0, 255),
                   st.binary(max_size=40))


@st.composite
def mutated(draw):
    f = bytearray(draw(frames))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(("flip", "drop", "insert", "cut")))
        if not f:
            break
        i = draw(st.integers(0, len(f) - 1))
        if op == "flip":
            f[i] ^= draw(st.integers(1, 255))
        elif op == "drop":
            del f[i]
        elif op == "insert":
            f.insert(i, draw(st.sampled_from((0x00, 0xFF, 0xD5, draw(st.integers(0, 255))))))
        else:
            del f[i:]
    return bytes(f)


garbage = st.lists(st.one_of(st.binary(max_size=20), mutated(), st.sampled_from((ACK, emu_mod.NACK))),
                   max_size=5).map(b"".join)


def _parse_all(stream, chunks):
    p = P.FrameParser()
    seen = []
    i = k = 0
    steps = 0

    def drain():
        nonlocal steps
        while True:
            steps += 1
            assert steps < 200000
            ev = p.next()
            if ev == 0:
                return
            if ev == P.EV_FRAME:
                seen.append((p.pos, p.len, bytes(p.buf[p.off:p.off + p.len])))
    while i < len(stream):
        n = chunks[k % len(chunks)]
        k += 1
        i += p.feed(stream, i, min(len(stream), i + n))
        drain()
    while p.busy():
        assert p.truncate() == P.ERR_TRUNC
        drain()
    return seen


@settings(max_examples=examples(400), deadline=None)
@given(garbage, frames, st.lists(st.integers(1, 70), min_size=1, max_size=8))
def test_parser_resyncs_to_the_next_valid_frame(g, f, chunks):
    seen = _parse_all(g + f, chunks)
    start = len(g)
    body = f[5:-2] if f[3:5] != b"\xff\xff" else f[8:-2]
    ok = (start + (len(f) - len(body) - 2), len(body), body) in seen
    # the only way to lose it: garbage began a frame that passed both checksums using f's start code
    covered = [s for s in seen if s[0] - 5 <= start + 2 < s[0] + s[1] + 1]
    assert ok or covered


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 90), min_size=1, max_size=8))
def test_parser_never_raises(data, chunks):
    _parse_all(data, chunks)


def _fault():
    return st.one_of(st.tuples(st.just("noise"), st.fixed_dictionaries({"data": st.binary(min_size=1, max_size=30)})),
                     st.tuples(st.just("drop"), st.fixed_dictionaries({"index": st.integers(0, 40),
                                                                        "count": st.integers(1, 3)})),
                     st.tuples(st.sampled_from(("dcs", "lcs", "mute")), st.just({})),
                     st.tuples(st.just("truncate"), st.fixed_dictionaries({"keep": st.integers(0, 20)})))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LINKS), st.lists(st.tuples(_fault(), st.sampled_from(("resp", "ack"))), max_size=4),
       st.sampled_from((4, 7, 10)))
def test_driver_receive_path_under_faults(link, faults, uid_len):
    r = Rig(link)
    card = {4: mifare_classic, 7: ntag215, 10: triple_uid_card}[uid_len]()
    r.emu.enter(card)
    for (fault, params), on in faults:
        r.emu.inject(fault, on=on, **params)
    t0 = r.clock.t
    st_ = r.list_a()  # never raises, never hangs (Rig.run bounds the polls)
    assert r.clock.t - t0 <= 4 * (300 + 30)
    noisy = any(f == "noise" for (f, _), _ in faults)
    if st_ == P.DONE and not noisy:
        assert r.drv.nbtg == 1 and r.drv.uid_bytes() == card.uid
    spoilers = [f for (f, _), _ in faults if f != "noise"]
    if not spoilers and not noisy:
        assert st_ == P.DONE
    if st_ != P.DONE:
        assert st_ < 0 and spoilers or noisy
    # whatever happened, the driver is usable afterwards
    r.emu.faults.clear()
    if not r.drv.configured:
        assert r.run(r.drv.start_sam_configuration) == P.DONE
    assert r.list_a() == P.DONE and r.drv.uid_bytes() == card.uid


def test_emulator_frames_match_the_reference_examples():
    assert wrap(0xD4, b"\x02") == bytes.fromhex("0000ff02fed4022a00")
    assert wrap(0xD5, b"\x03\x32\x01\x06\x07") == bytes.fromhex("0000ff06fad50332010607e800")
    ext = wrap(0xD4, bytes(300))
    assert ext[:8] == bytes.fromhex("0000ffffff012dd2") and len(ext) == 8 + 301 + 2
    with pytest.raises(ValueError):
        TypeA(b"\x01\x02\x03")
    with pytest.raises(ValueError):
        TypeA(b"\x01\x02\x03\x04", sak=0x20, ats=b"\x03\x00")
