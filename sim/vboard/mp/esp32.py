# The virtual board's `esp32`: Partition over the board's flash, a host file of the flash's size
# (the supervisor's image) opened before the host filesystem is unmounted. The partition table is
# read from 0x8000 (ESP-IDF's binary format) as the bootloader does. Writes keep NOR semantics:
# writeblocks(block, buf) erases the blocks first, writeblocks(block, buf, offset) only clears bits,
# ioctl(6, block) erases one block; readblocks/writeblocks with an offset are the extended interface
# littlefs and lockshell.flash use.
import os
import struct

_SECTOR = 4096
_TABLE = 0x8000
_f = None
_ERASED = memoryview(b"\xff" * _SECTOR)
_TMP = bytearray(256)  # (allocated once: the firmware's heap is the board's, and fragmented)


def _flash():
    global _f
    if _f is None:
        path = os.getenv("DOORKIT_VB_FLASH")
        if not path:
            raise OSError("no DOORKIT_VB_FLASH: this interpreter was not started by doorkit vboard")
        _f = open(path, "r+b")
    return _f


def _read(addr, buf):
    f = _flash()
    f.seek(addr)
    n = f.readinto(buf)
    if n != len(buf):
        raise OSError(5)


def _write_and(addr, data):
    """Program data at addr: bits only go 1 -> 0, as on NOR flash."""
    f = _flash()
    mv = memoryview(data)
    tmp = _TMP
    i = 0
    while i < len(mv):
        n = min(256, len(mv) - i)
        t = memoryview(tmp)[:n]
        f.seek(addr + i)
        f.readinto(t)
        for j in range(n):
            t[j] &= mv[i + j]
        f.seek(addr + i)
        f.write(t)
        i += n
    f.flush()


def _erase(addr, n):
    f = _flash()
    f.seek(addr)
    while n > 0:
        k = min(n, _SECTOR)
        f.write(_ERASED[:k])
        n -= k
    f.flush()


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, entry):
        if isinstance(entry, str):
            found = Partition.find(label=entry) if entry not in ("boot", "running") else Partition.find(Partition.TYPE_APP)
            if not found:
                raise ValueError("no partition %r" % (entry,))
            entry = found[0]._entry
        elif isinstance(entry, int):
            found = Partition.find(Partition.TYPE_APP)
            if not found:
                raise OSError(2)
            entry = found[0]._entry
        self._entry = entry
        self.type, self.subtype, self.addr, self.size, self.label = entry

    @staticmethod
    def _table():
        out = []
        buf = bytearray(32)
        for i in range(0xC00 // 32):
            _read(_TABLE + 32 * i, buf)
            if buf[0] != 0xAA or buf[1] != 0x50:
                break
            typ, sub, off, size = struct.unpack("<BBII", buf[2:12])
            label = bytes(buf[12:28]).split(b"\x00")[0].decode()
            out.append((typ, sub, off, size, label))
        return out

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        return [Partition(e) for e in Partition._table()
                if e[0] == type and (subtype == 0xFF or e[1] == subtype) and (label is None or e[4] == label)]

    def info(self):
        return (self.type, self.subtype, self.addr, self.size, self.label, False)

    def _at(self, block, offset, n):
        a = block * _SECTOR + offset
        if a < 0 or a + n > self.size:
            raise OSError(22)
        return self.addr + a

    def readblocks(self, block, buf, offset=0):
        _read(self._at(block, offset, len(buf)), buf)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:
            a = self._at(block, 0, len(buf))
            _erase(a, (len(buf) + _SECTOR - 1) // _SECTOR * _SECTOR)
            _write_and(a, buf)
        else:
            _write_and(self._at(block, offset, len(buf)), buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.size // _SECTOR
        if op == 5:
            return _SECTOR
        if op == 6:
            _erase(self._at(arg, 0, _SECTOR), _SECTOR)
            return 0
        if op in (1, 2, 3):
            return 0
        return None

    def get_next_update(self):
        raise OSError(2)

    def __repr__(self):
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=0>" % (
            self.type, self.subtype, self.addr, self.size, self.label)


_flash()  # opened now, while the host filesystem is still mounted (vbstart.py then swaps it out)
