# Phone as key (lockctl/phone.py): exact SELECT and CHALLENGE APDU bytes, SELECT answer parsing,
# MAC verification (expected MACs computed once with CPython's hmac and written here), every result
# reason, fresh challenges per presentation (replay fails), and the PhoneAuth state machine.
from fwcheck import raises
from lockctl import phone as PH
from lockctl.hmac256 import hmac_sha256

DOOR = b"DOOR-0001"
PID = b"PHONE-01"  # 8 bytes
KEY = bytes(range(0x40, 0x60))  # 32 bytes
OTHER_KEY = bytes(range(0x60, 0x80))
# HMAC-SHA256(KEY, bytes(range(16)) || DOOR) and for bytes(range(16, 32)), from CPython's hmac
MAC0 = "2ee93f60c1917f720d4354d1c8c36732e1ed7a96305af61e419fa79c11ace7d6"
MAC1 = "ea4c0dc4d96bf21df81a9ba19fe8b8abfd6a1ac8bce2b1f6eab7263bb55150b5"
OK = b"\x90\x00"


def hexb(s):
    s = s.replace(" ", "")
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


class Rand:
    # deterministic rand(n): 0, 1, 2, ... continuing across calls
    def __init__(self, start=0):
        self.k = start
        self.calls = 0

    def __call__(self, n):
        out = bytes((self.k + i) & 0xFF for i in range(n))
        self.k += n
        self.calls += 1
        return out


def keys():
    return PH.PhoneKeys([(PID, KEY), (b"0123456789abcdef", OTHER_KEY)])


def test_aid():
    assert PH.AID == hexb("F0 44 4F 4F 52 4B 49 54")
    assert PH.AID[0] == 0xF0  # proprietary


def test_select_apdu_bytes():
    buf = bytearray(40)
    n = PH.build_select(buf)
    assert n == PH.SELECT_LEN == 14
    assert bytes(buf[:n]) == hexb("00 A4 04 00 08 F0 44 4F 4F 52 4B 49 54 00")


def test_challenge_apdu_bytes():
    buf = bytearray(22)
    n = PH.build_challenge(buf, bytes(range(16)))
    assert n == PH.CHALLENGE_APDU_LEN == 22
    assert bytes(buf[:n]) == hexb("80 10 00 00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 20")
    raises(ValueError, PH.build_challenge, buf, bytes(15))


def test_parse_select():
    assert PH.parse_select(PID + OK) == (PID, None)
    assert PH.parse_select(bytearray(b"0123456789abcdef" + OK)) == (b"0123456789abcdef", None)
    assert PH.parse_select(memoryview(PID + OK)) == (PID, None)
    assert PH.parse_select(b"\x6a\x82") == (None, PH.NO_APP)
    assert PH.parse_select(PID + b"\x6a\x82") == (None, PH.NO_APP)
    assert PH.parse_select(b"") == (None, PH.NO_APP)
    assert PH.parse_select(b"\x90") == (None, PH.NO_APP)
    assert PH.parse_select(OK) == (None, PH.BAD_ANSWER)  # no id
    assert PH.parse_select(b"1234567" + OK) == (None, PH.BAD_ANSWER)  # 7 bytes
    assert PH.parse_select(b"0123456789abcdefX" + OK) == (None, PH.BAD_ANSWER)  # 17 bytes


def test_mac_matches_cpython_constant():
    assert hmac_sha256(KEY, bytes(range(16)), DOOR) == hexb(MAC0)


def test_verify_good():
    ks = keys()
    c = bytes(range(16))
    assert PH.verify(hexb(MAC0) + OK, PID, c, DOOR, ks) == (PID, None)
    assert PH.verify(bytearray(hexb(MAC0) + OK), PID, bytearray(c), DOOR, ks) == (PID, None)


def test_verify_reasons():
    ks = keys()
    c = bytes(range(16))
    mac = hexb(MAC0)
    assert PH.verify(mac + OK, b"PHONE-99", c, DOOR, ks) == (None, PH.UNKNOWN_PHONE)
    assert PH.verify(mac + OK, PID, bytes(range(16, 32)), DOOR, ks) == (None, PH.BAD_MAC)  # replay
    assert PH.verify(hexb(MAC1) + OK, PID, c, DOOR, ks) == (None, PH.BAD_MAC)
    assert PH.verify(mac + OK, PID, c, b"DOOR-0002", ks) == (None, PH.BAD_MAC)  # another door
    wrong = hmac_sha256(OTHER_KEY, c, DOOR)
    assert PH.verify(wrong + OK, PID, c, DOOR, ks) == (None, PH.BAD_MAC)
    flipped = bytearray(mac)
    flipped[31] ^= 1
    assert PH.verify(bytes(flipped) + OK, PID, c, DOOR, ks) == (None, PH.BAD_MAC)
    assert PH.verify(mac + b"\x6f\x00", PID, c, DOOR, ks) == (None, PH.BAD_ANSWER)
    assert PH.verify(mac[:31] + OK, PID, c, DOOR, ks) == (None, PH.BAD_ANSWER)
    assert PH.verify(mac + b"\x00" + OK, PID, c, DOOR, ks) == (None, PH.BAD_ANSWER)
    assert PH.verify(b"", PID, c, DOOR, ks) == (None, PH.BAD_ANSWER)
    assert PH.verify(OK, PID, c, DOOR, ks) == (None, PH.BAD_ANSWER)


