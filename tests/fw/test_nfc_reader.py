# NfcReader (firmware/lockshell/nfc.py), the polling policy, over the real PN532 engine and a scripted chip on a
# fake UART: start-up order, type A and FeliCa in each wake (default) or alternating (pair=False),
# PowerDown and wake, one report per presentation, reader down / up with back-off, and no allocation
# per poll with no card present.
from fakes import alloc_bytes
from fwcheck import raises
from pn532fakes import FakeChip, FakeUart, FakeI2c, chip_frame
from drivers import pn532 as P
from lockshell import nfc
from lockctl.codes import KIND_FELICA, KIND_ISO14443A, KIND_ISO_DEP, KIND_PHONE, R_BAD_MAC, R_NO_ANSWER, R_NO_APP, R_UNKNOWN_PHONE

SAM = chip_frame(0x15)
FW = chip_frame(0x03, b"\x32\x01\x06\x07")
RF = chip_frame(0x33)
NONE = chip_frame(0x4B, b"\x00")
REL = chip_frame(0x53, b"\x00")
PD = chip_frame(0x17, b"\x00")


def list_a(uid, sak=0x08, ats=b""):
    return chip_frame(0x4B, bytes([1, 1, 0x00, 0x04, sak, len(uid)]) + uid + ats)


def list_f(idm, sc=b"\x00\x03"):
    body = b"\x01" + idm + b"\x10\x0b\x4b\x42\x84\x85\xd0\xff" + sc
    return chip_frame(0x4B, bytes([1, 1, len(body) + 1]) + body)


class Chip(FakeChip):
    # answers InListPassiveTarget by its BrTy: a_card / f_card (None: no card)
    def __init__(self, record=True):
        FakeChip.__init__(self, {0x14: SAM, 0x02: FW, 0x32: RF, 0x52: REL, 0x16: PD}, record)
        self.a_card = None
        self.f_card = None
        self.brty = -1
        self.lists = [0, 0]

    def host_write(self, buf):
        n = len(buf)
        if n > 9 and buf[0] == 0 and buf[2] == 0xFF and buf[3] != 0xFF and buf[6] == 0x4A:
            self.brty = buf[8]
            self.lists[1 if self.brty else 0] += 1
            c = self.f_card if self.brty else self.a_card
            self.replies[0x4A] = NONE if c is None else c
        FakeChip.host_write(self, buf)


def rig(record=True, **kw):
    chip = Chip(record)
    uart = FakeUart(chip, record=record)
    eng = P.PN532(P.HsuLink(uart))
    return nfc.NfcReader(eng, **kw), chip, uart, eng


def poll_alloc(rd, t0, t1):
    # heap bytes allocated by polling every ms in [t0, t1) (None on CPython)
    def loop():
        t = t0
        while t < t1:
            rd.poll(t)
            t += 1
    return alloc_bytes(loop)


def step(rd, t0, t1, out=None):
    # poll every ms in [t0, t1); collect events
    t = t0
    while t < t1:
        ev = rd.poll(t)
        if ev is not None and out is not None:
            out.append(ev)
        t += 1
    return out


def test_start_up_order_and_first_polls():
    rd, chip, uart, eng = rig()
    evs = step(rd, 0, 20, [])
    assert evs == []
    assert chip.cmds[:3] == [0x14, 0x02, 0x32]
    assert chip.frames[2][5:11] == b"\xd4\x32\x05\xff\x01\x01"  # MaxRetries, PassiveActivation 1
    assert chip.cmds[3:] == [0x4A, 0x4A, 0x16]  # type A list, FeliCa list, then PowerDown
    assert chip.lists == [1, 1] and chip.brty == 1
    assert chip.wakes == 1 and rd.inits == 1 and not rd.down
    assert rd.interval_ms == 100 and rd.pair


def test_both_technologies_each_wake_every_interval():
    rd, chip, uart, eng = rig()
    step(rd, 0, 1010)  # wakes at about 0, 100, ..., 1000: each lists A then FeliCa, then PowerDown
    assert chip.lists == [11, 11]
    lists = [f[8] for f in chip.frames if f[6] == 0x4A]
    assert lists == [0, 1] * 11
    assert chip.cmds.count(0x16) == 11 and chip.wakes == 11
    assert 0x52 not in chip.cmds


