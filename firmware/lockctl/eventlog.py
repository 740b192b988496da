# The event log: a ring of raw 4096-byte flash sectors holding 20-byte records (docs/eventlog.md).
#
#   sector: header 16 bytes  b"DKL1" | base_seq u32 | boot u16 | ff ff | crc32(bytes 0..11) u32
#           204 slots of 20 bytes from offset 16; the seq of slot i is base_seq + i
#   slot:   code | 0x80 if the time is wall clock (0xff: empty) | time u32 | payload 13 bytes |
#           check u16 = crc32(bytes 0..17) & 0xffff
#
# append() is one 20-byte program, durable when it returns; opening the next sector costs one
# tally program (the seq floor), one erase and one header program. A full ring drops its oldest
# sector (never blocks an append), counts what it dropped and says so in a DROPPED record. Sequence
# numbers never repeat: a new sector's base is above the previous head's last slot, the tally's
# floor (written before each sector is opened) and the acknowledged cursor.
#
# Writes that fail (a non-zero return or an OSError) raise OSError; the slot that failed is skipped
# (counted in `torn`) and never programmed again.
import binascii
import struct
from micropython import const

from lockctl.codes import LOG_BOOT, LOG_CLOCK_SET, LOG_DROPPED, KIND_PIN
from lockctl.tally import T_CURSOR, T_SEQ_FLOOR, TallyFull, write_ok, erase_ok, read, all_ff

SLOT = const(20)
SLOTS = const(204)  # per sector: (4096 - 16) / 20
HEADER = const(16)
PAYLOAD = const(13)
_P0 = const(5)  # payload: bytes 5..17
_PEND = const(18)
_WALL = const(0x80)
_EIO = const(5)
_MAGIC = b"DKL1"
# payload shape byte: arg form bits 0-1, who form bits 2-3, ident length bits 4-7
A_NONE = const(0)
A_INT = const(1)
A_PAIR = const(2)
A_PAIR_BOOL = const(3)  # (int, bool): a CONFIG of an on/off setting
W_NONE = const(0)
W_USER = const(1)
W_CRED = const(2)
W_CRED_PREFIX = const(3)  # a credential whose ident did not fit: its first bytes, decoded + "..."

TORN = "torn"  # decode_slot() of a slot that does not check


def _zz(n):
    return n << 1 if n >= 0 else ((-n) << 1) - 1


def _unzz(u):
    return -((u + 1) >> 1) if u & 1 else u >> 1


def _put(buf, i, u):
    # unsigned varint at i; -> next index (ValueError past the payload)
    while True:
        if i >= _PEND:
            raise ValueError("record does not fit a slot")
        b = u & 0x7F
        u >>= 7
        if u:
            buf[i] = b | 0x80
            i += 1
        else:
            buf[i] = b
            return i + 1


def _int(x):
    if type(x) is bool:
        return 1 if x else 0
    if type(x) is not int:
        raise ValueError("record arg must be ints")
    return x


def _check(mv18):
    return binascii.crc32(mv18) & 0xFFFF