def test_phone_keys():
    ks = keys()
    assert len(ks) == 2
    assert ks.key_for(PID) == KEY
    assert ks.key_for(bytearray(PID)) == KEY
    assert ks.key_for(b"nobody!!") is None
    raises(ValueError, ks.add, b"short", KEY)
    raises(ValueError, ks.add, b"0123456789abcdefg", KEY)
    raises(ValueError, ks.add, b"PHONE-02", b"k" * 15)
    ks.remove(PID)
    assert ks.key_for(PID) is None and len(ks) == 1


def present(auth, phone_answers):
    # run one presentation; phone_answers(apdu bytes) -> response; returns (result, apdus sent)
    sent = []
    n = auth.begin()
    while n:
        apdu = bytes(auth.tx[:n])
        sent.append(apdu)
        n = auth.answer(phone_answers(apdu))
    assert auth.done
    return auth.result(), sent


def good_phone(key=KEY, pid=PID):
    def answer(apdu):
        if apdu[:2] == b"\x00\xa4":
            return pid + OK
        return hmac_sha256(key, apdu[5:21], DOOR) + OK
    return answer


def test_auth_good_phone():
    rnd = Rand()
    auth = PH.PhoneAuth(keys(), DOOR, rnd)
    assert auth.result() == (None, None)
    res, sent = present(auth, good_phone())
    assert res == (PID, None)
    assert sent[0] == hexb("00 A4 04 00 08 F0 44 4F 4F 52 4B 49 54 00")
    assert sent[1] == hexb("80 10 00 00 10") + bytes(range(16)) + b"\x20"
    assert rnd.calls == 1
    assert auth.phone_id == PID and auth.user == PID and auth.reason is None
    assert bytes(auth.challenge) == bytes(16)  # wiped after use


def test_auth_fresh_challenge_each_time_and_replay_fails():
    rnd = Rand()
    auth = PH.PhoneAuth(keys(), DOOR, rnd)
    res, sent1 = present(auth, good_phone())
    assert res == (PID, None)
    recorded = hexb(MAC0) + OK

    def replayer(apdu):
        if apdu[:2] == b"\x00\xa4":
            return PID + OK
        return recorded

    res, sent2 = present(auth, replayer)
    assert res == (None, PH.BAD_MAC)
    assert sent2[1][5:21] == bytes(range(16, 32)) != sent1[1][5:21]
    res, _ = present(auth, good_phone())  # the honest phone still works
    assert res == (PID, None)


def test_auth_wrong_key():
    auth = PH.PhoneAuth(keys(), DOOR, Rand())
    assert present(auth, good_phone(OTHER_KEY))[0] == (None, PH.BAD_MAC)


def test_auth_unknown_phone_skips_the_challenge():
    rnd = Rand()
    auth = PH.PhoneAuth(keys(), DOOR, rnd)
    res, sent = present(auth, good_phone(pid=b"STRANGER"))
    assert res == (None, PH.UNKNOWN_PHONE) and len(sent) == 1 and rnd.calls == 0
    assert auth.phone_id == b"STRANGER"


def test_auth_no_app_and_bad_answers():
    auth = PH.PhoneAuth(keys(), DOOR, Rand())
    res, sent = present(auth, lambda apdu: b"\x6a\x82")
    assert res == (None, PH.NO_APP) and len(sent) == 1
    res, _ = present(auth, lambda apdu: b"\x12" * 20 + OK)  # 20-byte id
    assert res == (None, PH.BAD_ANSWER)

    def short_mac(apdu):
        return PID + OK if apdu[1] == 0xA4 else b"\x00" * 10 + OK
    assert present(auth, short_mac)[0] == (None, PH.BAD_ANSWER)

    def refuses(apdu):
        return PID + OK if apdu[1] == 0xA4 else b"\x69\x85"
    assert present(auth, refuses)[0] == (None, PH.BAD_ANSWER)


def test_auth_state_errors():
    auth = PH.PhoneAuth(keys(), DOOR, Rand())
    raises(ValueError, auth.answer, PID + OK)  # nothing running
    present(auth, good_phone())
    raises(ValueError, auth.answer, hexb(MAC0) + OK)  # finished: the answer cannot be verified again
    bad = PH.PhoneAuth(keys(), DOOR, lambda n: bytes(n - 1))
    bad.begin()
    raises(ValueError, bad.answer, PID + OK)


def test_auth_restart_mid_presentation():
    # the card left after SELECT: begin() again starts over with a new challenge
    rnd = Rand()
    auth = PH.PhoneAuth(keys(), DOOR, rnd)
    auth.begin()
    assert auth.answer(PID + OK) == 22
    assert not auth.done
    n = auth.begin()
    assert n == 14 and auth.result() == (None, None) and bytes(auth.challenge) == bytes(16)
    ans = good_phone()
    n = auth.answer(ans(bytes(auth.tx[:n])))
    assert bytes(auth.tx[5:21]) == bytes(range(16, 32))
    assert auth.answer(ans(bytes(auth.tx[:n]))) == 0
    assert auth.result() == (PID, None)
