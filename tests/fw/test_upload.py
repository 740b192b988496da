# lockctl.upload: the signed event batches the hub sends and the acks the collector returns. Both runtimes.
from lockctl.upload import Batcher, read_events, ack, read_ack, UploadError, MAX_BATCH
from lockctl.codes import LOG_UNLOCK, LOG_DOOR_OPEN, LOG_DENIED, LOG_BOOT, KIND_ISO14443A, KIND_FELICA

SECRET = b"k" * 32
DOOR = b"door-1"

RECS = [
    (1, 3, False, 120, LOG_BOOT, (1, 3), None),
    (2, 3, True, 1800000000, LOG_UNLOCK, KIND_ISO14443A, 7),
    (3, 3, True, 1800000004, LOG_DOOR_OPEN, None, None),
    (4, 3, True, 1800000100, LOG_DENIED, 8, (KIND_FELICA, "0101020304050607")),
]


def refused(words, fn, *a):
    try:
        fn(*a)
    except UploadError as e:
        assert words in str(e), str(e)
        return
    raise AssertionError("accepted")


def test_a_batch_round_trips_every_field():
    b = Batcher(SECRET, DOOR)
    b.clear(1)
    for r in RECS:
        assert b.add(r)
    assert (b.first, b.last, b.n) == (1, 4, 4)
    msg = bytes(b.message())
    assert len(msg) == 29 + 4 * 26 + 32
    assert read_events(msg, SECRET, DOOR) == (1, 4, RECS)
    b.clear(2)  # seq 2 was torn on flash: the batch still says it covers it
    b.add(RECS[2])
    assert read_events(bytes(b.message()), SECRET, DOOR) == (2, 3, [RECS[2]])
    b.clear(9)
    b.last = 12
    assert read_events(bytes(b.message()), SECRET, DOOR) == (9, 12, [])  # an empty span (all dropped)


def test_a_batch_out_of_order_is_refused():
    b = Batcher(SECRET, DOOR)
    b.clear(3)
    b.add(RECS[0])  # seq 1 in a batch from 3
    refused("out of order", read_events, bytes(b.message()), SECRET, DOOR)
    b.clear(1)
    b.add(RECS[1])
    b.add(RECS[0])
    refused("out of order", read_events, bytes(b.message()), SECRET, DOOR)


def test_a_full_batch_takes_no_more():
    b = Batcher(SECRET, DOOR)
    b.clear(1)
    for i in range(MAX_BATCH):
        assert b.add((i + 1, 0, True, 1800000000 + i, LOG_DOOR_OPEN, None, None))
    assert not b.add((99, 0, True, 0, LOG_DOOR_OPEN, None, None))
    got = read_events(bytes(b.message()), SECRET, DOOR)[2]
    assert [r[0] for r in got] == list(range(1, MAX_BATCH + 1))


def test_forged_foreign_and_damaged_batches_are_refused():
    b = Batcher(SECRET, DOOR)
    b.clear(1)
    for r in RECS:
        b.add(r)
    msg = bytes(b.message())
    refused("signature", read_events, msg, b"x" * 32, DOOR)
    refused("another door", read_events, msg, SECRET, b"door-2")
    refused("length", read_events, msg[:-1], SECRET, DOOR)
    refused("not a doorkit", read_events, b"DKA1" + msg[4:], SECRET, DOOR)
    for i in (20, 24, 29, 30, 50, len(msg) - 33):
        t = bytearray(msg)
        t[i] ^= 4
        refused("signature", read_events, bytes(t), SECRET, DOOR)


def test_acks():
    a = ack(SECRET, DOOR, 100, 123456)
    assert len(a) == 60 and read_ack(a, SECRET, DOOR) == (100, 123456)
    refused("signature", read_ack, a, b"x" * 32, DOOR)
    refused("another door", read_ack, a, SECRET, b"door-3")
    refused("not a doorkit ack", read_ack, a[:-1], SECRET, DOOR)
    t = bytearray(a)
    t[20] ^= 1  # a forged seq
    refused("signature", read_ack, bytes(t), SECRET, DOOR)


def test_a_record_whose_credential_was_cut_to_a_prefix_goes_up_as_stored():
    # a 14-byte ident does not fit a DENIED record: the log keeps its first bytes, decoded with "..."
    from lockctl.eventlog import encode_slot, decode_slot
    from lockctl.codes import KIND_ISO14443A
    slot = bytearray(20)
    encode_slot(slot, (0, LOG_DENIED, 123456, (KIND_ISO14443A, "0102030405060708090A0B0C0D0E")), 1800000000, True)
    wall, t, code, arg, who = decode_slot(slot)
    assert who[1].endswith("...")
    b = Batcher(SECRET, DOOR)
    b.clear(7)
    assert b.add((7, 2, wall, t, code, arg, who))  # (it raised ValueError: every upload after it stopped)
    got = read_events(bytes(b.message()), SECRET, DOOR)[2]
    assert got == [(7, 2, wall, t, code, arg, who)]
    again = bytearray(20)
    encode_slot(again, (0, code, arg, who), t, wall)
    assert again == slot  # byte for byte as the flash holds it
