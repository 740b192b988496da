# The event log (lockctl/eventlog.py): 20-byte records in a ring of raw sectors, seqs implicit and
# never repeated (across reboots, torn slots, rotations, wiped rings), a full ring dropping its
# oldest sector with a DROPPED record, acks in the tally, and power cuts at every write op.
import gc
import sys

from fwcheck import raises
from sim.nor import NorFlash, Partition, RamCells
from lockctl import codes as C
from lockctl.tally import Tally, T_SEQ_FLOOR, T_CURSOR
from lockctl.eventlog import EventLog, encode_slot, decode_slot, correct_times, TORN, SLOTS

MP = sys.implementation.name == "micropython"
# one 4-block device for every test: 2 tally blocks + 2 sectors (the unix port's 96k heap also
# holds this module and the firmware: a new device per test would not fit for long)
N = 2
_CELLS = []


def _dev():
    if not _CELLS:
        _CELLS.append(RamCells((2 + N) * 4096))
    c = _CELLS[0]
    c.erase(0, c.size)
    return NorFlash(2 + N, cells=c)


UNIX_2026 = 1798761599  # 2026-12-31 23:59:59 UTC
MS_49_DAYS = 49 * 86400000  # u32 ms since boot near its wrap
UID10 = "04A1B2C3D4E5F6071829"
PHONE16 = "00112233445566778899AABBCCDDEEFF"

# every LOG_* code with the biggest arg / who the core gives it -> (record, who as decoded)
BIGGEST = (
    ((0, C.LOG_BOOT, (C.CALIBRATING, 0xFFFFFFFF), None), None),
    ((0, C.LOG_LOCK, C.SRC_BOOT, 0xFFFFFF), 0xFFFFFF),
    ((0, C.LOG_UNLOCK, C.KIND_ISO_DEP, 0xFFFFFF), 0xFFFFFF),
    ((0, C.LOG_MANUAL_LOCK, None, None), None),
    ((0, C.LOG_MANUAL_UNLOCK, None, None), None),
    ((0, C.LOG_REFUSED, C.R_LAST, 0xFFFFFF), 0xFFFFFF),
    ((0, C.LOG_DENIED, C.R_LAST, (C.KIND_ISO14443A, UID10)), (C.KIND_ISO14443A, UID10)),
    ((0, C.LOG_DENIED, C.R_PIN_LOCKOUT, (C.KIND_PIN, "123456")), (C.KIND_PIN, "")),
    ((0, C.LOG_DENIED, C.R_BAD_MAC, (C.KIND_PHONE, PHONE16)), (C.KIND_PHONE, PHONE16[:20] + "...")),
    ((0, C.LOG_DENIED, C.R_UNKNOWN, (C.KIND_FELICA, "0123456789abcdef")), (C.KIND_FELICA, "0123456789ABCDEF")),
    ((0, C.LOG_DOOR_OPEN, None, None), None),
    ((0, C.LOG_DOOR_CLOSE, None, None), None),
    ((0, C.LOG_FORCED_OPEN, None, None), None),
    ((0, C.LOG_HELD_OPEN, None, None), None),
    ((0, C.LOG_RETRY, C.R_TIMEOUT, 0xFFFFFF), 0xFFFFFF),
    ((0, C.LOG_JAM, C.TOWARD_LOCK, 0xFFFFFF), 0xFFFFFF),
    ((0, C.LOG_JAM_CLEAR, None, None), None),
    ((0, C.LOG_ABORT, C.R_LAST, 0xFFFFFF), 0xFFFFFF),
    ((0, C.LOG_CALIBRATED, (-2 ** 31, 2 ** 31 - 1), None), None),
    ((0, C.LOG_CAL_FAIL, C.R_LAST, None), None),
    ((0, C.LOG_CONFIG, (2, 600000), None), None),
    ((0, C.LOG_CONFIG, (3, 3600000), None), None),
    ((0, C.LOG_CONFIG, (11, True), None), None),
    ((0, C.LOG_CONFIG, (1, False), None), None),
    ((0, C.LOG_READER_DOWN, -2 ** 31, None), None),
    ((0, C.LOG_READER_UP, None, None), None),
    ((0, C.LOG_FAULT, (C.F_STORE, C.EV_LAST), None), None),
    ((0, C.LOG_CLOCK_SET, (UNIX_2026, MS_49_DAYS), None), None),
    ((0, C.LOG_BUNDLE, (0xFFFFFFFF, 0xFFFF), None), None),
    ((0, C.LOG_BUNDLE_REFUSED, C.R_LAST, None), None),
    ((0, C.LOG_PIN_LOCKOUT, 0xFFFFFFFF, None), None),
    ((0, C.LOG_BATTERY, (C.BATT_CRITICAL, 0xFFFF), None), None),
    ((0, C.LOG_DROPPED, 0xFFFFFFFF, None), None),
    ((0, C.LOG_STORE_FAULT, (C.STORE_FS, -2 ** 31), None), None),
    ((0, C.LOG_COMMAND, (C.OP_LAST, 0xFFFFFFFF), 65534), 65534),
    ((0, C.LOG_COMMAND_REFUSED, (C.R_LAST, C.OP_LAST), 65534), 65534),
    ((0, C.LOG_LINK, 7, None), None),
    ((0, C.LOG_URL_KEY, (0xFFFF, 0xFFFFFFFF), 65534), 65534),
    ((0, C.LOG_URL_KEY_UNLOCK, (0xFFFF, 0xFFFFFFFF), 65534), 65534),
)


