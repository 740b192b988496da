"""A virtual phone running the doorkit HCE app (CPython), for the emulator's ISO-DEP target.

    app = PhoneApp(phone_id, key, door_id)
    card = doorkit.sim.pn532.phone(app)     # TypeA, SAK 20, random 08 xx xx xx UID per entry
    emu.enter(card)

It answers SELECT for its AID with `phone_id 90 00` (6A 82 for any other AID) and the CHALLENGE
command (80 10 00 00 10 <16 bytes> 20) with HMAC-SHA256(key, challenge || door_id) 90 00, computed
with CPython's `hmac` module, on purpose independent of firmware/lockctl/hmac256.py. The protocol is
in docs/phone.md.

Misbehaviour, for the tests: `key=` another key (wrong key), `replay=` bytes answered to every
challenge (a recorded answer), `aid=` another AID (the app is not ours: SELECT gets 6A 82),
`garbage=True` (random bytes of a random length instead of the MAC answer), `silent=True` (no answer
to the challenge: the reader sees a timeout status).
"""
import hashlib
import hmac
import random

DOORKIT_AID = b"\xf0DOORKIT"
SW_OK = b"\x90\x00"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_CONDITIONS = b"\x69\x85"  # CHALLENGE before SELECT
SW_WRONG_LENGTH = b"\x67\x00"
SW_INS_UNKNOWN = b"\x6d\x00"
SW_CLA_UNKNOWN = b"\x6e\x00"


def mac(key, challenge, door_id):
    return hmac.new(bytes(key), bytes(challenge) + bytes(door_id), hashlib.sha256).digest()


class PhoneApp:
    def __init__(self, phone_id, key, door_id, *, aid=DOORKIT_AID, replay=None, garbage=False,
                 silent=False, seed=0):
        self.phone_id = bytes(phone_id)
        self.key = bytes(key)
        self.door_id = bytes(door_id)
        self.aid = bytes(aid)
        self.replay = replay
        self.garbage = garbage
        self.silent = silent
        self.rng = random.Random(seed)
        self.selected = False
        self.log = []  # (command APDU, response) pairs
        self.challenges = []  # challenges seen
        self.answers = []  # full answers to CHALLENGE (MAC + 90 00), for replay tests

    def __call__(self, apdu):
        r = self.process(bytes(apdu))
        self.log.append((bytes(apdu), r))
        return r

    def process(self, apdu):
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[:4]
        if cla == 0x00 and ins == 0xA4:
            return self._select(apdu, p1, p2)
        if cla == 0x80 and ins == 0x10:
            return self._challenge(apdu)
        return SW_CLA_UNKNOWN if cla not in (0x00, 0x80) else SW_INS_UNKNOWN

    def _select(self, apdu, p1, p2):
        # SELECT by name: 00 A4 04 00 Lc AID [Le]; Android routes it to the app registered for it
        self.selected = False
        if p1 != 0x04 or len(apdu) < 5 or len(apdu) < 5 + apdu[4]:
            return SW_FILE_NOT_FOUND
        name = apdu[5:5 + apdu[4]]
        if name != self.aid:
            return SW_FILE_NOT_FOUND
        self.selected = True
        return self.phone_id + SW_OK

    def _challenge(self, apdu):
        if not self.selected:
            return SW_CONDITIONS
        if len(apdu) < 5 or apdu[4] != 16 or len(apdu) < 5 + 16:
            return SW_WRONG_LENGTH
        challenge = apdu[5:21]
        self.challenges.append(challenge)
        if self.silent:
            return None
        if self.garbage:
            out = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(0, 40)))
        elif self.replay is not None:
            out = bytes(self.replay)
        else:
            out = mac(self.key, challenge, self.door_id) + SW_OK
        self.answers.append(out)
        return out