def test_alternates_a_and_felica_every_interval_with_power_down_and_wake():
    rd, chip, uart, eng = rig(interval_ms=250, pair=False)
    step(rd, 0, 1010)  # the first list starts when start-up ends, a few ms in
    assert chip.lists == [3, 2]  # t = 0 A, 250 F, 500 A, 750 F, 1000 A
    felica = [f for f in chip.frames if f[6] == 0x4A and f[8] == 1]
    assert felica[0][5:14] == b"\xd4\x4a\x01\x01\x00\xff\xff\x01\x00"
    assert chip.cmds.count(0x16) == 5
    assert chip.wakes == 5  # boot, then a wake before each list that followed a PowerDown
    assert 0x52 not in chip.cmds  # nothing listed, nothing to release


def test_interval_is_configurable():
    rd, chip, uart, eng = rig(interval_ms=100, pair=False)
    step(rd, 0, 1010)
    assert chip.lists[0] + chip.lists[1] == 11
    rd, chip, uart, eng = rig(interval_ms=250)
    step(rd, 0, 1010)
    assert chip.lists == [5, 5]


def test_type_a_card_reported_once_while_held_and_again_after_re_tap():
    rd, chip, uart, eng = rig(interval_ms=100, absent=2, pair=False)
    evs = step(rd, 0, 150, [])
    chip.a_card = list_a(b"\x04\x51\x2a\x1a\x7c\x5d\x80")
    evs = step(rd, 150, 1000, evs)
    assert evs == [("card", KIND_ISO14443A, "04512A1A7C5D80")]
    assert chip.cmds.count(0x52) >= 4  # released after each list that found it
    chip.a_card = None
    step(rd, 1000, 1200)  # one A poll without it (at 1000; 1100 is FeliCa): still present
    chip.a_card = list_a(b"\x04\x51\x2a\x1a\x7c\x5d\x80")
    evs = step(rd, 1200, 1600, [])
    assert evs == []
    chip.a_card = None
    step(rd, 1600, 2000)  # two A polls without it: gone
    chip.a_card = list_a(b"\x04\x51\x2a\x1a\x7c\x5d\x80")
    evs = step(rd, 2000, 2400, [])
    assert evs == [("card", KIND_ISO14443A, "04512A1A7C5D80")]


def test_held_card_with_both_technologies_each_wake():
    rd, chip, uart, eng = rig(absent=2)
    evs = step(rd, 0, 150, [])
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    evs = step(rd, 150, 1000, evs)
    assert evs == [("card", KIND_ISO14443A, "DEADBEEF")]
    assert chip.cmds.count(0x52) >= 7  # released after each list that found it, then FeliCa listed
    chip.a_card = None
    step(rd, 1000, 1100)  # one wake without it: still present
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    assert step(rd, 1100, 1500, []) == []
    chip.a_card = None
    step(rd, 1500, 1700)  # two wakes without it: gone
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    assert step(rd, 1700, 1900, []) == [("card", KIND_ISO14443A, "DEADBEEF")]