def _rec(s):
    # the record appended as number s (its content tells it apart from its neighbours)
    k = s % 4
    if k == 0:
        return (s, C.LOG_UNLOCK, C.SRC_BUTTON, s % 1000)
    if k == 1:
        return (s, C.LOG_DENIED, C.R_UNKNOWN, (C.KIND_ISO14443A, "04A1B2C3%04X" % (s & 0xFFFF)))
    if k == 2:
        return (s, C.LOG_DOOR_OPEN, None, None)
    return (s, C.LOG_CONFIG, (3, s), None)


def _content(s):
    r = _rec(s)
    return (r[1], r[2], r[3])


def _mount(d, boot=1):
    t = Tally(Partition(d, 0, 2))
    return t, EventLog(Partition(d, 2, N), t, boot)


def _same(records, want):
    """The seqs of `records` are the ints of `want`, in order (streamed: no lists on the heap)."""
    w = iter(want)
    for r in records:
        x = next(w, None)
        assert r[0] == x, (r[0], x)
    x = next(w, None)
    assert x is None, ("missing", x)


def _fill(log, first, last):
    for s in range(first, last + 1):
        assert log.append(_rec(s)) == s


def _verify(log, first, last, lost=0):
    """records() comes in strictly increasing seq order; every seq first..last is there with its
    content, except that 1..lost may be gone as a whole (a dropped sector). -> the highest seq."""
    top = 0
    want = first
    gone = None
    for r in log.records():
        s = r[0]
        assert s > top, (s, top)
        top = s
        if s <= lost:
            assert gone is not True and s == (gone or 1), s
            gone = s + 1
            assert (r[4], r[5], r[6]) == _content(s)
        elif first <= s <= last:
            assert s == want, (s, want)
            assert (r[4], r[5], r[6]) == _content(s), r
            want += 1
        else:
            gone = gone or True
    assert want == last + 1, (want, last)
    assert gone is None or gone is True or gone == lost + 1, gone
    return top


# ---------------------------------------------------------------------------------- encoding
def test_every_log_code_round_trips_with_its_biggest_arg():
    buf = bytearray(20)
    seen = {}
    for rec, who in BIGGEST:
        seen[rec[1]] = True
        for t, wall in ((UNIX_2026, True), (MS_49_DAYS, False), (0, False)):
            encode_slot(buf, rec, t, wall)
            got = decode_slot(buf)
            assert got == (wall, t, rec[1], rec[2], who), (rec, got)
            if rec[1] == C.LOG_CONFIG:
                assert type(got[3][1]) is type(rec[2][1])  # an on/off value stays a bool
    codes = [getattr(C, n) for n in dir(C) if n.startswith("LOG_")]
    assert len(codes) == 33
    for c in codes:
        assert c in seen, c