def encode_slot(buf, rec, t, wall, mv18=None):
    """rec = (t_ms, code, arg, who) into the 20-byte buf; t: u32 (Unix s if wall, else ms since boot,
    kept mod 2**32). ValueError (buf then undefined) for a record the format cannot hold."""
    code = rec[1]
    arg = rec[2]
    who = rec[3]
    if type(code) is not int or not 0 < code < 0x7F:
        raise ValueError("log code 1..126")
    buf[0] = code | _WALL if wall else code
    if not 0 <= t <= 0xFFFFFFFF:
        t &= 0xFFFFFFFF  # (only then: a new long int on the board)
    struct.pack_into("<I", buf, 1, t)
    i = _P0 + 1
    if arg is None:
        shape = A_NONE
    elif type(arg) is tuple:
        if len(arg) != 2:
            raise ValueError("record arg pair")
        b = arg[1]
        shape = A_PAIR_BOOL if type(b) is bool else A_PAIR
        i = _put(buf, i, _zz(_int(arg[0])))
        i = _put(buf, i, _zz(_int(b)))
    else:
        shape = A_INT
        i = _put(buf, i, _zz(_int(arg)))
    if who is None:
        pass
    elif type(who) is tuple:
        if len(who) != 2 or type(who[0]) is not int or not 0 <= who[0] <= 0xFF:
            raise ValueError("credential (kind, ident)")
        if i >= _PEND:
            raise ValueError("record does not fit a slot")
        kind = who[0]
        buf[i] = kind
        i += 1
        form = W_CRED
        n = 0
        if kind != KIND_PIN:  # a PIN is never stored
            text = who[1]
            cut = type(text) is str and text.endswith("...")  # a prefix as decode_slot gives it back
            try:
                ident = binascii.unhexlify(text[:-3] if cut else text)
            except (TypeError, ValueError):
                raise ValueError("credential ident must be hex")
            n = len(ident)
            if cut:
                form = W_CRED_PREFIX
            if n > _PEND - i:
                n = _PEND - i
                form = W_CRED_PREFIX
            buf[i:i + n] = ident if form == W_CRED else memoryview(ident)[:n]
            i += n
        shape |= form << 2 | n << 4
    else:
        u = _int(who)
        if u < 0:
            raise ValueError("user index >= 0")
        shape |= W_USER << 2
        i = _put(buf, i, u)
    buf[_P0] = shape
    while i < _PEND:
        buf[i] = 0xFF
        i += 1
    struct.pack_into("<H", buf, _PEND, _check(mv18 if mv18 is not None else memoryview(buf)[:_PEND]))


def _get(buf, i):
    # -> (value, next index) of the unsigned varint at i, or (0, -1) past the payload
    u = 0
    s = 0
    while i < _PEND:
        b = buf[i]
        u |= (b & 0x7F) << s
        i += 1
        if not b & 0x80:
            return u, i
        s += 7
    return 0, -1


def slot_state(buf, mv18):
    """0 empty (twenty 0xff), 1 checks, 2 torn."""
    if all_ff(buf, 0, SLOT):
        return 0
    if buf[0] == 0xFF or _check(mv18) != buf[_PEND] | buf[_PEND + 1] << 8:
        return 2
    return 1


def decode_slot(buf):
    """-> (wall, t, code, arg, who); None for an empty slot; TORN for one that does not check (or
    whose payload is malformed)."""
    st = slot_state(buf, memoryview(buf)[:_PEND])
    if st == 0:
        return None
    if st == 2:
        return TORN
    c = buf[0]
    wall = bool(c & _WALL)
    code = c & 0x7F
    if not code:
        return TORN
    t = struct.unpack_from("<I", buf, 1)[0]
    shape = buf[_P0]
    af = shape & 3
    wf = shape >> 2 & 3
    n = shape >> 4
    i = _P0 + 1
    arg = None
    if af == A_INT:
        u, i = _get(buf, i)
        arg = _unzz(u)
    elif af:
        u, i = _get(buf, i)
        if i < 0:
            return TORN
        v, i = _get(buf, i)
        arg = (_unzz(u), bool(v) if af == A_PAIR_BOOL else _unzz(v))
    if i < 0:
        return TORN
    who = None
    if wf == W_USER:
        who, i = _get(buf, i)
        if i < 0:
            return TORN
    elif wf:
        if i + 1 + n > _PEND:
            return TORN
        ident = binascii.hexlify(buf[i + 1:i + 1 + n]).decode().upper()
        if wf == W_CRED_PREFIX:
            ident += "..."
        who = (buf[i], ident)
    return (wall, t, code, arg, who)


def _signed32(d):
    d &= 0xFFFFFFFF
    return d - 0x100000000 if d & 0x80000000 else d


