"""NfcReader (firmware/lockshell/nfc.py) + the real PN532 driver against the CPython emulator (sim/pn532.py), over
the virtual UART and I2C bus: every card kind, hold vs re-tap, alternating technologies, PowerDown as
the emulator sees it, a silent reader going down and coming back up, noise faults; the phone-as-key
protocol run by the reader (sim/phone.py), also under random frame faults."""
import pytest

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim.pn532 import Clock, PN532Emulator, mifare_classic, ntag215, phone, suica, triple_uid_card
from drivers import pn532 as P
from lockshell import nfc
from lockctl.codes import R_NO_ANSWER, KIND_FELICA, KIND_ISO14443A, KIND_ISO_DEP, KIND_PHONE, R_BAD_MAC

LINKS = ("uart", "i2c")


class Rig:
    def __init__(self, link="uart", seed=0, **kw):
        self.clock = Clock(1000)
        self.emu = PN532Emulator(self.clock, seed=seed)
        self.link = P.HsuLink(self.emu.uart) if link == "uart" else P.I2cLink(self.emu.i2c)
        self.drv = P.PN532(self.link)
        kw.setdefault("interval_ms", 100)
        self.rd = nfc.NfcReader(self.drv, **kw)
        self.events = []
        self.brty = []  # InListPassiveTarget BrTy, in order, as the emulator received them
        orig = self.emu._cmd_4a

        def spy(p, t):
            self.brty.append(p[1])
            return orig(p, t)
        self.emu._cmd_4a = spy

    def run(self, ms):
        end = self.clock.t + ms
        out = []
        while self.clock.t < end:
            ev = self.rd.poll(self.clock.t)
            if ev is not None:
                out.append(ev)
                self.events.append((self.clock.t, ev))
            self.clock.advance(1)
        return out


@pytest.fixture(params=LINKS)
def rig(request):
    return Rig(request.param)


CARDS = [
    (mifare_classic, KIND_ISO14443A, "DEADBEEF"),
    (ntag215, KIND_ISO14443A, "04512A1A7C5D80"),
    (triple_uid_card, KIND_ISO14443A, "01020304050607080910"),
    (suica, KIND_FELICA, "01014E1F2D3C4B5A"),
]


def test_start_up_sequence(rig):
    assert rig.run(80) == []
    assert rig.emu.commands[:6] == [0x14, 0x02, 0x32, 0x4A, 0x4A, 0x16]  # A and FeliCa, PowerDown
    assert rig.emu.ignored == []  # SAMConfiguration came first: nothing lost to LowVbat
    assert rig.emu.max_retries[2] == 1  # finite PassiveActivation
    assert rig.rd.inits == 1 and not rig.rd.down


@pytest.mark.parametrize("make,kind,ident", CARDS, ids=[c[0].__name__ for c in CARDS])
def test_each_card_kind(rig, make, kind, ident):
    rig.run(150)
    rig.emu.enter(make())
    assert rig.run(1000) == [("card", kind, ident)]
    if kind == KIND_FELICA:
        assert rig.rd.sys_code == 0x0003


def test_phone_reported_as_iso_dep_and_released(rig):
    rig.run(150)
    p = phone(lambda apdu: b"\x90\x00")
    rig.emu.enter(p)
    evs = rig.run(1000)
    assert evs == [("card", KIND_ISO_DEP, p.uid.hex().upper())]
    assert p.uid[0] == 0x08
    assert 0x52 in rig.emu.commands and rig.emu.targets == {}  # InRelease after the list


def test_hold_does_not_retrigger_retap_does(rig):
    card = mifare_classic()
    rig.run(150)
    rig.emu.enter(card)
    assert rig.run(2000) == [("card", KIND_ISO14443A, "DEADBEEF")]
    rig.emu.leave(card)
    rig.run(450)  # >= 2 type A polls without it
    rig.emu.enter(card)
    assert rig.run(1000) == [("card", KIND_ISO14443A, "DEADBEEF")]