def test_a_10_byte_uid_denied_fills_the_payload_exactly():
    buf = bytearray(20)
    encode_slot(buf, (0, C.LOG_DENIED, C.R_LAST, (C.KIND_ISO14443A, UID10)), 5, False)
    assert buf[5] == 1 | 2 << 2 | 10 << 4  # arg int, a credential, 10 ident bytes
    assert bytes(buf[8:18]) == bytes((0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18, 0x29))
    encode_slot(buf, (0, C.LOG_DOOR_OPEN, None, None), 5, False)
    assert bytes(buf[6:18]) == b"\xff" * 12  # unused payload bytes


def test_time_is_kept_mod_2_32_and_the_wall_flag_in_the_code_byte():
    buf = bytearray(20)
    encode_slot(buf, (0, C.LOG_DOOR_OPEN, None, None), (1 << 32) + 7, False)
    assert decode_slot(buf) == (False, 7, C.LOG_DOOR_OPEN, None, None) and buf[0] == C.LOG_DOOR_OPEN
    encode_slot(buf, (0, C.LOG_DOOR_OPEN, None, None), UNIX_2026, True)
    assert buf[0] == C.LOG_DOOR_OPEN | 0x80


def test_records_that_do_not_fit_are_refused_before_anything_is_written():
    buf = bytearray(20)
    bad = (
        (0, 0, None, None), (0, 127, None, None), (0, "x", None, None),
        (0, C.LOG_CONFIG, (1 << 40, 1 << 40), 1 << 30),
        (0, C.LOG_READER_DOWN, "down", None),
        (0, C.LOG_CALIBRATED, (1, 2, 3), None),
        (0, C.LOG_LOCK, C.SRC_BUTTON, -1),
        (0, C.LOG_DENIED, C.R_UNKNOWN, (C.KIND_FELICA, "XYZ")),
        (0, C.LOG_DENIED, C.R_UNKNOWN, (C.KIND_FELICA,)),
        (0, C.LOG_DENIED, C.R_UNKNOWN, (300, "01")),
        (0, C.LOG_DENIED, 1 << 90, (C.KIND_FELICA, "01")),
    )
    for rec in bad:
        raises(ValueError, encode_slot, buf, rec, 0, False)
    d = _dev()
    t, log = _mount(d)
    log.append(_rec(1))
    ops, nxt = d.ops, log.next_seq
    for rec in bad:
        raises(ValueError, log.append, rec)
    assert d.ops == ops and log.next_seq == nxt
    assert log.append(_rec(2)) == 2


def test_empty_and_torn_slots_decode_as_such():
    buf = bytearray(b"\xff" * 20)
    assert decode_slot(buf) is None
    encode_slot(buf, (0, C.LOG_DENIED, C.R_LAST, (C.KIND_ISO14443A, UID10)), UNIX_2026, True)
    good = bytes(buf)
    for i in range(20):
        for bit in range(8):
            buf[:] = good
            buf[i] ^= 1 << bit
            assert decode_slot(buf) is TORN, (i, bit)
    buf[:] = good
    buf[0] = 0xFF  # a code byte that never landed
    assert decode_slot(buf) is TORN


# ---------------------------------------------------------------------------------- the ring
def test_a_fresh_partition_mounts_reading_only_its_headers():
    d = _dev()
    t, log = _mount(d)
    assert d.ops == 0 and d.reads == 2 + N  # the tally's headers, the sector headers
    assert log.next_seq == 1 and log.capacity == (N - 1) * SLOTS and log.cursor == 0
    assert list(log.records()) == [] and list(log.pending()) == []
    assert log.dropped == 0 and log.torn == 0 and log.bad_sectors == 0


