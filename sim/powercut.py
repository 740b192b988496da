# Power-cut sweeps over sim.nor.NorFlash: cut the power at every write operation of some code and
# check what the next boot finds.
#
# Written in the MicroPython subset (tests/fw and bench/ run it in the unix port at -X heapsize=96k):
#
#   snap = snapshot(dev)        the device's cells (blocks that are not blank, and the wear counts)
#   dev2 = snap.restore()       those cells written back; a NEW device over them (ops from 0, no cut)
#   n = count_ops(prepare, act)                how many write ops act(dev) issues on a prepared device
#   r = sweep(prepare, act, check, keeps=KEEPS, first=0, step=1, limit=None, errors=(OSError,))
#   r = sweep_from(snap, act, check, ...)     the same from a Snapshot the caller keeps
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
#
# littlefs on a NorFlash, the same on both runtimes (lfs_format(dev), LfsVolume(dev)): MicroPython's
# os.VfsLfs2 mounted in the VFS, or on CPython littlefs-python (PyPI littlefs-python, a dev extra)
# over the device's block callbacks, both with VfsLfs2's settings (read/prog size 32, cache 128,
# lookahead 32 bytes, block_cycles 100). Mounting never formats, and every filesystem error comes
# out as OSError(errno) on both, so code written for MicroPython's os runs unchanged on either.
import sys

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
        ff = getattr(cells, "ff", None)  # RamCells' erase pattern: no second 4 KB of 0xFF
        if ff is None or len(ff) != bs:
            ff = b"\xff" * bs
        self.ff = ff
        data = [None] * dev.blocks  # None: a blank block (all 0xFF)
        buf = None
        n = 0
        while n < dev.blocks:
            if buf is None:
                buf = bytearray(bs)
            cells.read(n * bs, buf)
            if buf != ff:
                data[n] = buf  # kept; the next block reads into a new buffer
                buf = None
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
    return sweep_from(Snapshot(prepare()), act, check, keeps, first, step, limit, errors)


def sweep_from(snap, act, check, keeps=KEEPS, first=0, step=1, limit=None, errors=(OSError,)):
    """sweep() from a Snapshot the caller keeps (a long history swept save by save: after the
    sweep, snap.restore() and an uncut act give the next state). The cells hold the last cut's
    aftermath when it returns."""
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


# ---------------------------------------------------------------------- littlefs on both runtimes
MICRO = sys.implementation.name == "micropython"
READ_SIZE = const(32)  # os.VfsLfs2's defaults (readsize, progsize, lookahead)
PROG_SIZE = const(32)
LOOKAHEAD = const(32)

if MICRO:
    import os

    def lfs_format(dev):
        """mkfs: a fresh littlefs on dev (the one thing that erases the lot: tests only)."""
        os.VfsLfs2.mkfs(dev, readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)

    class LfsVolume:
        """littlefs on dev mounted at mnt in the VFS (whatever was mounted there is unmounted
        first); raises OSError if it does not mount. os / open: the real ones."""

        def __init__(self, dev, mnt="/pcut"):
            try:
                os.umount(mnt)
            except OSError:
                pass
            fs = os.VfsLfs2(dev, readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)
            os.mount(fs, mnt)
            self.mnt = mnt
            self.os = os
            self.open = open

        def path(self, name):
            return self.mnt + "/" + name

        def listdir(self):
            return sorted(os.listdir(self.mnt))

        def umount(self):
            os.umount(self.mnt)
else:
    def _lib():
        import littlefs  # littlefs-python: only the littlefs half needs it (a dev extra)
        return littlefs

    def _call(fn, *args):
        """fn(*args), a LittleFSError raised as OSError(errno) as MicroPython's VfsLfs2 does."""
        err = _lib().LittleFSError
        try:
            return fn(*args)
        except err as e:
            raise OSError(-e.code, "littlefs: %s" % e.name) from None

    class _Ctx:
        """littlefs-python's block callbacks on a block device (read/prog/erase -> the device)."""

        def __init__(self, dev):
            self.dev = dev

        def read(self, cfg, block, off, size):
            b = bytearray(size)
            self.dev.readblocks(block, b, off)
            return b

        def prog(self, cfg, block, off, data):
            return self.dev.writeblocks(block, data, off)

        def erase(self, cfg, block):
            return self.dev.ioctl(6, block)

        def sync(self, cfg):
            return 0

    def _fs(dev):
        bs = dev.ioctl(5, 0)
        return _lib().LittleFS(context=_Ctx(dev), mount=False, block_size=bs, block_count=dev.ioctl(4, 0),
                               read_size=READ_SIZE, prog_size=PROG_SIZE,
                               cache_size=min(bs, 4 * max(READ_SIZE, PROG_SIZE)), lookahead_size=LOOKAHEAD,
                               block_cycles=100)

    def lfs_format(dev):
        _call(_fs(dev).format)

    class _File:
        """A text file on littlefs-python with errors as OSError and no finaliser (nothing is
        written behind the caller's back)."""

        def __init__(self, owner, path, mode):
            self.owner = owner  # the LittleFS object: its config must live as long as the file
            self.lfs = _lib().lfs
            fs = self.fs = owner.fs
            self.fh = _call(self.lfs.file_open, fs, path, mode)
            self.closed = False

        def read(self):
            L = self.lfs
            return _call(L.file_read, self.fs, self.fh, _call(L.file_size, self.fs, self.fh)).decode()

        def write(self, s):
            return _call(self.lfs.file_write, self.fs, self.fh, s.encode())

        def close(self):
            if not self.closed:
                self.closed = True  # littlefs forgets the file even when its last sync fails
                _call(self.lfs.file_close, self.fs, self.fh)

    class _Os:
        """The part of MicroPython's os a store uses, on one littlefs-python filesystem."""

        def __init__(self, owner):
            self.owner = owner  # the LittleFS object (littlefs's lfs_t points into its config)
            self.lfs = _lib().lfs
            self.fs = owner.fs

        def rename(self, a, b):
            _call(self.lfs.rename, self.fs, a, b)

        def remove(self, p):
            _call(self.lfs.remove, self.fs, p)

        def stat(self, p):
            st = _call(self.lfs.stat, self.fs, p)
            return (0x8000 if st.type == 1 else 0x4000, 0, 0, 0, 0, 0, st.size, 0, 0, 0)

        def listdir(self, p="/"):
            L = self.lfs
            dh = _call(L.dir_open, self.fs, p)
            names = []
            try:
                while True:
                    info = _call(L.dir_read, self.fs, dh)
                    if not info:
                        break
                    if info.name not in (".", ".."):
                        names.append(info.name)
            finally:
                _call(L.dir_close, self.fs, dh)
            return names

    class LfsVolume:
        """littlefs-python on dev (never formats); raises OSError if it does not mount. os / open
        work on it like MicroPython's on a mounted VfsLfs2 (paths from "/")."""

        def __init__(self, dev, mnt="/pcut"):
            self.lfs = _fs(dev)
            _call(self.lfs.mount)
            owner = self.lfs
            self.mnt = mnt
            self.os = _Os(owner)  # (everything handed out keeps `owner` alive: see _Os)

            def opener(path, mode="r"):
                return _File(owner, path, mode)

            self.open = opener

        def path(self, name):
            return "/" + name

        def listdir(self):
            return sorted(self.os.listdir("/"))

        def umount(self):
            _call(self.lfs.unmount)