def test_brief_miss_is_not_a_new_presentation(rig):
    card = mifare_classic()
    rig.emu.enter(card)
    assert rig.run(500) == [("card", KIND_ISO14443A, "DEADBEEF")]
    rig.emu.leave(card)
    rig.run(100)  # one type A poll misses it (a wobble)
    rig.emu.enter(card)
    assert rig.run(1000) == []


def test_phone_retap_gets_a_new_random_uid_and_a_new_report(rig):
    p = phone(lambda apdu: b"\x90\x00")
    rig.emu.enter(p)
    first = rig.run(500)
    rig.emu.leave(p)
    rig.run(500)
    rig.emu.enter(p)
    second = rig.run(500)
    assert len(first) == 1 and len(second) == 1
    assert first[0][1] == second[0][1] == KIND_ISO_DEP


def test_technologies_alternate_every_interval(rig):
    rig.run(1005)
    assert rig.brty[:6] == [0, 1, 0, 1, 0, 1]
    assert len(rig.brty) == 20  # both in each of the 10 wakes (interval 100 ms)
    assert rig.emu.commands.count(0x16) == 10
    rig1 = Rig(pair=False)
    rig1.run(1005)
    assert rig1.brty[:6] == [0, 1, 0, 1, 0, 1] and len(rig1.brty) == 10
    rig2 = Rig(felica=False)
    rig2.run(1005)
    assert set(rig2.brty) == {0} and len(rig2.brty) == 10


def test_type_a_and_felica_cards_together(rig):
    rig.emu.enter(mifare_classic())
    rig.emu.enter(suica())
    evs = rig.run(2000)
    assert sorted(evs) == [("card", KIND_ISO14443A, "DEADBEEF"), ("card", KIND_FELICA, "01014E1F2D3C4B5A")]


def test_power_down_between_polls_seen_by_the_emulator(rig):
    rig.run(150)
    n = rig.emu.commands.count(0x16)
    assert n >= 2
    assert rig.emu.asleep  # between polls the chip sleeps
    assert rig.emu.wake_enable == (0x10 if isinstance(rig.link, P.HsuLink) else 0x80)
    rig.emu.enter(mifare_classic())
    assert rig.run(300) == [("card", KIND_ISO14443A, "DEADBEEF")]  # it woke up for the next list
    assert rig.emu.ignored == []


def test_silent_reader_goes_down_then_up(rig):
    rig.run(200)
    rig.emu.silent = True
    evs = rig.run(3000)
    assert evs == [("down", P.E_NO_ACK)]
    assert rig.rd.down
    n = len(rig.emu.commands)
    rig.emu.silent = False
    rig.emu.power_on()  # it browned out: back in LowVbat
    rig.emu.enter(mifare_classic())
    evs = rig.run(6000)
    assert evs == [("up",), ("card", KIND_ISO14443A, "DEADBEEF")]
    assert rig.emu.commands[n:n + 3] == [0x14, 0x02, 0x32]
    assert rig.emu.ignored == []


def test_down_poll_never_blocks(rig):
    rig.emu.silent = True
    rig.run(2000)
    assert rig.rd.down
    # between back-off attempts poll() returns at once without touching the bus
    k = len(rig.emu.commands) + rig.emu.host_acks
    rig.rd._due = (rig.clock.t + 1000) & 0x3FFFFFFF
    rig.run(500)
    assert len(rig.emu.commands) + rig.emu.host_acks == k


@pytest.mark.parametrize("fault,params", [
    ("noise", {"data": b"\x00\xff\x13"}), ("drop", {"index": 8}), ("dcs", {}), ("lcs", {}),
    ("truncate", {"keep": 7}), ("mute", {}),
])
def test_fault_on_a_response_still_one_report(rig, fault, params):
    card = ntag215()
    rig.run(150)
    rig.emu.enter(card)
    rig.emu.inject(fault, on="resp", **params)
    evs = rig.run(1500)
    assert evs == [("card", KIND_ISO14443A, "04512A1A7C5D80")]
    assert not rig.rd.down