def test_an_append_is_one_program_and_a_new_sector_a_floor_an_erase_and_a_header():
    d = _dev()
    t, log = _mount(d)
    assert log.append(_rec(1)) == 1  # tally format (erase, entry, header); erase, header, slot
    assert d.erases == 2 and d.programs == 4
    for s in range(2, SLOTS + 1):
        p = d.programs
        assert log.append(_rec(s)) == s
        assert d.programs == p + 1 and d.programmed == 28 + 16 + 20 * s  # tally 12 + 16, header 16
    assert d.erases == 2
    assert log.append(_rec(SLOTS + 1)) == SLOTS + 1  # sector 1: floor, erase, header, slot
    assert d.erases == 3 and d.programs == SLOTS + 3 + 3
    assert t.get(T_SEQ_FLOOR) == 2 * SLOTS + 1
    _verify(log, 1, SLOTS + 1)


def test_mount_reads_the_headers_and_the_head_slots():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 300)
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert d.reads == 2 + 17 + N + SLOTS  # tally: headers + entries; log: headers + head slots
    assert log.next_seq == 301 and log.torn == 0


def test_seqs_continue_across_reboots_and_boots_come_from_boot_records():
    d = _dev()
    t, log = _mount(d, 1)
    assert log.append((0, C.LOG_BOOT, (C.LOCKED, 1), None)) == 1
    _fill(log, 2, 5)
    for boot in (2, 3):
        d = d.power_cycle()
        t, log = _mount(d, boot)
        assert log.next_seq == 3 * boot
        assert log.append((0, C.LOG_BOOT, (C.LOCKED, boot), None)) == 3 * boot
        log.append(_rec(3 * boot + 1))
        log.append(_rec(3 * boot + 2))
    _same(log.records(), range(1, 12))
    assert [r[1] for r in log.records()] == [1] * 5 + [2] * 3 + [3] * 3
    # before any BOOT record of its sector, a record gets the boot in the sector header
    d = d.power_cycle()
    t, log = _mount(d, 7)
    _fill(log, 12, SLOTS + 3)
    assert [r[1] for r in log.records(SLOTS + 1)] == [7, 7, 7]
    _same(log.records(10), range(10, SLOTS + 4))
    it = log.records(10)
    assert next(it)[1] == 3 and next(it)[1] == 3  # a BOOT before since_seq still counts


def test_wrap_with_acks_drops_nothing():
    d = _dev()
    t, log = _mount(d)
    for s in range(1, 2001):
        assert log.append(_rec(s)) == s
        if s % 50 == 0:
            log.ack(s)
    assert log.dropped == 0 and log.cursor == 2000
    assert _verify(log, 8 * SLOTS + 1, 2000) == 2000  # the sectors opened 9th and 10th
    for r in log.records():
        assert r[4] != C.LOG_DROPPED
    assert next(log.pending(), None) is None
    assert d.wear == [1, 0, 5, 5], d.wear  # tally: formatted, never compacted; the ring: 10 opens


def test_wrap_without_acks_drops_the_oldest_sector_and_says_so():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 2 * SLOTS)
    assert log.dropped == 0
    s = log.append(_rec(10000))  # the ring is full: sector 0 (seqs 1..204) goes
    assert s == 2 * SLOTS + 2 and log.dropped == SLOTS
    it = log.records(2 * SLOTS + 1)
    r = next(it)
    assert r[0] == 2 * SLOTS + 1 and r[4:] == (C.LOG_DROPPED, SLOTS, None)
    r = next(it)
    assert r[0] == s and r[4:] == _content(10000)
    log.ack(300)  # 96 of sector 1's records acknowledged: 108 are dropped unread
    for i in range(SLOTS):
        n = log.append(_rec(20000 + i))
        assert n > s  # strictly increasing, never repeated
        s = n
    assert log.dropped == SLOTS + (2 * SLOTS - 300)
    assert [r[5] for r in log.records() if r[4] == C.LOG_DROPPED] == [SLOTS, 2 * SLOTS - 300]
    n = 0
    top = 0
    total = 0
    for r in log.records():
        assert r[0] > top
        top = r[0]
        total += top
        n += 1
    assert n >= log.capacity and top == s
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert log.dropped == 0 and log.next_seq == s + 1 and log.cursor == 300
    for r in log.records():
        total -= r[0]
        n -= 1
    assert n == 0 and total == 0


