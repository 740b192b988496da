# The tally (lockctl/tally.py): a durable map on two raw blocks used ping-pong. Sets are one
# 12-byte program, a full block is compacted into the other with its header last, a torn entry is
# skipped and never programmed again, and a power cut at any write leaves the old or the new map.
from fwcheck import raises
from sim.nor import NorFlash
from lockctl.tally import (Tally, TallyFull, ENTRIES, T_BOOTS, T_CURSOR, T_PIN_FAILS, T_USES,
                           T_SEQ_FLOOR, T_KEYS_VERSION)


class Raising:
    """A device that raises OSError where sim.nor returns -5 (as esp32.Partition does)."""

    def __init__(self, dev):
        self.dev = dev

    def readblocks(self, n, buf, off=0):
        if self.dev.readblocks(n, buf, off):
            raise OSError(5)

    def writeblocks(self, n, buf, off=None):
        if self.dev.writeblocks(n, buf, off):
            raise OSError(5)

    def ioctl(self, op, arg):
        r = self.dev.ioctl(op, arg)
        if op == 6 and r:
            raise OSError(5)
        return r


def _uid(i):
    return bytes((0xC0, i >> 8 & 0xFF, i & 0xFF, 1, 2, 3))


def _snapshot(d):
    return d.image()


def _restore(d, snap):
    d.cells.b[:] = snap
    return NorFlash(d.blocks, d.block_size, d.cells)


def test_tags_are_the_specified_numbers():
    assert (T_BOOTS, T_CURSOR, T_PIN_FAILS, T_USES, T_SEQ_FLOOR, T_KEYS_VERSION) == (1, 2, 3, 4, 5, 6)
    assert ENTRIES == 340


def test_blank_mount_writes_nothing_and_reads_two_headers():
    d = NorFlash(2)
    t = Tally(d)
    assert t.get(T_BOOTS) == 0 and t.get(T_USES, b"abcdef", 7) == 7
    assert t.block == -1 and not t.corrupt and len(t) == 0
    assert d.reads == 2 and d.ops == 0


def test_first_set_formats_then_each_set_is_one_12_byte_program():
    d = NorFlash(2)
    t = Tally(d)
    t.set(T_BOOTS, b"", 1)  # format: erase, entry, header
    assert d.erases == 1 and t.block == 0 and t.generation == 1
    p, b = d.programs, d.programmed
    t.set(T_BOOTS, b"", 2)
    t.set(T_USES, _uid(1), 3)
    assert d.programs == p + 2 and d.programmed == b + 24 and d.erases == 1
    t.set(T_USES, _uid(1), 3)  # unchanged: nothing written
    assert d.programs == p + 2
    t2 = Tally(d.power_cycle())
    assert t2.get(T_BOOTS) == 2 and t2.get(T_USES, _uid(1)) == 3 and len(t2) == 2


def test_mount_reads_the_block_in_few_reads():
    d = NorFlash(2)
    t = Tally(d)
    for i in range(100):
        t.set(T_USES, _uid(i), i + 1)
    d2 = d.power_cycle()
    t2 = Tally(d2)
    assert d2.reads == 2 + 17  # two headers, the block's entries in 240-byte reads
    assert len(t2) == 100 and t2.get(T_USES, _uid(99)) == 100


def test_short_ids_are_padded_and_zero_removes():
    d = NorFlash(2)
    t = Tally(d)
    t.set(T_PIN_FAILS, b"\x01", 4)
    assert t.get(T_PIN_FAILS, b"\x01\x00\x00\x00\x00\x00") == 4
    assert list(t.ids(T_PIN_FAILS)) == [(b"\x01\x00\x00\x00\x00\x00", 4)]
    t.remove(T_PIN_FAILS, b"\x01")
    assert t.get(T_PIN_FAILS, b"\x01", -1) == -1 and len(t) == 0
    t2 = Tally(d.power_cycle())
    assert t2.get(T_PIN_FAILS, b"\x01", -1) == -1 and len(t2) == 0


def test_bad_arguments_change_nothing():
    d = NorFlash(2)
    t = Tally(d)
    raises(ValueError, t.set, T_USES, b"1234567", 1)
    raises(ValueError, t.set, 0xFF, b"", 1)
    raises(ValueError, t.set, T_BOOTS, b"", -1)
    raises(ValueError, t.set, T_BOOTS, b"", 1 << 32)
    raises(ValueError, Tally, NorFlash(1))
    assert d.ops == 0


def test_compaction_keeps_the_live_map_and_bumps_the_generation():
    d = NorFlash(2)
    t = Tally(d)
    for i in range(30):
        t.set(T_USES, _uid(i), 1)
    n = 30
    while t.room:
        n += 1
        t.set(T_CURSOR, b"", n)
    assert t.generation == 1 and t.block == 0
    t.set(T_BOOTS, b"", 9)  # the block is full: compaction into block 1
    assert t.generation == 2 and t.block == 1 and d.erases == 2
    assert t.room == ENTRIES - 32
    t2 = Tally(d.power_cycle())
    assert t2.block == 1 and t2.generation == 2 and len(t2) == 32
    assert t2.get(T_CURSOR) == n and t2.get(T_BOOTS) == 9 and t2.get(T_USES, _uid(29)) == 1