def correct_times(records):
    """Records (seq, boot, wall, t, code, arg, who) in seq order -> a list of the same records with
    monotonic times turned into wall clock where a CLOCK_SET of the same boot tells the offset:
    wall = unix + (t - ms) // 1000 (ms differences mod 2**32, +-24 days), from the latest CLOCK_SET
    before the record, or the boot's first one for records before it. A BOOT record, or a change of
    boot, starts a new boot."""
    recs = list(records)
    out = []
    n = len(recs)
    i = 0
    while i < n:
        j = i + 1
        while j < n and recs[j][1] == recs[i][1] and recs[j][4] != LOG_BOOT:
            j += 1
        ref = None
        for k in range(i, j):
            if _clock(recs[k]):
                ref = recs[k][5]
                break
        for k in range(i, j):
            r = recs[k]
            if _clock(r):
                ref = r[5]
            if not r[2] and ref is not None:
                r = (r[0], r[1], True, ref[0] + _signed32(r[3] - ref[1]) // 1000, r[4], r[5], r[6])
            out.append(r)
        i = j
    return out


def _clock(r):
    a = r[5]
    return r[4] == LOG_CLOCK_SET and type(a) is tuple and len(a) == 2 and type(a[0]) is int and type(a[1]) is int


class EventLog:
    """EventLog(part, tally, boot, first=0, blocks=None): the ring on blocks first .. first+blocks-1
    of `part` (all of it by default); `tally` (lockctl.tally.Tally) keeps the acknowledged cursor and
    the seq floor; `boot` is this boot's count, written in the headers of the sectors it opens."""

    def __init__(self, part, tally, boot, first=0, blocks=None):
        if blocks is None:
            blocks = part.ioctl(4, 0) - first
        if blocks < 2:
            raise ValueError("an event log needs 2 sectors or more")
        self._part = part
        self._tally = tally
        self.boot = boot
        self._first = first
        self._n = blocks
        self._bases = [-1] * blocks  # base seq of every sector with a valid header, -1: free
        self._h = bytearray(HEADER)
        self._h12 = memoryview(self._h)[:12]
        self._slot = bytearray(SLOT)
        self._s18 = memoryview(self._slot)[:_PEND]
        self._aux = bytearray(SLOT)  # reads while opening a sector, the DROPPED record
        self._a18 = memoryview(self._aux)[:_PEND]
        self.capacity = (blocks - 1) * SLOTS  # the newest records the ring always keeps
        self.dropped = 0  # records dropped by a full ring since mount
        self.torn = 0  # slots skipped: found torn (or empty between records) in the head at mount,
        #                or given up after a failed program
        self.bad_sectors = 0  # headers at mount that are neither blank nor valid
        self._drop_pending = 0  # dropped records not yet told by a DROPPED record
        self._head = -1
        self._pos = SLOTS
        self._mount()

    # ------------------------------------------------------------------ mount
    def _header(self, s):
        # -> (base, boot) of sector s, or None if its header does not check
        h = self._h
        read(self._part, self._first + s, h, 0)
        if h[0:4] != _MAGIC or struct.unpack_from("<I", h, 12)[0] != binascii.crc32(self._h12):
            return None
        return struct.unpack_from("<IH", h, 4)

    def _mount(self):
        hb = -1
        for s in range(self._n):
            hd = self._header(s)
            if hd is None:
                if not all_ff(self._h, 0, HEADER):
                    self.bad_sectors += 1
                continue
            b = hd[0]
            self._bases[s] = b
            if b > hb:
                self._head = s
                hb = b
        if self._head < 0:
            return
        buf = self._aux
        last = -1
        torn = 0
        for i in range(SLOTS):
            read(self._part, self._first + self._head, buf, HEADER + i * SLOT)
            st = slot_state(buf, self._a18)
            if st:
                torn += i - last - 1  # empty slots before this one: never reused
                last = i
                if st == 2:
                    torn += 1
        self.torn = torn
        self._pos = last + 1

    # ------------------------------------------------------------------ state
    @property
    def cursor(self):
        """Highest acknowledged seq (0: none)."""
        return self._tally.get(T_CURSOR)

    def _next_base(self):
        b = 1
        if self._head >= 0:
            b = self._bases[self._head] + SLOTS
        f = self._tally.get(T_SEQ_FLOOR)
        if f > b:
            b = f
        c = self._tally.get(T_CURSOR) + 1
        return c if c > b else b

    @property
    def room(self):
        """Appends left in the head sector (0: the next append opens a sector, erasing one)."""
        return SLOTS - self._pos if self._head >= 0 and self._pos < SLOTS else 0

    @property
    def next_seq(self):
        """No record on flash has this seq or a higher one; the next append gets it (or, when it
        opens a sector, a higher one)."""
        if self._head >= 0 and self._pos < SLOTS:
            return self._bases[self._head] + self._pos
        return self._next_base()

    # ------------------------------------------------------------------ writes
    def append(self, rec, t=None, wall=False):
        """rec = (t_ms, code, arg, who); t: the time to store (default rec[0]), wall: t is Unix
        seconds rather than ms since boot. -> seq, durable on return. ValueError (nothing changed)
        for a record the format cannot hold, OSError if the flash refused."""
        if t is None:
            t = rec[0]
        encode_slot(self._slot, rec, t, wall, self._s18)
        while True:
            if self._head < 0 or self._pos >= SLOTS:
                self._open()
            if not self._drop_pending:
                break
            encode_slot(self._aux, (t, LOG_DROPPED, self._drop_pending, None), t, wall, self._a18)
            self._program(self._aux)
            self._drop_pending = 0
        return self._program(self._slot)

    def _program(self, buf):
        s = self._head
        i = self._pos
        self._pos = i + 1  # even if it fails: the slot may hold a torn prefix
        if not write_ok(self._part, self._first + s, buf, HEADER + i * SLOT):
            self.torn += 1
            raise OSError(_EIO)
        return self._bases[s] + i

    def _open(self):
        s = 0 if self._head < 0 else (self._head + 1) % self._n
        base = self._next_base()
        t = self._tally
        if base + SLOTS > t.get(T_SEQ_FLOOR):
            try:
                t.set(T_SEQ_FLOOR, b"", base + SLOTS)  # before anything of the sector is issued
            except TallyFull:
                pass  # the ring alone still orders seqs; the log never stops for the tally
        old = self._bases[s]
        lost = self._unacked(s, old) if old >= 0 else 0
        if not erase_ok(self._part, self._first + s):
            raise OSError(_EIO)
        self._bases[s] = -1
        if lost:
            self.dropped += lost
            self._drop_pending += lost
        h = self._h
        h[0:4] = _MAGIC
        struct.pack_into("<IH", h, 4, base, self.boot & 0xFFFF)
        h[10] = h[11] = 0xFF
        struct.pack_into("<I", h, 12, binascii.crc32(self._h12))
        if not write_ok(self._part, self._first + s, h, 0):
            raise OSError(_EIO)
        self._bases[s] = base
        self._head = s
        self._pos = 0

    def _unacked(self, s, base):
        # records of sector s (about to be erased) after the cursor
        c = self._tally.get(T_CURSOR)
        buf = self._aux
        n = 0
        i = c + 1 - base if c >= base else 0
        while i < SLOTS:
            read(self._part, self._first + s, buf, HEADER + i * SLOT)
            if slot_state(buf, self._a18) == 1:
                n += 1
            i += 1
        return n

    def ack(self, seq):
        """Every record up to seq is acknowledged (durable on return: the tally's cursor). A seq
        beyond the last issued acknowledges what was issued; an older one changes nothing."""
        top = self.next_seq - 1
        if seq > top:
            seq = top
        if seq > self._tally.get(T_CURSOR):
            self._tally.set(T_CURSOR, b"", seq)

    # ------------------------------------------------------------------ reads
    def records(self, since_seq=0):
        """Yield (seq, boot, wall, t, code, arg, who) of every record with seq >= since_seq still on
        flash, in seq order; torn slots are skipped. boot: from the latest BOOT record (arg (state,
        boot count)) before it in its sector, else the sector header's boot (mod 65536)."""
        buf = bytearray(SLOT)
        mv = memoryview(buf)[:_PEND]
        bases = self._bases
        lo = -1
        last = since_seq - 1
        while True:
            s = -1
            b = 0
            for j in range(self._n):
                bj = bases[j]
                if bj > lo and (s < 0 or bj < b) and bj + SLOTS > since_seq:
                    s = j
                    b = bj
            if s < 0:
                return
            lo = b
            hd = self._header(s)
            if hd is None or hd[0] != b:
                continue
            boot = hd[1]
            i = 0
            while bases[s] == b and i < (self._pos if s == self._head else SLOTS):
                read(self._part, self._first + s, buf, HEADER + i * SLOT)
                seq = b + i
                i += 1
                if seq <= last:
                    if buf[0] & 0x7F != LOG_BOOT or slot_state(buf, mv) != 1:
                        continue
                r = decode_slot(buf)
                if r is None or r is TORN:
                    continue
                if r[2] == LOG_BOOT and type(r[3]) is tuple:
                    boot = r[3][1]
                if seq <= last:
                    continue
                last = seq
                yield (seq, boot, r[0], r[1], r[2], r[3], r[4])

    def pending(self):
        """The records after the acknowledged cursor still on flash (a generator, as records())."""
        return self.records(self.cursor + 1)