def test_acks_persist_and_pending_is_what_follows_the_cursor():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 30)
    log.ack(10)
    assert log.cursor == 10 and [r[0] for r in log.pending()] == list(range(11, 31))
    ops = d.ops
    log.ack(5)  # older: nothing written
    log.ack(10)
    assert d.ops == ops and log.cursor == 10
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert log.cursor == 10 and t.get(T_CURSOR) == 10
    assert [r[0] for r in log.pending()] == list(range(11, 31))
    log.ack(1000)  # beyond what was issued: what was issued
    assert log.cursor == 30 and list(log.pending()) == []
    assert log.append(_rec(31)) == 31 and [r[0] for r in log.pending()] == [31]


def test_a_torn_slot_is_skipped_and_never_reused():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 5)
    d.cut_at(d.ops, 7)
    raises(OSError, log.append, _rec(6))
    assert log.torn == 1
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert log.torn == 1 and log.next_seq == 7
    assert log.append(_rec(7)) == 7
    assert [r[0] for r in log.records()] == [1, 2, 3, 4, 5, 7]
    d = d.power_cycle()
    t, log = _mount(d, 3)
    assert log.torn == 1 and log.append(_rec(8)) == 8
    _verify(log, 7, 8)


def test_a_failed_program_in_a_running_boot_skips_its_slot():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 3)
    real = d.writeblocks
    d.writeblocks = lambda n, buf, off=None: -5  # nothing lands
    raises(OSError, log.append, _rec(4))
    d.writeblocks = real
    assert log.append(_rec(5)) == 5 and log.torn == 1
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert log.next_seq == 6 and log.torn == 1  # the empty slot between records is not reused
    assert [r[0] for r in log.records()] == [1, 2, 3, 5]


def test_a_torn_sector_header_is_a_free_sector_and_seqs_go_above_the_floor():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, SLOTS)
    d.cut_at(d.ops + 2, 9)  # the next append: floor (op 0), erase (1), header (2) torn
    raises(OSError, log.append, _rec(SLOTS + 1))
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert log.bad_sectors == 1 and t.get(T_SEQ_FLOOR) == 2 * SLOTS + 1
    s = log.append(_rec(2 * SLOTS + 1))
    assert s == 2 * SLOTS + 1  # the floor written before the torn header: seqs never repeat
    _verify(log, 1, SLOTS)
    d = d.power_cycle()
    t, log = _mount(d, 3)
    assert log.bad_sectors == 0 and [r[0] for r in log.records(SLOTS)] == [SLOTS, s]


def test_a_corrupt_header_hides_its_sector_only():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 2 * SLOTS)
    d.writeblocks(2, b"\x00", 4)  # sector 0's base
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert log.bad_sectors == 1
    _verify(log, SLOTS + 1, 2 * SLOTS)
    assert log.append(_rec(2 * SLOTS + 1)) == 2 * SLOTS + 1  # sector 0 reused: nothing to drop
    assert log.dropped == 0
    d = d.power_cycle()
    t, log = _mount(d, 3)
    assert log.bad_sectors == 0
    _verify(log, SLOTS + 1, 2 * SLOTS + 1)


def test_a_wiped_ring_restarts_above_the_floor():
    d = _dev()
    t, log = _mount(d)
    for i in range(500):  # three sectors opened (one dropped): floor 613
        log.append(_rec(i))
    for b in range(2, 2 + N):
        d.ioctl(6, b)
    d = d.power_cycle()
    t, log = _mount(d, 2)
    assert next(log.records(), None) is None and log.next_seq == 3 * SLOTS + 1
    assert log.append(_rec(1)) == 3 * SLOTS + 1
    # a lost tally with the ring intact: the ring alone continues the seqs
    d.ioctl(6, 0)
    d.ioctl(6, 1)
    d = d.power_cycle()
    t, log = _mount(d, 3)
    assert log.next_seq == 3 * SLOTS + 2 and log.cursor == 0
    # both lost, but the cursor: never below it
    t.set(T_CURSOR, b"", 5000)
    for b in range(2, 2 + N):
        d.ioctl(6, b)
    d = d.power_cycle()
    t, log = _mount(d, 4)
    assert log.next_seq == 5001


