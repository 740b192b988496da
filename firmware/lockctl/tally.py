# A tiny durable map {(tag, id): u32} on two raw 4096-byte flash blocks used ping-pong
# (docs/eventlog.md, "Tally"). Counters that must survive a power cut and change often: the boot
# count, the event log's acknowledged cursor and sequence floor, PIN failures, credential uses.
#
#   block:  header 16 bytes  b"DKT1" | generation u32 | ff ff ff ff | crc32(bytes 0..11) u32
#           entries from 16, 12 bytes each (340):  tag u8 | id 6 bytes | value u32 | check u8
#           check = crc32(bytes 0..10) & 0xff; an entry of twelve 0xff bytes is free
#
# set() is one 12-byte program, durable when it returns; the latest entry of a key wins. A full
# block is compacted into the other one (erase, live entries, header with generation + 1 LAST), so
# a power cut leaves the old map or the new one. A value of 0 is the same as no entry: set(t, i, 0)
# removes the key (get() gives its default) and compaction drops it.
#
# Writes that fail (a non-zero return, as sim.nor and littlefs do, or an OSError, as esp32.Partition
# does) raise OSError and leave the map as it was; the entry slot that failed is never programmed
# again (it may hold a torn prefix).
import binascii
import struct
from micropython import const

T_BOOTS = const(1)  # id b"": boot count
T_CURSOR = const(2)  # id b"": event log, highest acknowledged sequence number
T_PIN_FAILS = const(3)  # keypad: wrong PINs in a row
T_USES = const(4)  # id = credential key (6 bytes): uses counted
T_SEQ_FLOOR = const(5)  # id b"": event log, every sequence number issued so far is below it
T_KEYS_VERSION = const(6)  # reserved (key store)
T_CMD_COUNTER = const(7)  # id b"": the last signed remote command accepted (lockctl/command.py)
T_CMD_MAC = const(8)  # id b"": the first 4 bytes of that command's MAC (a redelivery after a reboot)
T_URL_FROM = const(9)  # id = URL key id (u16 LE): its window's first second, Unix s (lockctl/urlkey.py)
T_URL_UNTIL = const(10)  # id = URL key id: the second its window closes, Unix s

ENTRIES = const(340)  # per block: (4096 - 16) / 12; also the bound on live keys
ID_LEN = const(6)
_HDR = const(16)
_ENTRY = const(12)
_ROW = const(11)  # RAM row: key 7 bytes + value u32
_GROUP = const(20)  # RAM rows per group
_CHUNK = const(20)  # entries per read (mount) and per program (compaction): 240 bytes of RAM
_BLOCK_ERASE = const(6)
_EIO = const(5)
_ENOSPC = const(28)
_MAGIC = b"DKT1"


class TallyFull(OSError):
    """set() of a new key while 340 keys are live: nothing was changed (errno ENOSPC)."""


def write_ok(part, n, buf, off):
    """Program buf at byte off of block n; False if the device refused (non-zero or OSError)."""
    try:
        r = part.writeblocks(n, buf, off)
    except OSError:
        return False
    return not r


def erase_ok(part, n):
    try:
        r = part.ioctl(_BLOCK_ERASE, n)
    except OSError:
        return False
    return not r


def read(part, n, buf, off):
    """Read len(buf) bytes; OSError if the device refuses."""
    r = part.readblocks(n, buf, off)
    if r:
        raise OSError(_EIO)


def all_ff(buf, a, n):
    i = a
    while i < a + n:
        if buf[i] != 0xFF:
            return False
        i += 1
    return True


