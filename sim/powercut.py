# Power-cut sweeps over sim.nor.NorFlash: cut the power at every write operation of some code and
# check what the next boot finds.
#
# Written in the MicroPython subset (tests/fw and bench/ run it in the unix port at -X heapsize=96k):
#
#   snap = snapshot(dev)        the device's cells (blocks that are not blank, and the wear counts)
#   dev2 = snap.restore()       those cells written back; a NEW device over them (ops from 0, no cut)
#   n = count_ops(prepare, act)                how many write ops act(dev) issues on a prepared device
#   r = sweep(prepare, act, check, keeps=KEEPS, first=0, step=1, limit=None, errors=(OSError,))
#
# prepare() -> a device in the state before the operation under test (called once; its image is
# the snapshot every cut starts from). act(dev) runs the operation on a restored device (mount
# what it needs, write; its return value or the exception it raised is the `outcome`). For each
# write op k of act (k = first, first + step, ... below count_ops, at most `limit` of them) and each
# length in `keeps` (bytes of the cut program that land; NorFlash.cut_at's keep, -1: a length
# picked from k), sweep restores the snapshot, arms cut_at(k, keep), runs act, catching `errors`
# (OSError: esp32.Partition and MicroPython's VfsLfs2; add what else the code under test raises when
# a write fails, e.g. littlefs-python's LittleFSError), power-cycles and calls
# check(new_device, k, outcome), which asserts and may return a label (a str) or a tuple of labels
# to count. A cut that lands on an erase is run once (an erase at the cut does not happen, so
# keep makes no difference there).
#
# Like a real cut, nothing is kept from act's RAM: check gets a fresh device over the same cells
# and must mount / read everything again. Unlike a real cut, act's code goes on running after the
# cut in the simulation: every later write is refused by the device (-5, no allocation), including
# those from close() in finally blocks and from finalisers, so none of it lands.
#
# Returns {"ops": count_ops, "cuts": runs, "program_cuts", "erase_cuts", "raised", "returned",
# "outcomes": {label: count}}. A failing check (or an exception act raises that is not in `errors`)
# is raised again as AssertionError naming the op and the keep (CPython chains the original).
from micropython import const

from sim.nor import NorFlash

ALL = const(1 << 30)  # keep: the whole program lands, and the power goes right after it
KEEPS = (0, -1, ALL)  # nothing of the cut program lands / a prefix / all of it


class Snapshot:
    def __init__(self, dev):
        cells = dev.cells
        bs = dev.block_size
        self.cells = cells
        self.blocks = dev.blocks
        self.block_size = bs
        self.wear = list(dev.wear)
        self.ff = b"\xff" * bs
        buf = bytearray(bs)
        data = [None] * dev.blocks  # None: a blank block (all 0xFF)
        n = 0
        while n < dev.blocks:
            cells.read(n * bs, buf)
            if buf != self.ff:
                data[n] = bytes(buf)
            n += 1
        self.data = data

    def used_blocks(self):
        n = 0
        for d in self.data:
            if d is not None:
                n += 1
        return n

    def restore(self):
        """Write the snapshot back into the cells; -> a new device over them (counters from 0)."""
        cells = self.cells
        bs = self.block_size
        raw = getattr(cells, "b", None)  # RamCells: copy in place, no allocation
        n = 0
        while n < self.blocks:
            a = n * bs
            d = self.data[n]
            if raw is not None:
                raw[a:a + bs] = self.ff if d is None else d
            else:
                cells.erase(a, bs)
                if d is not None:
                    cells.program(a, d, bs)
            n += 1
        dev = NorFlash(self.blocks, bs, cells)
        w = dev.wear
        i = 0
        while i < self.blocks:
            w[i] = self.wear[i]
            i += 1
        return dev


def snapshot(dev):
    return Snapshot(dev)


def restore(snap):
    return snap.restore()


def count_ops(prepare, act, errors=(OSError,)):
    """Write ops (programs + erases) act issues on a freshly prepared device, with no cut."""
    return _count(Snapshot(prepare()), act, errors)


def _count(snap, act, errors):
    dev = snap.restore()
    try:
        act(dev)
    except errors:
        pass
    return dev.ops


def _label(counts, labels):
    if labels is None:
        return
    if isinstance(labels, str):
        labels = (labels,)
    for x in labels:
        counts[x] = counts.get(x, 0) + 1


def sweep(prepare, act, check, keeps=KEEPS, first=0, step=1, limit=None, errors=(OSError,)):
    snap = Snapshot(prepare())
    n = _count(snap, act, errors)
    res = {"ops": n, "cuts": 0, "program_cuts": 0, "erase_cuts": 0, "raised": 0, "returned": 0}
    outcomes = {}
    done = 0
    k = first
    while k < n and (limit is None or done < limit):
        for keep in keeps:
            dev = snap.restore()
            dev.cut_at(k, keep)
            try:
                outcome = act(dev)
                res["returned"] += 1
            except errors as e:
                outcome = e
                res["raised"] += 1
            except Exception as e:
                raise AssertionError("cut at write op %d (keep %d): act raised %s: %s"
                                     % (k, keep, type(e).__name__, e))
            if not dev.dead:
                raise AssertionError("act issued %d write ops this time, the cut at op %d never came "
                                     "(act must do the same on the same image)" % (dev.ops, k))
            res["cuts"] += 1
            erase = dev.programs + dev.erases == k  # the cut op landed nothing: it was an erase
            new = dev.power_cycle()
            try:
                labels = check(new, k, outcome)
            except Exception as e:
                raise AssertionError("cut at write op %d of %d (keep %d): %s: %s"
                                     % (k, n, keep, type(e).__name__, e))
            _label(outcomes, labels)
            if erase:
                res["erase_cuts"] += 1
                break
            res["program_cuts"] += 1
        done += 1
        k += step
    res["outcomes"] = outcomes
    return res
