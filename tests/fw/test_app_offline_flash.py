# The whole firmware offline (issue 7): flash found corrupt at boot (rig: offlinerig.py). The lock
# boots in the state it is in, logs STORE_FAULT with the area, lets people out (button, knob), answers
# DENIED store for what it cannot read, and rewrites nothing (the corrupted bytes are still there).
# Records are compared as (t, code, arg, who) tuples (see offlinerig.py on the heap).
from offlinerig import Door, creds, expected, on_flash, still_serves, CARD, PIN, PROFILES, UNLOCK, KEY_BLOCKS
from keykit import rec, digest, install, SECRET, DOOR
from lockctl import bundle as B
from lockctl import keystore as K
from lockctl.eventlog import SLOTS
from lockctl.plan import TALLY_BLOCKS
from lockctl.codes import (EV_CONFIG, LOG_BOOT, LOG_DOOR_OPEN, LOG_DOOR_CLOSE, LOG_STORE_FAULT, LOG_UNLOCK, LOG_DENIED, STORE_KEYS, STORE_LOG,
                           LOCKED, UNLOCKED, R_STORE)

MP_HEAP = "96wK"  # the whole firmware shell: App + core + key store + event log (tests/conftest.py)


def boot_records(state, boots, area):
    return [(0, LOG_BOOT, (state, boots), None), (0, LOG_STORE_FAULT, (area, -1), None)]


def store_denied(t, ident, kind=CARD):
    return (t, LOG_DENIED, R_STORE, (kind, ident))


def test_a_corrupt_key_store_header_is_reported_and_left_alone():
    d = Door()
    ks = d.storage.keys
    hdr = ks.slot * ks.slot_blocks
    d.dev.writeblocks(hdr, b"\x00\x00\x00", 24)  # the door field (programming only clears bits)
    before = digest(d.dev, 0, KEY_BLOCKS)
    d.reboot()
    assert d.app.log[:2] == boot_records(LOCKED, 2, STORE_KEYS)
    assert d.storage.faults == [(STORE_KEYS, -1)]
    still_serves(d, 1000)
    assert d.card(2000, "A1B2C3D4") == store_denied(2000, "A1B2C3D4")
    assert d.card(2100, "4711", PIN) == store_denied(2100, "", PIN)
    assert d.card(2200, "0F0F0F0F") == store_denied(2200, "0F0F0F0F")
    assert d.app.core.pin_fails == 0  # a store that cannot answer counts no wrong PIN
    assert digest(d.dev, 0, KEY_BLOCKS) == before  # nothing rewritten
    d.reboot()
    assert d.app.log[:2] == boot_records(UNLOCKED, 3, STORE_KEYS) and digest(d.dev, 0, KEY_BLOCKS) == before
    assert on_flash(d, 2) == expected(d.logs[1])


class _Sorted:
    """262 records in one bytearray, iterated in key order (B.chunks reads them twice): in the
    MicroPython heap 262 separate records, with the HMAC garbage between them, left no 4 KB block for
    the key store's buffers."""

    def __init__(self):
        n = 262
        self.blob = blob = bytearray(n * 16)
        self.order = order = list(range(n))
        extra = creds()
        for i in range(n):
            blob[i * 16:i * 16 + 16] = rec(CARD, "%08X" % (i * 7919), i + 1) if i < 258 else extra[i - 258]
        order.sort(key=lambda i: bytes(blob[i * 16:i * 16 + 6]))

    def __iter__(self):
        for i in self.order:
            yield bytes(self.blob[i * 16:i * 16 + 16])


def _provision_two_blocks(part):
    st = K.KeyStore(part, SECRET, DOOR)
    install(st, B.chunks(SECRET, DOOR, B.FULL, 1, 0, list(PROFILES), _Sorted()))


def test_a_corrupt_key_store_block_answers_store_for_its_credentials_only():
    d = Door(keys=False, pos=UNLOCK, provision=_provision_two_blocks)
    ks = d.storage.keys
    assert ks.nblocks == 2
    second = bytes(ks.index[6:12])  # the first key of the second data block
    in_second = []
    in_first = []
    i = 0
    while len(in_first) < 3 or len(in_second) < 3:  # three cards of each block
        ident = "%08X" % (i * 7919)
        side = in_second if K.cred_key(SECRET, CARD, ident) >= second else in_first
        if len(side) < 3:
            side.append((ident, i + 1))
        i += 1
    blk = ks.slot * ks.slot_blocks + 2
    d.dev.writeblocks(blk, b"\x00", 1000)
    before = digest(d.dev, 0, KEY_BLOCKS)
    d.reboot()
    assert d.app.log[:2] == boot_records(UNLOCKED, 2, STORE_KEYS)
    t = 100
    for ident, user in in_first:
        assert d.card(t, ident) == (t, LOG_UNLOCK, CARD, user)
        t += 100
    for ident, user in in_second:
        assert d.card(t, ident) == store_denied(t, ident)
        t += 100
    assert digest(d.dev, 0, KEY_BLOCKS) == before


def test_corrupt_log_sectors_are_reported_and_left_alone():
    d = Door()
    for i in range(SLOTS + 10):  # the first ring sector full, the second one the head
        d.storage.log.append((100 + i, LOG_DOOR_OPEN if i % 2 else LOG_DOOR_CLOSE, None, None), 100 + i, False)
    n = 0
    old = []  # the head sector's records (a list of all 216 would need a 2 KB block)
    for r in d.storage.log.records():
        assert r[0] == n + 1
        n += 1
        if r[0] > SLOTS:
            old.append(r)
    assert n == SLOTS + 12 and old[0][0] == SLOTS + 1
    ring = KEY_BLOCKS + TALLY_BLOCKS
    d.dev.writeblocks(ring, b"\x00", 4)  # sector 0's header (its base seq, 1)
    d.dev.writeblocks(ring + 1, b"\x00\x00", 16 + 3 * 20 + 18)  # slot 3 of the head: its check
    first = digest(d.dev, ring, 1)
    slot = bytearray(20)
    d.dev.readblocks(ring + 1, slot, 16 + 3 * 20)
    d.reboot()
    assert d.app.log[:2] == boot_records(LOCKED, 2, STORE_LOG)
    still_serves(d, 1000)
    assert d.card(2000, "A1B2C3D4") == (2000, LOG_UNLOCK, CARD, 1)
    # the corrupted bytes are still there
    assert digest(d.dev, ring, 1) == first
    now = bytearray(20)
    d.dev.readblocks(ring + 1, now, 16 + 3 * 20)
    assert now == slot
    # what is readable is read: the head's records but the torn one, then this boot's, seqs above
    got = list(d.storage.log.records())
    n_old = len(old) - 1
    assert [r[0] for r in got[:n_old]] == [r[0] for r in old if r[0] != SLOTS + 4]
    assert [r[2:] for r in got[:n_old]] == [r[2:] for r in old if r[0] != SLOTS + 4]
    assert got[n_old][0] > old[-1][0] and got[n_old][4] == LOG_BOOT
    assert on_flash(d, 2) == expected(d.app.log)


def test_a_corrupt_tally_is_reported():
    d = Door()
    d.app.feed(d.step(100), EV_CONFIG, {"held_open_ms": 5000})
    for b in (0, 1):
        d.dev.writeblocks(KEY_BLOCKS + b, b"\x00", 2)  # both tally headers
    d.reboot()
    assert d.app.log[:2] == boot_records(LOCKED, 1, STORE_LOG)  # (the boot count was lost with it)
    still_serves(d, 1000)
    assert d.card(2000, "A1B2C3D4") == (2000, LOG_UNLOCK, CARD, 1)