def test_another_card_is_a_new_presentation():
    rd, chip, uart, eng = rig(interval_ms=100)
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    evs = step(rd, 0, 300, [])
    chip.a_card = list_a(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10", sak=0)
    evs = step(rd, 300, 600, evs)
    assert evs == [("card", KIND_ISO14443A, "DEADBEEF"), ("card", KIND_ISO14443A, "01020304050607080910")]


def test_felica_reports_idm_and_system_code():
    rd, chip, uart, eng = rig(interval_ms=100)
    chip.f_card = list_f(b"\x01\x01\x4e\x1f\x2d\x3c\x4b\x5a")
    evs = step(rd, 0, 1000, [])
    assert evs == [("card", KIND_FELICA, "01014E1F2D3C4B5A")]
    assert rd.sys_code == 0x0003 and rd.kind == KIND_FELICA


def test_phone_is_iso_dep_and_other_iso14443_4_is_type_a():
    rd, chip, uart, eng = rig(interval_ms=100)
    ats = b"\x05\x78\x80\x70\x02"
    chip.a_card = list_a(b"\x08\x12\x34\x56", sak=0x20, ats=ats)
    evs = step(rd, 0, 300, [])
    assert evs == [("card", KIND_ISO_DEP, "08123456")] and rd.tg == 1
    chip.a_card = None
    step(rd, 300, 800)
    chip.a_card = list_a(b"\x04\x11\x22\x33\x44\x55\x66", sak=0x20, ats=ats)  # a DESFire-like card
    evs = step(rd, 800, 1100, [])
    assert evs == [("card", KIND_ISO14443A, "04112233445566")]


def test_a_and_felica_at_once_both_reported():
    rd, chip, uart, eng = rig(interval_ms=100)
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    chip.f_card = list_f(b"\x01\x01\x4e\x1f\x2d\x3c\x4b\x5a")
    evs = step(rd, 0, 1000, [])
    assert evs == [("card", KIND_ISO14443A, "DEADBEEF"), ("card", KIND_FELICA, "01014E1F2D3C4B5A")]


def test_silent_reader_goes_down_with_back_off_then_up():
    rd, chip, uart, eng = rig(interval_ms=100, fail_limit=3, backoff_ms=100, backoff_max_ms=400)
    chip.silent = True
    evs = step(rd, 0, 3000, [])
    assert evs == [("down", P.E_NO_ACK)] and rd.down
    n = rd.errors
    assert 6 <= n <= 10  # back-off: 100, 200, 400, 400, ... (plus 30 ms per ACK timeout)
    chip.silent = False
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    evs = step(rd, 3000, 4000, [])
    assert evs == [("up",), ("card", KIND_ISO14443A, "DEADBEEF")]
    assert not rd.down and rd.fails == 0


def test_transient_error_reinitialises_without_down():
    rd, chip, uart, eng = rig(interval_ms=100)
    step(rd, 0, 50)
    chip.replies[0x16] = chip_frame(0x17, b"\x01")  # PowerDown status error once
    step(rd, 50, 150)
    chip.replies[0x16] = PD
    evs = step(rd, 150, 600, [])
    assert evs == [] and rd.errors == 1 and rd.inits == 2 and not rd.down


def test_wrong_firmware_is_an_error():
    rd, chip, uart, eng = rig(fail_limit=2)
    chip.replies[0x02] = chip_frame(0x03, b"\x31\x01\x06\x07")
    evs = step(rd, 0, 2000, [])
    assert evs == [("down", nfc.E_FIRMWARE)]
    assert 0x4A not in chip.cmds


def test_polls_are_bounded_never_blocking():
    rd, chip, uart, eng = rig(interval_ms=250)
    step(rd, 0, 10)
    k = uart.reads
    assert rd.poll(10) is None
    assert uart.reads - k <= 1  # one engine poll: at most one read


def test_engine_refusing_start_is_a_failure():
    rd, chip, uart, eng = rig()
    assert eng.start_sam_configuration(0) == P.BUSY  # someone else's command is running
    assert rd.poll(0) is None
    assert rd.errors == 1 and rd.error == P.E_INUSE


def test_i2c_link_works_too():
    chip = Chip()
    eng = P.PN532(P.I2cLink(FakeI2c(chip)))
    rd = nfc.NfcReader(eng, interval_ms=100)
    chip.a_card = list_a(b"\xde\xad\xbe\xef")
    evs = step(rd, 0, 500, [])
    assert evs == [("card", KIND_ISO14443A, "DEADBEEF")]
    assert chip.cmds[:3] == [0x14, 0x02, 0x32]


def test_no_allocation_per_poll_without_a_card():
    rd, chip, uart, eng = rig(record=False, interval_ms=20)
    step(rd, 0, 200)  # warm up: every command frame and view made once

    n = poll_alloc(rd, 200, 1200)
    assert n is None or n == 0, n
    assert chip.lists[0] + chip.lists[1] >= 50


def test_needs_an_engine():
    rd, chip, uart, eng = rig()
    raises(AttributeError, lambda: nfc.NfcReader(None).poll(0))


def test_no_allocation_per_poll_over_i2c_while_down_and_with_a_held_card():
    chip = Chip(record=False)
    i2c = FakeI2c(chip)
    i2c.record = False
    rd = nfc.NfcReader(P.PN532(P.I2cLink(i2c)), interval_ms=20, backoff_max_ms=200)
    step(rd, 0, 200)

    def loop(t0):
        def f():
            t = t0
            while t < t0 + 1000:
                rd.poll(t)
                t += 1
        return f
    n = alloc_bytes(loop(200))
    assert n is None or n == 0, n
    chip.a_card = list_a(b"\xde\xad\xbe\xef")  # held: reported once (that allocates), then nothing
    evs = step(rd, 1200, 1300, [])
    assert evs == [("card", KIND_ISO14443A, "DEADBEEF")]
    n = alloc_bytes(loop(1300))
    assert n is None or n == 0, n
    chip.a_card = None
    chip.silent = True
    evs = step(rd, 2300, 4000, [])
    assert evs == [("down", P.E_NO_ACK)]
    k = rd.errors
    n = alloc_bytes(loop(4000))
    assert n is None or n == 0, n
    assert rd.errors >= k + 4  # it kept trying to start up again


# -- phone as key: the protocol from lockctl.phone run by the reader, one exchange step per poll --

from lockctl import phone as PH
from lockctl.hmac256 import hmac_sha256

DOOR = b"front-door-01"
PID = b"pixel-7a-0001"
PID_HEX = "706978656C2D37612D30303031"
KEY = bytes(range(0x10, 0x30))
PHONE_ATS = b"\x05\x78\x80\x70\x02"
CHAL = bytes(range(0x40, 0x50))


def rand(n):
    return CHAL[:n]


def xd(data):
    # an InDataExchange answer: status 00 + data
    return chip_frame(0x41, b"\x00" + data)


def phone_rig(answers, uid=b"\x08\x12\x34\x56", **kw):
    auth = PH.PhoneAuth(PH.PhoneKeys([(PID, KEY)]), DOOR, None)
    rd, chip, uart, eng = rig(interval_ms=100, phone_auth=auth, rand=rand, **kw)
    chip.a_card = list_a(uid, sak=0x20, ats=PHONE_ATS)
    chip.replies[0x40] = answers
    return rd, chip


def good_answers(key=KEY):
    return [xd(PID + b"\x90\x00"), xd(hmac_sha256(key, CHAL, DOOR) + b"\x90\x00")]


def apdus(chip):
    # the APDUs sent with InDataExchange (Tg 1)
    return [f[8:5 + f[3]] for f in chip.frames if f[6] == 0x40]


def test_phone_with_a_good_answer_is_a_phone_card():
    rd, chip = phone_rig(good_answers())
    evs = step(rd, 0, 300, [])
    assert evs == [("card", KIND_PHONE, PID_HEX)] and rd.kind == KIND_PHONE
    a = apdus(chip)
    assert a[0] == b"\x00\xa4\x04\x00\x08\xf0DOORKIT\x00"
    assert a[1] == b"\x80\x10\x00\x00\x10" + CHAL + b"\x20"
    i = chip.cmds.index(0x40)
    assert chip.cmds[i - 1:i + 3] == [0x4A, 0x40, 0x40, 0x52]  # list, SELECT, CHALLENGE, release


def test_phone_held_is_decided_once_even_when_its_uid_changes():
    rd, chip = phone_rig(good_answers())
    evs = step(rd, 0, 300, [])
    chip.a_card = list_a(b"\x08\x99\x88\x77", sak=0x20, ats=PHONE_ATS)  # a new random UID
    evs = step(rd, 300, 1500, evs)
    assert evs == [("card", KIND_PHONE, PID_HEX)]
    assert len(apdus(chip)) == 2
    chip.a_card = None
    step(rd, 1500, 2000)  # gone
    chip.a_card = list_a(b"\x08\x01\x02\x03", sak=0x20, ats=PHONE_ATS)
    chip.sent[0x40] = 0
    evs = step(rd, 2000, 2300, [])
    assert evs == [("card", KIND_PHONE, PID_HEX)] and len(apdus(chip)) == 4


def test_phone_with_a_wrong_key_is_refused_bad_mac():
    rd, chip = phone_rig(good_answers(key=bytes(32)))
    assert step(rd, 0, 1000, []) == [("refused", KIND_PHONE, PID_HEX, R_BAD_MAC)]


def test_unknown_phone_is_refused_without_a_challenge():
    rd, chip = phone_rig([xd(b"stranger\x90\x00")])
    assert step(rd, 0, 1000, []) == [("refused", KIND_PHONE, "737472616E676572", R_UNKNOWN_PHONE)]
    assert len(apdus(chip)) == 1


def test_iso_dep_without_the_app_is_refused_no_app_with_its_uid():
    rd, chip = phone_rig([xd(b"\x6a\x82")])
    assert step(rd, 0, 1000, []) == [("refused", KIND_PHONE, "08123456", R_NO_APP)]


def test_phone_that_does_not_answer_is_refused_no_answer():
    rd, chip = phone_rig([chip_frame(0x41, b"\x01")])  # InDataExchange status 01: timeout
    evs = step(rd, 0, 1000, [])
    assert evs == [("refused", KIND_PHONE, "08123456", R_NO_ANSWER)]
    assert 0x52 in chip.cmds[chip.cmds.index(0x40):]
    assert rd.errors == 0 and rd.inits == 1 and not rd.down


def run_stalled(rd, chip, t1):
    # poll every ms; once SELECT has been answered, the chip ACKs the CHALLENGE but never answers it
    evs = []
    t = 0
    while t < t1:
        if chip.sent.get(0x40):
            chip.replies[0x40] = None
        ev = rd.poll(t)
        if ev is not None:
            evs.append(ev)
        t += 1
    return evs


def test_phone_time_limit_aborts_the_exchange():
    rd, chip = phone_rig([xd(PID + b"\x90\x00")], phone_ms=200)  # step_ms 500: the limit comes first
    evs = run_stalled(rd, chip, 1000)
    assert evs == [("refused", KIND_PHONE, PID_HEX, R_NO_ANSWER)]
    assert chip.aborts >= 1 and len(apdus(chip)) == 2
    i = chip.cmds.index(0x40)
    assert chip.cmds[i:i + 3] == [0x40, 0x40, 0x52]  # aborted, released: the chip was fine
    assert rd.errors == 0 and not rd.down


def test_phone_step_timeout_is_no_answer_then_the_reader_starts_again():
    rd, chip = phone_rig([xd(PID + b"\x90\x00")], step_ms=50)
    evs = run_stalled(rd, chip, 1500)
    assert evs == [("refused", KIND_PHONE, PID_HEX, R_NO_ANSWER)]  # decided once, held afterwards
    assert rd.errors == 1 and rd.error == P.E_TIMEOUT and rd.inits == 2 and not rd.down


def test_without_phone_auth_a_phone_is_iso_dep():
    rd, chip, uart, eng = rig(interval_ms=100)
    chip.a_card = list_a(b"\x08\x12\x34\x56", sak=0x20, ats=PHONE_ATS)
    assert step(rd, 0, 300, []) == [("card", KIND_ISO_DEP, "08123456")]
    assert 0x40 not in chip.cmds


def test_reader_builds_phone_auth_from_keys_and_door():
    rd, chip, uart, eng = rig(interval_ms=100, phone_auth=(PH.PhoneKeys([(PID, KEY)]), DOOR), rand=rand)
    chip.a_card = list_a(b"\x08\x12\x34\x56", sak=0x20, ats=PHONE_ATS)
    chip.replies[0x40] = good_answers()
    assert step(rd, 0, 300, []) == [("card", KIND_PHONE, PID_HEX)]


def test_no_allocation_per_poll_without_a_card_with_phone_auth():
    auth = PH.PhoneAuth(PH.PhoneKeys([(PID, KEY)]), DOOR, rand)
    rd, chip, uart, eng = rig(record=False, interval_ms=20, phone_auth=auth)
    step(rd, 0, 200)

    n = poll_alloc(rd, 200, 1200)
    assert n is None or n == 0, n


def test_phone_exchange_refused_by_the_engine_is_still_one_decision():
    rd, chip = phone_rig(good_answers())
    rd.eng.start_exchange = lambda *a, **k: P.E_INUSE
    evs = step(rd, 0, 1000, [])
    assert evs == [("refused", KIND_PHONE, "08123456", R_NO_ANSWER)]
    assert rd.errors == 1 and rd.error == P.E_INUSE and not rd.down


def test_running_and_command_deadline_while_a_command_is_in_flight():
    rd, chip, uart, eng = rig()
    assert not rd.running and rd.command_deadline() is None
    rd.poll(0)  # SAMConfiguration goes out
    assert rd.running and rd.next_deadline() is None
    assert rd.command_deadline() == eng.next_deadline() == eng.ack_ms  # its ACK deadline
    step(rd, 1, 1000)
    assert rd.waiting and not rd.running and rd.command_deadline() is None
    # a silent chip: the reader acts at the engine's deadline and not before
    chip.silent = True
    t = rd.next_deadline()
    rd.poll(t)
    d = rd.command_deadline()
    assert rd.running and d == t + eng.ack_ms
    step(rd, t + 1, d)
    assert rd.running and rd.fails == 0
    rd.poll(d)
    assert not rd.running and rd.fails == 1