@pytest.mark.parametrize("seed", range(6))
def test_chaos_noise_held_card_reported_once(seed):
    r = Rig("uart" if seed % 2 == 0 else "i2c", seed=seed, fail_limit=50)
    r.emu.chaos = 0.15
    r.emu.enter(suica())
    r.emu.enter(mifare_classic())
    evs = r.run(8000)
    assert sorted(evs) == [("card", KIND_ISO14443A, "DEADBEEF"), ("card", KIND_FELICA, "01014E1F2D3C4B5A")]
    assert r.rd.polls > 30


def test_line_noise_between_polls_uart():
    r = Rig("uart")
    card = mifare_classic()
    r.run(150)
    r.emu.enter(card)
    got = []
    for _ in range(20):
        r.emu.noise(b"\x00\xff\x42\x13\x00")
        got += r.run(50)
    assert got == [("card", KIND_ISO14443A, "DEADBEEF")]


def test_identity_latency(rig):
    # from a card entering the field just after a poll to its identity, type A and FeliCa
    rig.run(150)
    t0 = rig.clock.t
    rig.emu.enter(mifare_classic())
    rig.emu.enter(suica())
    rig.run(500)
    times = {ev[1]: t - t0 for t, ev in rig.events if ev[0] == "card"}
    assert times[KIND_ISO14443A] <= 2 * 100 + 50 and times[KIND_FELICA] <= 2 * 100 + 50


# -- phone as key, run by the reader (both links), and under random frame faults --

import random  # noqa: E402

from doorkit.sim.phone import PhoneApp  # noqa: E402
from lockctl.phone import PhoneKeys  # noqa: E402

DOOR = b"front-door-01"
PID = b"pixel-7a-0001"
KEY = bytes(range(0x10, 0x30))


def phone_rig(link, seed=0):
    rng = random.Random(seed)
    return Rig(link, seed=seed, phone_auth=(PhoneKeys([(PID, KEY)]), DOOR),
               rand=lambda n: bytes(rng.randrange(256) for _ in range(n)))


@pytest.mark.parametrize("link", LINKS)
def test_phone_protocol_over_both_links(link):
    rig = phone_rig(link)
    good = phone(PhoneApp(PID, KEY, DOOR))
    rig.emu.enter(good)
    assert rig.run(1000) == [("card", KIND_PHONE, PID.hex().upper())]
    assert rig.emu.commands.count(0x40) == 2 and rig.emu.commands[-1] in (0x4A, 0x16, 0x52)
    rig.emu.leave(good)
    rig.run(500)
    rig.emu.enter(phone(PhoneApp(PID, bytes(32), DOOR)))
    assert rig.run(1000) == [("refused", KIND_PHONE, PID.hex().upper(), R_BAD_MAC)]


@pytest.mark.parametrize("seed", range(6))
def test_chaos_a_wrong_key_is_never_accepted_and_each_presentation_decided_once(seed):
    rig = phone_rig("uart", seed)
    rig.emu.chaos = 0.1
    pid_hex = PID.hex().upper()
    for i in range(6):
        ok = i % 2 == 0
        card = phone(PhoneApp(PID, KEY if ok else bytes(32), DOOR))
        rig.emu.enter(card)
        evs = [e for e in rig.run(1500) if e[0] in ("card", "refused")]
        rig.emu.leave(card)
        rig.run(800)
        assert len(evs) == 1, evs  # exactly one decision, faults or not
        e = evs[0]
        if e[0] == "refused" and e[3] == R_NO_ANSWER:
            continue  # a lost exchange (ident: the phone id, or the UID if SELECT was lost)
        assert e == (("card", KIND_PHONE, pid_hex) if ok else ("refused", KIND_PHONE, pid_hex, R_BAD_MAC)), e
    assert rig.rd.errors > 0  # the faults did happen