def test_records_since_and_appends_while_iterating():
    d = _dev()
    t, log = _mount(d)
    _fill(log, 1, 300)
    log.ack(300)
    it = log.records(290)
    assert next(it)[0] == 290 and next(it)[0] == 291
    _fill(log, 301, 500)  # sector 0 is reused under the iterator's feet
    _same(it, range(292, 501))
    _same(log.records(499), (499, 500))
    assert next(log.records(501), None) is None


# ---------------------------------------------------------------------------------- time
def test_correct_times_uses_the_clock_sets_of_the_same_boot():
    U = 1780000000
    W = 1790000000
    w = 1 << 32
    recs = [
        (1, 1, False, 1000, C.LOG_BOOT, (C.LOCKED, 1), None),
        (2, 1, False, 2000, C.LOG_DOOR_OPEN, None, None),
        (3, 1, True, U, C.LOG_CLOCK_SET, (U, 5000), None),
        (4, 1, False, 8500, C.LOG_DOOR_CLOSE, None, None),
        (5, 1, True, U + 9, C.LOG_UNLOCK, C.SRC_BUTTON, None),
        (6, 1, False, 20000, C.LOG_CLOCK_SET, (U + 100, 20000), None),  # a later set wins
        (7, 1, False, 21999, C.LOG_DOOR_OPEN, None, None),
        (8, 2, False, 900, C.LOG_BOOT, (C.LOCKED, 2), None),  # no clock in this boot
        (9, 2, False, 1900, C.LOG_DOOR_OPEN, None, None),
        (10, 2, False, 100, C.LOG_BOOT, (C.LOCKED, 2), None),  # a BOOT ends a boot, same count too
        (11, 2, False, 300, C.LOG_CLOCK_SET, (U + 500, 300), None),
        (12, 2, False, 2000, C.LOG_DOOR_CLOSE, None, None),
        (13, 3, False, w - 5000, C.LOG_DOOR_OPEN, None, None),  # a change of boot ends one too
        (14, 3, False, w - 1000, C.LOG_CLOCK_SET, (W, w - 1000), None),
        (15, 3, False, 2000, C.LOG_DOOR_CLOSE, None, None),  # the ms wrapped since the set
    ]
    out = correct_times(recs)
    walls = [(r[2], r[3]) for r in out]
    assert walls == [(True, U - 4), (True, U - 3), (True, U), (True, U + 3), (True, U + 9),
                     (True, U + 100), (True, U + 101), (False, 900), (False, 1900),
                     (True, U + 499), (True, U + 500), (True, U + 501),
                     (True, W - 4), (True, W), (True, W + 3)], walls
    assert [r[:2] + r[4:] for r in out] == [r[:2] + r[4:] for r in recs]
    assert correct_times([]) == []


def test_correct_times_on_records_from_the_log():
    d = _dev()
    t, log = _mount(d, 1)
    log.append((10, C.LOG_BOOT, (C.LOCKED, 1), None))
    log.append((20, C.LOG_DOOR_OPEN, None, None))
    log.append((3000, C.LOG_CLOCK_SET, (UNIX_2026, 3000), None), UNIX_2026, True)
    d = d.power_cycle()
    t, log = _mount(d, 2)
    log.append((5, C.LOG_BOOT, (C.LOCKED, 2), None))
    log.append((7000, C.LOG_DOOR_OPEN, None, None))
    out = correct_times(log.records())
    assert [(r[1], r[2], r[3]) for r in out] == [(1, True, UNIX_2026 - 3), (1, True, UNIX_2026 - 3),
                                                 (1, True, UNIX_2026), (2, False, 5), (2, False, 7000)]