def test_tally_full_bound_changes_nothing():
    d = NorFlash(2)
    t = Tally(d)
    for i in range(ENTRIES):
        t.set(T_USES, _uid(i), i + 1)
    assert len(t) == ENTRIES and t.room == 0
    ops = d.ops
    e = raises(TallyFull, t.set, T_USES, _uid(ENTRIES), 1)
    assert isinstance(e, OSError) and e.args[0] == 28  # ENOSPC
    assert d.ops == ops and len(t) == ENTRIES and t.get(T_USES, _uid(ENTRIES)) == 0
    t.set(T_USES, _uid(5), 77)  # an existing key still changes (a compaction with 340 live keys)
    t.remove(T_USES, _uid(6))  # and a removed one makes room for a new one
    t.set(T_USES, _uid(ENTRIES), 1)
    t2 = Tally(d.power_cycle())
    assert len(t2) == ENTRIES and t2.get(T_USES, _uid(5)) == 77 and t2.get(T_USES, _uid(6)) == 0
    assert t2.get(T_USES, _uid(ENTRIES)) == 1 and t2.get(T_USES, _uid(339)) == 340


def test_failed_writes_raise_oserror_and_keep_the_map():
    for raising in (False, True):
        d = NorFlash(2)
        t = Tally(Raising(d) if raising else d)
        t.set(T_BOOTS, b"", 1)
        d.cut_at(d.ops, 0)
        raises(OSError, t.set, T_BOOTS, b"", 2)
        assert t.get(T_BOOTS) == 1 and len(t) == 1
        t2 = Tally(d.power_cycle())
        assert t2.get(T_BOOTS) == 1


def test_torn_entry_is_skipped_and_never_programmed_again():
    d = NorFlash(2)
    t = Tally(d)
    t.set(T_BOOTS, b"", 1)
    t.set(T_USES, _uid(1), 5)
    d.cut_at(d.ops, 6)  # half an entry lands
    raises(OSError, t.set, T_USES, _uid(2), 8)
    d = d.power_cycle()
    t = Tally(d)
    assert t.torn == 1 and t.get(T_USES, _uid(2)) == 0 and t.get(T_USES, _uid(1)) == 5
    room = t.room
    t.set(T_USES, _uid(2), 9)  # goes after the torn entry
    assert t.room == room - 1
    t = Tally(d.power_cycle())
    assert t.torn == 1 and t.get(T_USES, _uid(2)) == 9 and t.get(T_BOOTS) == 1


def test_an_entry_that_landed_nothing_leaves_no_hole_that_hides_later_sets():
    # a write that raised with nothing programmed, then more sets in the same boot (a flaky bus)
    d = NorFlash(2)
    flaky = Raising(d)
    t = Tally(flaky)
    t.set(T_BOOTS, b"", 1)
    real = d.writeblocks
    d.writeblocks = lambda n, buf, off=None: -5
    raises(OSError, t.set, T_CURSOR, b"", 3)
    d.writeblocks = real
    t.set(T_CURSOR, b"", 4)
    t.set(T_PIN_FAILS, b"", 2)
    t = Tally(d.power_cycle())
    assert t.get(T_CURSOR) == 4 and t.get(T_PIN_FAILS) == 2 and t.torn == 1


def test_a_bad_header_on_one_block_uses_the_other():
    d = NorFlash(2)
    t = Tally(d)
    t.set(T_BOOTS, b"", 3)
    d.writeblocks(1, b"garbage header!!", 0)  # block 1 never held a tally
    t = Tally(d.power_cycle())
    assert t.block == 0 and t.get(T_BOOTS) == 3 and not t.corrupt
    d.writeblocks(0, b"\x00", 4)  # and now block 0's header is corrupt too
    t = Tally(d.power_cycle())
    assert t.corrupt and t.block == -1 and t.get(T_BOOTS) == 0


def _fill_to_compaction(t):
    for i in range(12):
        t.set(T_USES, _uid(i), i + 1)
    n = 0
    while t.room:
        n += 1
        t.set(T_CURSOR, b"", n)
    return n


def test_power_cut_sweep_of_a_compaction():
    d = NorFlash(2)
    t = Tally(d)
    n = _fill_to_compaction(t)
    snap = _snapshot(d)
    dev = _restore(d, snap)
    Tally(dev).set(T_BOOTS, b"", 42)
    ops = dev.ops
    assert ops == 3  # a compaction: erase, one program of the 14 live entries, header
    for k in range(ops + 1):
        for keep in (0, 5, 12, 16, -1):
            dev = _restore(d, snap)
            t = Tally(dev)
            dev.cut_at(k, keep)
            try:
                t.set(T_BOOTS, b"", 42)
                ok = True
            except OSError:
                ok = False
            assert ok == (k == ops)
            assert t.get(T_BOOTS) == (42 if ok else 0)  # RAM: old until it returned
            dev2 = dev.power_cycle()
            t2 = Tally(dev2)
            b = t2.get(T_BOOTS)
            assert b == 42 if ok else b in (0, 42)  # the old map or the new one
            assert t2.get(T_CURSOR) == n and len(t2) == (14 if b else 13)
            for i in range(12):
                assert t2.get(T_USES, _uid(i)) == i + 1
            t2.set(T_PIN_FAILS, b"", 1)  # and it keeps working
            t3 = Tally(dev2.power_cycle())
            assert t3.get(T_PIN_FAILS) == 1 and t3.get(T_CURSOR) == n and t3.get(T_BOOTS) == b
