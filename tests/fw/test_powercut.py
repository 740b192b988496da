# The power-cut sweep harness (sim/powercut.py) on raw writes to a small NorFlash: snapshots,
# op counts, one cut per write op (and per keep), erases cut once, labels counted, failures named.
from fwcheck import raises
from sim.nor import NorFlash
from sim.powercut import ALL, KEEPS, count_ops, restore, snapshot, sweep, sweep_from


def _prepared():
    d = NorFlash(3)
    d.writeblocks(0, b"\x00\x01\x02\x03", 8)
    return d


def _read(dev, n, off, size):
    b = bytearray(size)
    dev.readblocks(n, b, off)
    return bytes(b)


def _act(dev):
    """Three write ops: an erase of block 1, then two programs of 4 bytes in it."""
    if dev.ioctl(6, 1):
        raise OSError(5)
    if dev.writeblocks(1, b"\xa5" * 4, 0):
        raise OSError(5)
    if dev.writeblocks(1, b"\x5a" * 4, 4):
        raise OSError(5)
    return "done"


def test_snapshot_keeps_only_written_blocks_and_restores_them():
    d = _prepared()
    d.writeblocks(2, b"\x11", 4095)
    d.ioctl(6, 1)
    s = snapshot(d)
    assert s.used_blocks() == 2
    d.writeblocks(0, b"\x00" * 8, 0)
    d.writeblocks(1, b"\x00", 0)
    d.ioctl(6, 2)
    d2 = restore(s)
    assert d2 is not d and d2.cells is d.cells and d2.ops == 0 and not d2.dead
    assert _read(d2, 0, 0, 12) == b"\xff" * 8 + b"\x00\x01\x02\x03"
    assert _read(d2, 1, 0, 1) == b"\xff" and _read(d2, 2, 4095, 1) == b"\x11"
    assert d2.wear == [0, 1, 0]  # the wear at the snapshot
    assert d2.image() == s.restore().image()


def test_count_ops_counts_the_writes_of_act_only():
    assert count_ops(_prepared, _act) == 3
    assert count_ops(_prepared, lambda dev: None) == 0


def test_sweep_cuts_every_write_op_with_every_keep_and_erases_once():
    seen = []

    def check(dev, k, outcome):
        assert isinstance(outcome, OSError)  # every cut fails act
        blk = _read(dev, 1, 0, 8)
        seen.append((k, blk))
        if k == 0:
            assert blk == b"\x00" * 8  # a cut erase does not happen: the old bytes are there
            return "erase cut"
        return "program cut"

    def prepare():
        d = _prepared()
        d.writeblocks(1, b"\x00" * 8, 0)  # block 1 holds zeros before act erases it
        return d

    r = sweep(prepare, _act, check)
    assert r["ops"] == 3 and r["erase_cuts"] == 1 and r["program_cuts"] == 2 * len(KEEPS)
    assert r["cuts"] == 1 + 2 * len(KEEPS) == r["raised"] and r["returned"] == 0
    assert r["outcomes"] == {"erase cut": 1, "program cut": 2 * len(KEEPS)}
    assert seen[0] == (0, b"\x00" * 8)
    # cut in the first program: 0 bytes, a prefix, or all of it landed; nothing of the second
    firsts = [b for k, b in seen if k == 1]
    assert firsts[0] == b"\xff" * 8 and firsts[-1] == b"\xa5" * 4 + b"\xff" * 4
    seconds = [b for k, b in seen if k == 2]
    assert seconds[0] == b"\xa5" * 4 + b"\xff" * 4 and seconds[-1] == b"\xa5" * 4 + b"\x5a" * 4


def test_sweep_first_step_limit_and_labels():
    ks = []

    def check(dev, k, outcome):
        ks.append(k)
        return ("a", "b") if k else None

    r = sweep(_prepared, _act, check, keeps=(ALL,), first=1, step=1, limit=1)
    assert ks == [1] and r["cuts"] == 1 and r["outcomes"] == {"a": 1, "b": 1}
    del ks[:]
    r = sweep(_prepared, _act, check, keeps=(0, 2), first=0, step=2)
    assert ks == [0, 2, 2] and r["outcomes"] == {"a": 2, "b": 2}


def test_a_failing_check_names_the_cut():
    def check(dev, k, outcome):
        assert k != 2, "boom"

    e = raises(AssertionError, sweep, _prepared, _act, check, (0,))
    assert "write op 2" in str(e) and "boom" in str(e)


def test_an_unexpected_exception_from_act_fails_the_sweep():
    def act(dev):
        if dev.ioctl(6, 1):
            raise ValueError("not a write error")

    e = raises(AssertionError, sweep, _prepared, act, lambda dev, k, o: None)
    assert "ValueError" in str(e)
    r = sweep(_prepared, act, lambda dev, k, o: None, errors=(OSError, ValueError))
    assert r["cuts"] == 1 and r["raised"] == 1


def test_an_act_that_ignores_failed_writes_returns_and_late_writes_never_land():
    def act(dev):
        for i in range(4):
            dev.writeblocks(2, b"\x00", i)  # results ignored: the CPU "goes on" after the cut
        return "returned"

    def check(dev, k, outcome):
        assert outcome == "returned"
        assert _read(dev, 2, 0, 4) == b"\x00" * k + b"\xff" * (4 - k)  # keep 0: op k landed nothing
        dev.writeblocks(2, b"\x00", 3)  # the next boot writes again
        assert _read(dev, 2, 3, 1) == b"\x00"

    r = sweep(_prepared, act, check, keeps=(0,))
    assert r["cuts"] == 4 and r["returned"] == 4


def test_a_non_deterministic_act_is_reported():
    calls = []

    def act(dev):
        calls.append(1)
        n = 3 if len(calls) == 1 else 1  # the counting run writes 3 times, later ones once
        for i in range(n):
            if dev.writeblocks(2, b"\x00", i):
                raise OSError(5)

    e = raises(AssertionError, sweep, _prepared, act, lambda dev, k, o: None, (0,))
    assert "never came" in str(e)


def test_sweep_from_a_kept_snapshot_sweeps_again_from_the_same_image():
    snap = snapshot(_prepared())
    blocks = []

    def check(dev, k, outcome):
        blocks.append(_read(dev, 1, 0, 8))

    r1 = sweep_from(snap, _act, check, (0,))
    r2 = sweep_from(snap, _act, check, (0,))
    assert r1 == r2 and r1["cuts"] == 3 and blocks[:3] == blocks[3:]
    dev = snap.restore()
    assert _act(dev) == "done" and _read(dev, 0, 8, 4) == b"\x00\x01\x02\x03"  # the next state
