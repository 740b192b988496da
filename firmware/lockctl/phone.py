# Phone as key (issue 3): the lock's side of a challenge-response over ISO-DEP with an Android
# HCE-style app. Sans-IO: it builds command APDUs into its own buffer and parses / verifies the
# answers; the caller carries them with the PN532 (InDataExchange). Design: docs/phone.md.
#
# APDUs (hex; Lc / Le are one byte):
#
#   SELECT      lock  -> phone   00 A4 04 00 08 F0 44 4F 4F 52 4B 49 54 00     (AID "\xF0DOORKIT")
#               phone -> lock    <phone id: 8..16 bytes> 90 00
#                                anything else with a status other than 90 00: "no-app"
#   CHALLENGE   lock  -> phone   80 10 00 00 10 <challenge: 16 random bytes> 20
#               phone -> lock    <MAC: 32 bytes> 90 00
#                                MAC = HMAC-SHA256(phone key, challenge || door id)
#
# Results: (phone id, None) for a valid answer, else (None, reason), reason (an R_* code) one of
#   "no-app"         SELECT refused (status not 90 00: no such app, or not a phone)
#   "bad-answer"     a malformed answer: id length, answer length, or a status other than 90 00
#   "unknown-phone"  no key for this phone id
#   "bad-mac"        the MAC does not match (wrong key, or an answer to another challenge: replay)
#
# Each presentation draws a fresh challenge from the injected rand(n) -> n bytes (os.urandom on the
# board), so a recorded answer is worth nothing later. The 08 xx xx xx UID of an HCE phone is random
# and identifies nothing: only the phone id + MAC does.
from lockctl.hmac256 import hmac_sha256, equal
from lockctl.codes import R_NO_APP, R_BAD_ANSWER, R_UNKNOWN_PHONE, R_BAD_MAC

AID = b"\xf0DOORKIT"
CLA_PROP = 0x80
INS_CHALLENGE = 0x10
CHALLENGE_LEN = 16
MAC_LEN = 32
ID_MIN = 8
ID_MAX = 16

# reasons (lockctl/codes.py R_*; their names "no-app", ... are lockctl/record.py's)
NO_APP = R_NO_APP
BAD_ANSWER = R_BAD_ANSWER
UNKNOWN_PHONE = R_UNKNOWN_PHONE
BAD_MAC = R_BAD_MAC

SELECT_LEN = 6 + 8  # 00 A4 04 00 Lc AID Le
CHALLENGE_APDU_LEN = 6 + CHALLENGE_LEN  # CLA INS P1 P2 Lc challenge Le


def build_select(buf):
    # SELECT by AID (first or only occurrence) into buf; returns its length
    buf[0] = 0x00
    buf[1] = 0xA4
    buf[2] = 0x04
    buf[3] = 0x00
    n = len(AID)
    buf[4] = n
    i = 0
    while i < n:
        buf[5 + i] = AID[i]
        i += 1
    buf[5 + n] = 0x00
    return 6 + n


def build_challenge(buf, challenge):
    # the CHALLENGE command with the 16-byte challenge into buf; returns its length
    if len(challenge) != CHALLENGE_LEN:
        raise ValueError("challenge")
    buf[0] = CLA_PROP
    buf[1] = INS_CHALLENGE
    buf[2] = 0x00
    buf[3] = 0x00
    buf[4] = CHALLENGE_LEN
    i = 0
    while i < CHALLENGE_LEN:
        buf[5 + i] = challenge[i]
        i += 1
    buf[5 + CHALLENGE_LEN] = MAC_LEN
    return 6 + CHALLENGE_LEN


def _ok(resp, n):
    return n >= 2 and resp[n - 2] == 0x90 and resp[n - 1] == 0x00


def parse_select(resp):
    # the SELECT answer -> (phone id bytes, None) or (None, NO_APP / BAD_ANSWER)
    n = len(resp)
    if not _ok(resp, n):
        return None, NO_APP
    k = n - 2
    if k < ID_MIN or k > ID_MAX:
        return None, BAD_ANSWER
    return bytes(resp[:k]), None