# ---------------------------------------------------------------------------------- heap
def test_an_append_allocates_little():
    if not MP:
        return
    d = _dev()
    t, log = _mount(d)
    log.append(_rec(1))
    recs = [(s, C.LOG_UNLOCK, C.SRC_BUTTON, 7) for s in range(4)]
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for i in range(200):
        log.append(recs[i & 3])
    b = gc.mem_alloc()
    gc.enable()
    assert b - a <= 64, b - a  # nothing per append (the unix port: 0 bytes); a DENIED allocates its ident


# ---------------------------------------------------------------------------------- power cuts
KEEPS = (0, 1, 9, 19, 20, -1)


def _sweep(prep, op, first, last, lost=0, check=None):
    """prep(t, log) builds a state on the tally + 2 sectors with appends first..last
    (seq = _rec number); op(t, log) is the operation under test. For every write op k of op and
    several partial landings: build, remount, cut at k, run op (it raises), power cycle, remount
    and check mount works, every append of prep is there (but 1..lost, a dropped sector), seqs
    strictly increase and new appends get seqs above everything ever seen. -> op's write ops."""
    nops = None
    k = 0
    while nops is None or k < nops:
        for keep in KEEPS:
            d = _dev()
            t, log = _mount(d, 1)
            prep(t, log)
            d = d.power_cycle()
            t, log = _mount(d, 1)
            old = log.cursor
            top = log.next_seq - 1
            if nops is None:
                op(t, log)  # once without a cut: how many write ops it takes
                nops = d.ops
                break
            d.cut_at(k, keep)
            raises(OSError, op, t, log)
            d = d.power_cycle()
            t, log = _mount(d, 2)
            seen = _verify(log, first, last, lost)
            if check:
                check(t, log, old)
            if seen > top:
                top = seen
            for i in range(SLOTS + 2):  # enough to open another sector
                s = log.append(_rec(30000 + i))
                assert s > top, (k, keep, s, top)
                top = s
            d = d.power_cycle()
            t, log = _mount(d, 3)
            assert log.next_seq > top
        else:
            k += 1
    return nops


def test_power_cuts_in_an_append():
    def prep(t, log):
        _fill(log, 1, 10)

    def op(t, log):
        log.append(_rec(11))

    assert _sweep(prep, op, 1, 10) == 1


def test_power_cuts_in_an_append_that_opens_a_sector_and_drops():
    def prep(t, log):
        _fill(log, 1, 2 * SLOTS)

    def op(t, log):
        log.append(_rec(5000))

    def check(t, log, old):
        for r in log.records():
            if r[4] == C.LOG_DROPPED:
                assert r[5] == SLOTS
    # floor (tally), erase, header, DROPPED, the record
    assert _sweep(prep, op, SLOTS + 1, 2 * SLOTS, lost=SLOTS, check=check) == 5


def test_power_cuts_in_an_append_that_opens_a_sector_after_acks():
    def prep(t, log):
        _fill(log, 1, 2 * SLOTS)
        log.ack(2 * SLOTS)

    def op(t, log):
        log.append(_rec(5000))

    def check(t, log, old):
        assert log.cursor == 2 * SLOTS
        for r in log.records():
            assert r[4] != C.LOG_DROPPED

    assert _sweep(prep, op, SLOTS + 1, 2 * SLOTS, lost=SLOTS, check=check) == 4


def test_power_cuts_in_an_ack():
    def prep(t, log):
        _fill(log, 1, 50)
        log.ack(20)

    def op(t, log):
        log.ack(40)

    def check(t, log, old):
        assert log.cursor in (20, 40)
        assert [r[0] for r in log.pending()] == list(range(log.cursor + 1, 51))

    assert _sweep(prep, op, 1, 50, check=check) == 1


def test_power_cuts_in_an_ack_that_compacts_the_tally():
    def prep(t, log):
        _fill(log, 1, 400)
        s = 0
        while t.room:
            s += 1
            log.ack(s)
        assert s < 400

    state = {}

    def op(t, log):
        state["old"] = log.cursor
        log.ack(400)

    def check(t, log, old):
        assert log.cursor in (old, 400)
        assert t.get(T_SEQ_FLOOR) == 2 * SLOTS + 1

    # erase, the live entries (one program), header
    assert _sweep(prep, op, 1, 400, check=check) == 3
