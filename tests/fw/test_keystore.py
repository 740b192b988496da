# The key store on a raw partition: lookups, validity, bundles streamed into the spare slot.
# Runs at the board's heap (96wK), not the strict 96k: the tests hold hundreds of records to build
# their bundles, which no board does (bench/keystore.py measures the store's own heap).
MP_HEAP = "96wK"
from lockctl import bundle as B
from lockctl import keystore as K
from lockctl.codes import (KIND_ISO14443A, KIND_FELICA, KIND_PHONE, KIND_PIN, R_UNKNOWN, R_DISABLED,
                           R_CLOCK_UNSET, R_OLD_VERSION, R_BASE_MISMATCH, R_WRONG_DOOR, R_BAD_SIGNATURE,
                           R_CORRUPT, R_NO_ROOM, R_FORMAT, R_STORE)
from keykit import cards, rec, full, delta, install, store, digest, SECRET, DOOR


def refused(st, data):
    try:
        install(st, data)
    except B.BundleError as e:
        return e.reason
    return None


def test_lookup_finds_each_credential_with_one_read():
    recs = cards(520, 7919)  # 3 data blocks
    st, dev = store(recs)
    assert len(st) == 520 and st.nblocks == 3
    for i in (0, 1, 254, 255, 300, 519):
        r0 = dev.reads
        assert st.check(KIND_ISO14443A, "%08X" % (i * 7919), None) == (i + 1, None)
        assert dev.reads - r0 == 1
    assert st.check(KIND_ISO14443A, "DEADBEEF", None) == (None, R_UNKNOWN)
    assert st.check(KIND_FELICA, "%08X" % 7919, None) == (None, R_UNKNOWN)  # the kind is part of the key


def test_a_blank_store_knows_nobody():
    st, dev = store()
    assert st.version == 0 and len(st) == 0 and st.error is None
    assert st.check(KIND_ISO14443A, "04A1B2C3", None) == (None, R_UNKNOWN)


def test_pins_and_phones():
    st, _ = store([rec(KIND_PIN, "4711", 3), rec(KIND_PHONE, "50484F4E452D3031", 4)])
    assert st.check(KIND_PIN, "4711", None) == (3, None)
    assert st.check(KIND_PIN, "4712", None) == (None, R_UNKNOWN)
    assert st.check(KIND_PIN, "12", None) == (None, R_UNKNOWN)  # not a PIN at all
    assert st.key_for(b"PHONE-01") == K.phone_key(SECRET, b"PHONE-01")
    assert st.key_for(b"PHONE-02") is None


def test_disabled_and_time_limited():
    st, _ = store([rec(KIND_ISO14443A, "01020304", 1, enabled=False),
                   rec(KIND_ISO14443A, "05060708", 2, until=20000)])
    assert st.check(KIND_ISO14443A, "01020304", None) == (None, R_DISABLED)
    assert st.check(KIND_ISO14443A, "05060708", None) == (None, R_CLOCK_UNSET)
    assert st.check(KIND_ISO14443A, "05060708", 19000 * 86400) == (2, None)


def test_bundle_refusals_change_nothing():
    a = rec(KIND_ISO14443A, "01020304", 1)
    st, dev = store([a], version=5)
    active = digest(dev, st.slot * st.slot_blocks, st.slot_blocks)
    assert refused(st, full([a], version=5)) == R_OLD_VERSION  # replay
    assert refused(st, full([a], version=4)) == R_OLD_VERSION  # rollback
    assert refused(st, full([a], version=6, door=b"door-2")) == R_WRONG_DOOR
    assert refused(st, full([a], version=6, secret=b"x" * 32)) == R_BAD_SIGNATURE
    assert refused(st, delta([(B.OP_ADD, rec(KIND_ISO14443A, "0A0B0C0D", 2))], 7, 6)) == R_BASE_MISMATCH
    bad = bytearray(full([a], version=6))
    bad[-3] ^= 1
    assert refused(st, bytes(bad)) == R_CORRUPT  # the body hash catches it only at the end
    assert refused(st, b"GARBAGE" + bytes(200)) == R_FORMAT
    assert refused(st, full([a], version=6)[:-5]) == R_CORRUPT
    st2 = K.KeyStore(dev.power_cycle(), SECRET, DOOR)
    assert st2.version == 5 and st2.check(KIND_ISO14443A, "01020304", None) == (1, None)
    assert st.version == 5 and st.check(KIND_ISO14443A, "01020304", None) == (1, None)
    assert digest(dev, st.slot * st.slot_blocks, st.slot_blocks) == active  # the installed slot was never written


