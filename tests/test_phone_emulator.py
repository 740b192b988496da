"""Phone as key end to end on CPython: the firmware PN532 driver and lockctl.phone against the
emulator's ISO-DEP phone target (sim/pn532.py `phone()`), backed by the virtual HCE app in
sim/phone.py, whose MACs come from CPython's hmac module (independent of lockctl/hmac256.py).

Good phone -> its id; wrong key -> bad-mac; a recorded answer replayed at a later presentation ->
bad-mac; unknown phone id -> unknown-phone; a phone or card without the app -> no-app; garbage ->
bad-answer; a phone that does not answer -> a transport failure, never an acceptance."""
import random

import pytest

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.sim.phone import DOORKIT_AID, PhoneApp, mac
from doorkit.sim.pn532 import TypeA, mifare_classic, phone
from drivers import pn532 as P
from lockctl import phone as PH
from test_pn532_emulator import Rig as DriverRig
from lockctl.codes import R_BAD_MAC, R_UNKNOWN_PHONE, R_NO_APP, R_BAD_ANSWER

DOOR = b"front-door-01"
PID = b"pixel-7a-0001"
KEY = bytes(range(0x10, 0x30))
OTHER_KEY = bytes(range(0x30, 0x50))
STRANGER = b"stranger"


class Rig(DriverRig):
    """The driver rig (emulator + firmware driver on one link, SAMConfiguration and MaxRetries
    done) plus a PhoneAuth with a seeded random source."""

    def __init__(self, link="uart", seed=1, **kw):
        DriverRig.__init__(self, link, retries=1, **kw)
        self.rng = random.Random(seed)
        self.challenges = []
        self.auth = PH.PhoneAuth(PH.PhoneKeys([(PID, KEY)]), DOOR, self.rand)

    def rand(self, n):
        out = bytes(self.rng.randrange(256) for _ in range(n))
        self.challenges.append(out)
        return out

    def present(self, strict=True):
        """One presentation: list the target, run the APDUs, release. Returns the auth result, or
        ("transport", code) when a command failed (strict: only an exchange may fail)."""
        d = self.drv
        st = self.run(lambda t: d.start_list_a(t))
        if st != P.DONE or d.nbtg != 1:
            assert not strict, "list failed"
            return "transport", st
        assert d.kind == P.KIND_A
        if not d.sak & 0x20:
            return None, "not-iso-dep"
        tg = d.tg
        auth = self.auth
        n = auth.begin()
        result = None
        while n:
            st = self.run(lambda t: d.start_exchange(t, tg, auth.tx, n))
            if st != P.DONE:
                result = ("transport", st)
                self.failed_status = d.status
                break
            n = auth.answer(memoryview(d.rx)[1:d.rx_len])
        st = self.run(lambda t: d.start_release(t, 0))
        assert st == P.DONE or not strict
        return result or auth.result()


@pytest.fixture(params=("uart", "i2c"))
def rig(request):
    return Rig(request.param)


def test_good_phone_is_identified(rig):
    app = PhoneApp(PID, KEY, DOOR)
    card = phone(app)
    rig.emu.enter(card)
    assert card.uid[0] == 0x08 and len(card.uid) == 4  # random UID: identifies nothing
    assert rig.present() == (PID, None)
    assert [c[:2] for c, _ in app.log] == [b"\x00\xa4", b"\x80\x10"]
    assert app.log[0][0] == b"\x00\xa4\x04\x00\x08" + DOORKIT_AID + b"\x00"
    assert app.challenges == rig.challenges
    assert app.answers[0] == mac(KEY, rig.challenges[0], DOOR) + b"\x90\x00"
    assert rig.emu.commands[-1] == 0x52  # InRelease


def test_each_presentation_has_a_fresh_challenge(rig):
    app = PhoneApp(PID, KEY, DOOR)
    card = phone(app)
    uids = set()
    for _ in range(4):
        rig.emu.enter(card)
        uids.add(card.uid)
        assert rig.present() == (PID, None)
        rig.emu.leave(card)
    assert len(set(app.challenges)) == 4 and len(set(app.answers)) == 4
    assert len(uids) > 1  # a new random UID per entry