class Tally:
    """Tally(part, first=0): the map on blocks first and first + 1 of the block device `part`."""

    def __init__(self, part, first=0):
        if part.ioctl(4, 0) < first + 2:
            raise ValueError("a tally needs 2 blocks")
        self._part = part
        self._first = first
        # the live map in RAM: rows of key (tag, id: 7 bytes) + value u32 LE, unordered, only
        # non-zero values, in groups of 20 rows (220 bytes) added as keys come: a few keys cost
        # one group, the 340 a block holds 17 of them (3,740 bytes) and no large block of heap
        self._rows = []
        self._n = 0
        self._k = bytearray(7)
        self._e = bytearray(_ENTRY)
        self._e11 = memoryview(self._e)[:11]
        self._c = bytearray(_CHUNK * _ENTRY)
        self._h = bytearray(_HDR)
        self._h12 = memoryview(self._h)[:12]
        self.block = -1  # the block in use (0 or 1), -1: none yet (formatted by the first set)
        self.generation = 0
        self.torn = 0  # entry slots skipped: torn at mount, or a set whose program failed
        self.corrupt = False  # mount found no valid header on a block that is not blank
        self._pos = ENTRIES  # next free entry of the block in use
        self._mount()

    # ------------------------------------------------------------------ the RAM map
    def _key(self, tag, id):
        if type(tag) is not int or not 0 <= tag < 0xFF:
            raise ValueError("tally tag 0..254")
        n = len(id)
        if n > ID_LEN:
            raise ValueError("tally id of 6 bytes at most")
        k = self._k
        k[0] = tag
        k[1:1 + n] = id
        i = 1 + n
        while i < 7:
            k[i] = 0
            i += 1
        return k

    def _row(self, k):
        # -> index of k's row, or -1
        tag = k[0]
        n = self._n
        r = 0
        for g in self._rows:
            o = 0
            while o < _GROUP * _ROW and r < n:
                if g[o] == tag:
                    j = 1
                    while j < 7 and g[o + j] == k[j]:
                        j += 1
                    if j == 7:
                        return r
                o += _ROW
                r += 1
        return -1

    def _value(self, r):
        return struct.unpack_from("<I", self._rows[r // _GROUP], r % _GROUP * _ROW + 7)[0]

    def _put(self, k, r, value):
        # k = value in RAM, r = its row (or -1)
        rows = self._rows
        if value:
            if r < 0:
                r = self._n
                if r == len(rows) * _GROUP:
                    rows.append(bytearray(_GROUP * _ROW))
                self._n = r + 1
                o = r % _GROUP * _ROW
                rows[r // _GROUP][o:o + 7] = k
            struct.pack_into("<I", rows[r // _GROUP], r % _GROUP * _ROW + 7, value)
        elif r >= 0:
            last = self._n - 1
            self._n = last
            if r != last:
                o = r % _GROUP * _ROW
                p = last % _GROUP * _ROW
                memoryview(rows[r // _GROUP])[o:o + _ROW] = memoryview(rows[last // _GROUP])[p:p + _ROW]
            if last % _GROUP == 0:
                rows.pop()  # its group is empty now

    # ------------------------------------------------------------------ mount
    def _header(self, b):
        h = self._h
        read(self._part, self._first + b, h, 0)
        if h[0:4] != _MAGIC or struct.unpack_from("<I", h, 12)[0] != binascii.crc32(self._h12):
            if not all_ff(h, 0, _HDR):
                self.corrupt = True
            return -1
        return struct.unpack_from("<I", h, 4)[0]

    def _mount(self):
        g0 = self._header(0)
        g1 = self._header(1)
        if g0 < 0 and g1 < 0:
            return
        self.corrupt = False  # one valid block: the other is a compaction that did not finish
        b = 0 if g0 >= g1 else 1
        self.block = b
        self.generation = g0 if b == 0 else g1
        c = self._c
        last = -1  # last entry that is not free: the next set goes after it
        holes = 0  # free entries before it (a failed program that landed nothing)
        mv = memoryview(c)
        for k in range(ENTRIES // _CHUNK):
            read(self._part, self._first + b, c, _HDR + k * _CHUNK * _ENTRY)
            for j in range(_CHUNK):
                o = j * _ENTRY
                if all_ff(c, o, _ENTRY):
                    continue
                i = k * _CHUNK + j
                holes += i - last - 1
                last = i
                if c[o] == 0xFF or binascii.crc32(mv[o:o + 11]) & 0xFF != c[o + 11]:
                    self.torn += 1
                    continue
                key = mv[o:o + 7]
                self._put(key, self._row(key), struct.unpack_from("<I", c, o + 7)[0])
        self.torn += holes
        self._pos = last + 1

    # ------------------------------------------------------------------ reads
    def get(self, tag, id=b"", default=0):
        o = self._row(self._key(tag, id))
        return self._value(o) if o >= 0 else default

    def ids(self, tag):
        """(id, value) of every live key of `tag` (ids padded to 6 bytes with zeros)."""
        for r in range(self._n):
            g = self._rows[r // _GROUP]
            o = r % _GROUP * _ROW
            if g[o] == tag:
                yield bytes(g[o + 1:o + 7]), self._value(r)

    def __len__(self):
        return self._n

    @property
    def room(self):
        """Sets left before the next compaction."""
        return ENTRIES - self._pos if self.block >= 0 else 0

    # ------------------------------------------------------------------ writes
    def remove(self, tag, id=b""):
        self.set(tag, id, 0)

    def set(self, tag, id, value):
        """Durable when it returns (one 12-byte program, or a compaction when the block is full).
        OSError (the map unchanged) if the flash refused; TallyFull for a new key beyond 340."""
        if type(value) is not int or not 0 <= value <= 0xFFFFFFFF:
            raise ValueError("tally value u32")
        k = self._key(tag, id)
        o = self._row(k)
        old = self._value(o) if o >= 0 else 0
        if old == value:
            return
        if o < 0 and self._n >= ENTRIES:
            raise TallyFull(_ENOSPC, "tally full")
        if self._pos >= ENTRIES:
            self._compact(k, o, value)
            return
        e = self._e
        _entry(e, 0, k, value, self._e11)
        i = self._pos
        self._pos = i + 1  # even if it fails: that slot may hold a torn prefix now
        if not write_ok(self._part, self._first + self.block, e, _HDR + i * _ENTRY):
            self.torn += 1
            raise OSError(_EIO)
        self._put(k, o, value)

    def _compact(self, k, ko, value):
        # ko: k's row or -1
        # the live map with k = value into the other block; header (generation + 1) last
        part = self._part
        b = 1 - self.block if self.block >= 0 else 0
        n = self._first + b
        if not erase_ok(part, n):
            raise OSError(_EIO)
        c = self._c
        mv = memoryview(c)
        j = 0
        done = 0
        for r in range(self._n):
            if r == ko:
                continue
            e = j * _ENTRY
            o = r % _GROUP * _ROW
            mv[e:e + 11] = memoryview(self._rows[r // _GROUP])[o:o + _ROW]
            c[e + 11] = binascii.crc32(mv[e:e + 11]) & 0xFF
            j += 1
            if j == _CHUNK:
                if not write_ok(part, n, c, _HDR + done * _ENTRY):
                    raise OSError(_EIO)
                done += j
                j = 0
        if value:
            _entry(c, j * _ENTRY, k, value, mv[j * _ENTRY:j * _ENTRY + 11])
            j += 1
        if j and not write_ok(part, n, mv[:j * _ENTRY], _HDR + done * _ENTRY):
            raise OSError(_EIO)
        done += j
        g = self.generation + 1
        h = self._h
        h[0:4] = _MAGIC
        struct.pack_into("<I", h, 4, g)
        h[8] = h[9] = h[10] = h[11] = 0xFF
        struct.pack_into("<I", h, 12, binascii.crc32(self._h12))
        if not write_ok(part, n, h, 0):
            raise OSError(_EIO)
        self.block = b
        self.generation = g
        self._pos = done
        self._put(k, ko, value)


def _entry(buf, o, key, value, mv11):
    buf[o:o + 7] = key
    struct.pack_into("<I", buf, o + 7, value)
    buf[o + 11] = binascii.crc32(mv11) & 0xFF
