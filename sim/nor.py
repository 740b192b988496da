# A simulated NOR flash with the ESP32's geometry, and power cuts.
#
# Written in the MicroPython subset: the same object is the block device under os.VfsLfs2 and under
# the raw key-store / event-log partitions, in CPython (the simulator) and in the MicroPython unix
# port (tests, bench). It speaks MicroPython's extended block-device protocol, as esp32.Partition
# does on the board:
#   readblocks(n, buf, off=0)     read len(buf) bytes from byte off of block n
#   writeblocks(n, buf, off)      program: every bit can only go 1 -> 0 (data &= buf); no erase
#   writeblocks(n, buf)           (no offset: the simple protocol) erase the blocks, then program
#   ioctl(4, 0) block count, ioctl(5, 0) block size, ioctl(6, n) erase block n to 0xFF
# and counts every call (reads, programs, erases, bytes programmed, erases per block).
#
# Power cuts: cut_at(k) arms a cut at the k-th write operation (programs and erases, counted from 0
# since the device object was made). That operation lands only a prefix of its bytes (`keep`, or a
# length picked from k), an erase at the cut does not happen, and every later write returns -5
# (EIO) without allocating: littlefs and the raw stores see a failed write, and nothing from a
# finaliser or a `with` block's close() lands late. power_cycle() returns a new device over the same
# cells: the next boot.
from micropython import const

BLOCK = const(4096)  # the ESP32's erase sector
_EIO = const(-5)


class RamCells:
    def __init__(self, size):
        self.size = size
        # filled in place: bytearray(b"\xff" * size) would need twice the size at once (a 48 KB
        # device could not be made at the unix port's 96k heap)
        self.b = b = bytearray(size)
        mv = memoryview(b)
        ff = _ff()
        a = 0
        while a < size:
            k = min(len(ff), size - a)
            mv[a:a + k] = ff[:k]
            a += k

    def read(self, a, buf):
        buf[:] = memoryview(self.b)[a:a + len(buf)]

    def program(self, a, buf, m):
        b = self.b
        i = 0
        while i < m:
            b[a + i] &= buf[i]
            i += 1

    def erase(self, a, n):
        mv = memoryview(self.b)
        ff = _ff()
        while n > 0:
            k = min(len(ff), n)
            mv[a:a + k] = ff[:k]
            a += k
            n -= k

    def image(self):
        return bytes(self.b)


_FF = []


def _ff():
    # one block of 0xff shared by every RamCells (erases allocate nothing)
    if not _FF:
        _FF.append(memoryview(b"\xff" * BLOCK))
    return _FF[0]


class FileCells:
    """Cells in a file of `size` bytes (made all 0xFF when new, of another size, or fresh=True)."""

    def __init__(self, path, size, chunk=BLOCK, fresh=False):
        self.size = size
        try:
            if fresh:
                raise OSError(0)
            f = open(path, "r+b")
            f.seek(0, 2)
            if f.tell() != size:
                f.close()
                raise OSError(0)
        except OSError:
            f = open(path, "w+b")
            ff = b"\xff" * chunk
            n = 0
            while n < size:
                f.write(ff)
                n += chunk
        self.f = f
        self.tmp = bytearray(chunk)
        self.ff = b"\xff" * chunk

    def read(self, a, buf):
        self.f.seek(a)
        self.f.readinto(buf)

    def program(self, a, buf, m):
        t = self.tmp
        f = self.f
        done = 0
        while done < m:
            k = min(len(t), m - done)
            mv = memoryview(t)[:k]
            f.seek(a + done)
            f.readinto(mv)
            i = 0
            while i < k:
                t[i] &= buf[done + i]
                i += 1
            f.seek(a + done)
            f.write(mv)
            done += k

    def erase(self, a, n):
        f = self.f
        f.seek(a)
        while n > 0:
            k = min(n, len(self.ff))
            f.write(memoryview(self.ff)[:k])
            n -= k

    def image(self):
        self.f.seek(0)
        return self.f.read()


class NorFlash:
    def __init__(self, blocks, block_size=BLOCK, cells=None):
        self.block_size = block_size
        self.blocks = blocks
        n = blocks * block_size
        if cells is None:
            cells = RamCells(n)
        elif cells.size != n:
            raise ValueError("cells must be blocks * block_size bytes")
        self.cells = cells
        self.wear = [0] * blocks  # erases per block
        self.reads = 0
        self.programs = 0
        self.erases = 0
        self.programmed = 0  # bytes
        self.ops = 0  # write operations so far (programs + erases): the numbering cut_at uses
        self.dead = False
        self._cut = -1
        self._keep = -1

    # ------------------------------------------------------------------ power
    def cut_at(self, k, keep=-1):
        """Cut power at write operation k (0 = the next one from a fresh device); keep: bytes of
        that program that land (-1: a length picked from k)."""
        self._cut = k
        self._keep = keep

    def power_cycle(self):
        """The next boot: a new device over the same cells (counters start again, no cut armed)."""
        d = NorFlash(self.blocks, self.block_size, self.cells)
        d.wear = self.wear
        return d

    def image(self):
        return self.cells.image()

    # ------------------------------------------------------------------ protocol
    def readblocks(self, n, buf, off=0):
        self.reads += 1
        a = n * self.block_size + off
        if a < 0 or a + len(buf) > self.cells.size:
            return _EIO
        self.cells.read(a, buf)
        return 0

    def writeblocks(self, n, buf, off=None):
        if off is None:  # simple protocol: erase what the buffer covers, then program it
            bs = self.block_size
            i = 0
            while i * bs < len(buf):
                r = self._erase(n + i)
                if r:
                    return r
                i += 1
            off = 0
        return self._program(n * self.block_size + off, buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.block_size
        if op == 6:
            return self._erase(arg)
        return 0  # init, deinit, sync: nothing to do

    # ------------------------------------------------------------------ cells
    def _op(self):
        """-> 1 normal, 0 this operation is the cut, -1 dead."""
        if self.dead:
            return -1
        k = self.ops
        self.ops = k + 1
        if k == self._cut:
            self.dead = True
            return 0
        return 1

    def _program(self, a, buf):
        m = len(buf)
        if a < 0 or a + m > self.cells.size:
            return _EIO
        st = self._op()
        if st < 0:
            return _EIO
        if st == 0:
            keep = self._keep
            if keep < 0:
                keep = (self._cut * 7919) % (m + 1)  # any prefix, spread over the sweep
            m = min(keep, m)
        self.cells.program(a, buf, m)
        self.programs += 1
        self.programmed += m
        return 0 if st else _EIO

    def _erase(self, n):
        if n < 0 or n >= self.blocks:
            return _EIO
        st = self._op()
        if st <= 0:
            return _EIO  # a cut erase does not happen
        self.cells.erase(n * self.block_size, self.block_size)
        self.erases += 1
        self.wear[n] += 1
        return 0


class Partition:
    """A window of `blocks` blocks from block `first` of a device: how esp32.Partition presents a
    data partition of the partition table."""

    def __init__(self, dev, first, blocks):
        self.dev = dev
        self.first = first
        self.blocks = blocks

    def readblocks(self, n, buf, off=0):
        if n < 0 or n >= self.blocks:
            return _EIO
        return self.dev.readblocks(self.first + n, buf, off)

    def writeblocks(self, n, buf, off=None):
        if n < 0 or n >= self.blocks:
            return _EIO
        return self.dev.writeblocks(self.first + n, buf, off)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 6:
            if arg < 0 or arg >= self.blocks:
                return _EIO
            return self.dev.ioctl(6, self.first + arg)
        return self.dev.ioctl(op, arg)