def verify(resp, phone_id, challenge, door_id, keys):
    # the CHALLENGE answer -> (phone id, None) or (None, BAD_ANSWER / UNKNOWN_PHONE / BAD_MAC)
    n = len(resp)
    if n != MAC_LEN + 2 or not _ok(resp, n):
        return None, BAD_ANSWER
    key = keys.key_for(phone_id)
    if not key:
        return None, UNKNOWN_PHONE
    mac = hmac_sha256(key, challenge, door_id)
    if not equal(mac, memoryview(resp)[:MAC_LEN]):
        return None, BAD_MAC
    return phone_id, None


class PhoneKeys:
    # phone id -> key, in memory: a stand-in for the tests of the protocol alone. The lock uses the
    # key store's key_for() (lockctl/keystore.py: the key derived from the door secret)
    def __init__(self, entries=None):
        self._keys = {}
        if entries:
            for pid, key in entries:
                self.add(pid, key)

    def add(self, phone_id, key):
        if not ID_MIN <= len(phone_id) <= ID_MAX:
            raise ValueError("phone id of 8..16 bytes")
        if len(key) < 16:
            raise ValueError("key of at least 16 bytes")
        self._keys[bytes(phone_id)] = bytes(key)

    def remove(self, phone_id):
        self._keys.pop(bytes(phone_id), None)

    def key_for(self, phone_id):
        return self._keys.get(bytes(phone_id))

    def __len__(self):
        return len(self._keys)


_IDLE = 0
_SELECT = 1  # SELECT sent, waiting for its answer
_CHALLENGE = 2  # CHALLENGE sent
_DONE = 3


class PhoneAuth:
    # One presentation at a time:
    #   n = auth.begin()            send auth.tx[:n] (InDataExchange), answer with the response data
    #   n = auth.answer(resp)       n > 0: send auth.tx[:n] next; 0: finished, see auth.result()
    # The key lookup happens after SELECT, so an unknown phone costs no second exchange. A transport
    # failure (timeout, card gone) is the caller's to report; begin() starts over with a new challenge.
    def __init__(self, keys, door_id, rand):
        self.keys = keys
        self.door_id = bytes(door_id)
        self.rand = rand  # rand(n) -> n random bytes (os.urandom on the board)
        self.tx = bytearray(CHALLENGE_APDU_LEN)
        self.challenge = bytearray(CHALLENGE_LEN)
        self.phone_id = None
        self.user = None
        self.reason = None
        self._st = _IDLE

    @property
    def done(self):
        return self._st == _DONE

    def begin(self):
        self._wipe()
        self.phone_id = None
        self.user = None
        self.reason = None
        self._st = _SELECT
        return build_select(self.tx)

    def answer(self, resp):
        st = self._st
        if st == _SELECT:
            pid, why = parse_select(resp)
            if why is not None:
                return self._end(None, why)
            self.phone_id = pid
            if not self.keys.key_for(pid):
                return self._end(None, UNKNOWN_PHONE)
            r = self.rand(CHALLENGE_LEN)
            if len(r) != CHALLENGE_LEN:
                raise ValueError("rand")
            c = self.challenge
            i = 0
            while i < CHALLENGE_LEN:
                c[i] = r[i]
                i += 1
            self._st = _CHALLENGE
            return build_challenge(self.tx, c)
        if st == _CHALLENGE:
            user, why = verify(resp, self.phone_id, self.challenge, self.door_id, self.keys)
            return self._end(user, why)
        raise ValueError("no exchange running")

    def result(self):
        # (phone id, None) or (None, reason); (None, None) while running
        return self.user, self.reason

    def _end(self, user, why):
        self.user = user
        self.reason = why
        self._st = _DONE
        self._wipe()  # one challenge, one answer: it cannot be verified again
        return 0

    def _wipe(self):
        c = self.challenge
        i = 0
        while i < CHALLENGE_LEN:
            c[i] = 0
            i += 1