def test_delta_add_remove_change():
    a, b, c = (rec(KIND_ISO14443A, "%08X" % i, i) for i in (1, 2, 3))
    st, dev = store([a, b, c], version=1)
    d = delta([(B.OP_ADD, rec(KIND_FELICA, "0102030405060708", 9)),
               (B.OP_REMOVE, b),
               (B.OP_CHANGE, rec(KIND_ISO14443A, "00000003", 33))], 2, 1)
    assert install(st, d) == 2
    assert st.check(KIND_ISO14443A, "00000001", None) == (1, None)
    assert st.check(KIND_ISO14443A, "00000002", None) == (None, R_UNKNOWN)
    assert st.check(KIND_ISO14443A, "00000003", None) == (33, None)
    assert st.check(KIND_FELICA, "0102030405060708", None) == (9, None)
    assert len(st) == 3
    st2 = K.KeyStore(dev.power_cycle(), SECRET, DOOR)
    assert st2.version == 2 and st2.check(KIND_ISO14443A, "00000003", None) == (33, None)


def test_delta_that_does_not_fit_the_installed_store_is_corrupt():
    a = rec(KIND_ISO14443A, "01", 1)
    st, _ = store([a])
    assert refused(st, delta([(B.OP_ADD, a)], 2, 1)) == R_CORRUPT
    assert refused(st, delta([(B.OP_REMOVE, rec(KIND_ISO14443A, "02", 1))], 2, 1)) == R_CORRUPT
    assert st.check(KIND_ISO14443A, "01", None) == (1, None)


def test_no_room():
    st, _ = store(blocks=4)  # slots of 2 blocks: a header and one data block
    assert st.capacity == 255
    recs = cards(256)
    assert refused(st, full(recs)) == R_NO_ROOM
    assert install(st, full(recs[:255])) == 1


def test_a_corrupt_block_answers_store_and_the_rest_still_open():
    recs = cards(400)
    st, dev = store(recs)
    # flip bits in the second data block of the installed slot
    blk = st.slot * st.slot_blocks + 2
    dev.writeblocks(blk, b"\x00", 100)
    st2 = K.KeyStore(dev.power_cycle(), SECRET, DOOR)
    assert st2.verify() == 1 and st2.error
    opened = store_errors = 0
    for i in range(400):
        r = st2.check(KIND_ISO14443A, "%08X" % i, None)
        opened += r[1] is None
        store_errors += r[1] == R_STORE
    assert store_errors == 400 - 255 and opened == 255  # the whole first block still opens


def test_records_in_key_order():
    recs = cards(300)
    st, _ = store(recs)
    assert list(st.records()) == sorted(recs)


def test_a_delta_merges_one_block_a_step():
    recs = cards(520)  # 3 data blocks
    st, dev = store(recs, blocks=10)
    assert max(recs)[:6] < b"\xff" * 6
    new = K.pack(b"\xff" * 6, 999)  # a key above the installed ones: the merge copies them all first
    data = delta([(B.OP_ADD, new)], 2, 1)
    inst = st.begin(data[:B.HEADER])
    inst.feed(data[B.HEADER:])  # queued, nothing merged yet
    assert inst.busy()
    steps, most = 0, 0
    inst.end()
    while True:
        e0 = dev.erases
        more = inst.step()
        most = max(most, dev.erases - e0)
        steps += 1
        if not more:
            break
    assert most == 1 and steps >= 3  # one block written a step, the lock's loop runs in between
    assert inst.finish() == 2 and len(st) == 521 and st.check(KIND_ISO14443A, "%08X" % 0, None) == (1, None)