def test_wrong_key_is_bad_mac(rig):
    rig.emu.enter(phone(PhoneApp(PID, OTHER_KEY, DOOR)))
    assert rig.present() == (None, R_BAD_MAC)


def test_key_for_another_door_is_bad_mac(rig):
    rig.emu.enter(phone(PhoneApp(PID, KEY, b"back-door-02")))
    assert rig.present() == (None, R_BAD_MAC)


def test_replayed_answer_is_bad_mac(rig):
    # an eavesdropper recorded the good phone's answer; later it presents the same id and replays it
    good = PhoneApp(PID, KEY, DOOR)
    card = phone(good)
    rig.emu.enter(card)
    assert rig.present() == (PID, None)
    rig.emu.leave(card)
    recorded = good.answers[-1]
    attacker = PhoneApp(PID, b"\x00" * 32, DOOR, replay=recorded)
    rig.emu.enter(phone(attacker))
    assert rig.present() == (None, R_BAD_MAC)
    assert attacker.answers == [recorded]
    assert attacker.challenges[0] != good.challenges[0]


def test_unknown_phone(rig):
    app = PhoneApp(STRANGER, KEY, DOOR)
    rig.emu.enter(phone(app))
    assert rig.present() == (None, R_UNKNOWN_PHONE)
    assert len(app.log) == 1  # no challenge was spent on it
    assert rig.challenges == []


def test_phone_without_the_app_is_no_app(rig):
    app = PhoneApp(PID, KEY, DOOR, aid=b"\xf0OTHERAPP")
    rig.emu.enter(phone(app))
    assert rig.present() == (None, R_NO_APP)
    assert app.log[0][1] == b"\x6a\x82"


def test_iso_dep_card_without_the_app_is_no_app(rig):
    # a contactless bank card: ISO-DEP, fixed UID, knows no such AID
    bank = TypeA(bytes.fromhex("01020304"), b"\x00\x04", 0x20, ats=bytes.fromhex("0578807002"),
                 apdu=lambda apdu: b"\x6a\x82", name="bank")
    rig.emu.enter(bank)
    assert rig.present() == (None, R_NO_APP)


def test_plain_card_is_not_iso_dep(rig):
    rig.emu.enter(mifare_classic())
    assert rig.present() == (None, "not-iso-dep")


def test_garbage_answer_is_bad_answer(rig):
    rig.emu.enter(phone(PhoneApp(PID, KEY, DOOR, garbage=True, seed=3)))
    res = rig.present()
    assert res in ((None, R_BAD_ANSWER), (None, R_BAD_MAC))
    assert res == (None, R_BAD_ANSWER)  # seed 3 gives a length other than 34


def test_silent_phone_is_a_transport_failure(rig):
    rig.emu.enter(phone(PhoneApp(PID, KEY, DOOR, silent=True)))
    res = rig.present()
    assert res == ("transport", P.E_STATUS) and rig.failed_status == 0x01
    assert rig.auth.result() == (None, None)  # not decided: the caller reports the failure


@pytest.mark.parametrize("link", ("uart", "i2c"))
def test_a_noisy_link_never_accepts_a_wrong_key(link):
    # frames spoiled at random: every presentation ends in a decision or a transport failure, the
    # good phone is never refused for a bad MAC, and the wrong key is never accepted
    rig = Rig(link, seed=7)
    rig.emu.chaos = 0.15
    good, bad = phone(PhoneApp(PID, KEY, DOOR)), phone(PhoneApp(PID, OTHER_KEY, DOOR))
    outcomes = {"good": [], "bad": []}
    for i in range(30):
        name, card = ("good", good) if i % 2 == 0 else ("bad", bad)
        rig.emu.enter(card)
        res = rig.present(strict=False)
        rig.emu.leave(card)
        outcomes[name].append(res)
    assert all(r == (PID, None) or r[0] == "transport" for r in outcomes["good"])
    assert all(r == (None, R_BAD_MAC) or r[0] == "transport" for r in outcomes["bad"])
    assert (PID, None) in outcomes["good"] and (None, R_BAD_MAC) in outcomes["bad"]
    assert rig.drv.nacks > 0  # the faults did happen

