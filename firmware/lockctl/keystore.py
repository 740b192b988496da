# The key store: credentials on a raw flash partition, 16 bytes each, 1 flash read per lookup.
#
# Partition: two slots (A, B) of half the partition each. A slot is a header block, then data
# blocks of 255 records sorted by key (+ a 16-byte trailer: version, block index, records, crc32).
# The header (magic, version, count, door id, body hash, profile table, the first key of every data
# block, crc32) is written LAST, so a slot counts only once all its blocks are down: a bundle
# installs into the other slot and a power cut at any point leaves exactly the old or the new
# version (docs/keys.md).
#
# RAM: the header's index (6 bytes a block: 2.3 KB at 100,000 credentials), one 4 KB block buffer
# and the profile table (64 x 4 small ints at most). A lookup bisects the index, reads that one
# block (1 readblocks call), checks its crc and bisects inside it. Mounting reads the two headers;
# verify() reads every block once (boot does, to report a corrupt store).
#
# Record (16 bytes): key 6 = HMAC-SHA256(door secret, "K" kind ident)[:6], user u24, from u16,
# until u16 (local day numbers, schedule.py), profile u8, flags u8 (bit0 enabled, bits 1-3 kind),
# uses u8 (0 unlimited). The key hides the card numbers and PINs and spreads them evenly.
import hashlib
import struct
from binascii import crc32, unhexlify

from micropython import const

from lockctl import schedule
from lockctl import bundle as B
from lockctl.codes import (KIND_PIN, KIND_PHONE, KIND_LAST, R_UNKNOWN, R_USED_UP, R_STORE, R_OLD_VERSION,
                           R_BASE_MISMATCH, R_CORRUPT, R_NO_ROOM, R_FORMAT, R_USE_TALLY)
from lockctl.hmac256 import hmac_sha256

REC = const(16)
KEY = const(6)
PER_BLOCK = const(255)
BLOCK = const(4096)
_TRAILER = const(4080)
_CRC_AT = const(4092)
MAX_PROFILES = const(64)
MAX_BLOCKS = const(585)  # data blocks a slot header can index: (4096 - 68 - 64 * 8 - 4) // 6
ENABLED = const(1)
_MAGIC = b"DKS1"
_HFMT = "<4sBBHIIH2s16s32s"  # magic, format, nprof, 0, version, count, nblocks, pad, door, body sha
_HLEN = const(68)
T_USES = const(4)  # the tally tag of use counts (lockctl/tally.py)
T_KEYS_VERSION = const(6)  # the tally tag of the highest version ever committed (rollback guard)


class StoreError(Exception):
    """The key store partition cannot be used; .code says why (an int for STORE_FAULT records)."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


# --------------------------------------------------------------------- the record format
def ident_bytes(kind, ident):
    """The identity bytes a key is made from: the hex the reader reports, or a PIN's digits."""
    if kind == KIND_PIN:
        if not (4 <= len(ident) <= 8) or not ident.isdigit():
            raise ValueError("a PIN is 4 to 8 digits")
        return ident.encode()
    return unhexlify(ident)


def cred_key(secret, kind, ident):
    return hmac_sha256(secret, bytes((0x4B, kind)), ident_bytes(kind, ident))[:KEY]


def phone_key(secret, phone_id):
    """The phone's own key (its app holds it): derived from the door secret, so one enrolment in the
    key store is the whole of a phone's enrolment."""
    return hmac_sha256(secret, b"P", bytes(phone_id))


def pack(key, user, frm=schedule.NO_START, until=schedule.NO_END, profile=0, kind=0, enabled=True, uses=0):
    if len(key) != KEY:
        raise ValueError("a key is 6 bytes")
    if not 0 < user < 1 << 24:
        raise ValueError("a user index is 1..16777215")
    if not (0 <= frm <= 0xFFFF and 0 <= until <= 0xFFFF and 0 <= profile < MAX_PROFILES and 0 <= uses <= 255
            and 0 <= kind <= KIND_LAST):
        raise ValueError("credential field out of range")
    b = bytearray(REC)
    b[0:KEY] = key
    b[6] = user & 0xFF
    b[7] = (user >> 8) & 0xFF
    b[8] = user >> 16
    struct.pack_into("<HHBBB", b, 9, frm, until, profile, (ENABLED if enabled else 0) | (kind << 1), uses)
    return bytes(b)


def unpack(buf, o=0):
    """-> (key, user, from, until, profile, kind, enabled, uses)"""
    frm, until, prof, flags, uses = struct.unpack_from("<HHBBB", buf, o + 9)
    user = buf[o + 6] | buf[o + 7] << 8 | buf[o + 8] << 16
    return bytes(buf[o:o + KEY]), user, frm, until, prof, (flags >> 1) & 7, bool(flags & ENABLED), uses


def _fails(r):
    return r is not None and r != 0


# --------------------------------------------------------------------- the store
class KeyStore:
    """keys for the core: check(kind, ident, local_s) -> (user, None) or (None, R_*), consume(),
    key_for(phone_id) for the phone protocol, begin(header) to install a bundle."""

    def __init__(self, part, secret, door_id, tally=None):
        self.part = part
        self.secret = bytes(secret)
        self.door_id = bytes(door_id)
        self.tally = tally
        n = part.ioctl(4, 0)
        self.slot_blocks = n // 2
        self.capacity = min(self.slot_blocks - 1, MAX_BLOCKS) * PER_BLOCK
        self.buf = bytearray(BLOCK)
        self.version = 0
        self.count = 0
        self.slot = -1  # the active slot, -1: none (a blank store: every credential is unknown)
        self.nblocks = 0
        self.index = bytearray(0)
        self.bad = 0  # data blocks whose crc fails: their credentials answer R_STORE
        self.error = None  # StoreError text of the last mount problem
        self.profiles = [(schedule.P_ALWAYS, 0, 0, 0)]
        self._hit = None  # (key, limit) of the last credential check() granted
        self.mount()

    # ----------------------------------------------------------------- mount
    def _read(self, n, buf, off=0):
        if _fails(self.part.readblocks(n, buf, off)):
            raise OSError(5)

    def _header(self, slot):
        """-> (version, count, nblocks, profiles, sha) of a slot's valid header, None if blank,
        False if present but not valid (torn or corrupt)."""
        b = self.buf
        self._read(slot * self.slot_blocks, b)
        if b[0] == 0xFF and b[1] == 0xFF and b[2] == 0xFF and b[3] == 0xFF:
            return None
        if b[0:4] != _MAGIC or b[4] != 1:
            return False
        nprof = b[5]
        _, _, _, _, version, count, nblocks, _, door, sha = struct.unpack_from(_HFMT, b, 0)
        if nprof < 1 or nprof > MAX_PROFILES or nblocks > min(self.slot_blocks - 1, MAX_BLOCKS):
            return False
        at = _HLEN + nprof * B.PROFILE
        end = at + nblocks * KEY
        if struct.unpack_from("<I", b, end)[0] != crc32(memoryview(b)[:end]) or door != B.door_field(self.door_id):
            return False
        profs = []
        for i in range(nprof):
            profs.append(schedule.unpack_profile(b, _HLEN + i * B.PROFILE))
        return version, count, nblocks, profs, bytearray(b[at:end])

    def _floor(self):
        """The highest version ever committed here (the tally keeps it), 0 without a tally."""
        try:
            return self.tally.get(T_KEYS_VERSION) if self.tally is not None else 0
        except Exception:
            return 0

    def _set_floor(self, version):
        try:
            if self.tally is not None:
                self.tally.set(T_KEYS_VERSION, b"", version)
        except Exception:
            pass  # the next mount tries again

    def mount(self, verify=False):
        """Pick the valid slot with the highest version (2 reads). A header that does not check is
        what a power cut in a commit leaves in the spare slot: harmless, unless the tally says a
        newer version than every valid slot was committed. Then that header was the installed one
        and is damaged: the store refuses every credential (R_STORE) rather than roll back to the
        older slot (which would bring back revoked keys), and says so (self.error). Nothing is ever
        rewritten here."""
        self.error = None
        best = None
        for s in (0, 1):
            h = self._header(s)  # (False: a header that does not check; see above)
            if h and (best is None or h[0] > best[1][0]):
                best = (s, h)
        floor = self._floor()
        self.slot, self.version, self.count, self.nblocks = -1, 0, 0, 0
        self.index = bytearray(0)
        self.profiles = [(schedule.P_ALWAYS, 0, 0, 0)]
        self.bad = 0
        if best is None:
            if floor:  # the key store held version `floor`: it is unreadable, not blank
                self.error = "no valid key store slot (version %d was installed)" % floor
            return
        s, (version, count, nblocks, profs, index) = best
        if version < floor:
            self.error = "key store version %d is older than the installed %d (its header is damaged)" % (version, floor)
            self.version = floor  # (and a bundle must still be newer than what was installed)
            return
        if version > floor:
            self._set_floor(version)
        self.slot, self.version, self.count, self.nblocks = s, version, count, nblocks
        self.index, self.profiles = index, profs
        if verify:
            self.verify()

    def verify(self):
        """Read every data block of the installed version once; -> how many fail their check (also
        self.bad, and self.error says so)."""
        bad = 0
        for i in range(self.nblocks):
            try:
                ok = self._load_block(self.slot, i, self.version)
            except OSError:
                ok = False
            if not ok:
                bad += 1
        self.bad = bad
        if bad:
            self.error = "%d of %d key store blocks fail their check" % (bad, self.nblocks)
        return bad

    def _load_block(self, slot, i, version, b=None):
        """Read data block i of slot into b (self.buf); True if its trailer and crc check out."""
        if b is None:
            b = self.buf
        self._read(slot * self.slot_blocks + 1 + i, b)
        v, idx, nrec = struct.unpack_from("<IHH", b, _TRAILER)
        return (v == version and idx == i and 0 < nrec <= PER_BLOCK
                and struct.unpack_from("<I", b, _CRC_AT)[0] == crc32(memoryview(b)[:_CRC_AT]))

    # ----------------------------------------------------------------- lookup
    def _find(self, key):
        """-> offset of key's record in self.buf (its block loaded), -1 if absent; R_STORE raised as
        StoreError when the block it would be in is unreadable."""
        if self.slot < 0 or not self.nblocks:
            return -1
        index = self.index
        lo, hi = 0, self.nblocks - 1  # the last block whose first key <= key
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if index[mid * KEY:(mid + 1) * KEY] <= key:
                lo = mid
            else:
                hi = mid - 1
        if not self._load_block(self.slot, lo, self.version):
            raise StoreError(R_STORE, "key store block %d fails its check" % lo)
        b = self.buf
        n = struct.unpack_from("<H", b, _TRAILER + 6)[0]
        lo, hi = 0, n - 1
        while lo <= hi:
            mid = (lo + hi) >> 1
            k = b[mid * REC:mid * REC + KEY]
            if k == key:
                return mid * REC
            if k < key:
                lo = mid + 1
            else:
                hi = mid - 1
        return -1

    def check(self, kind, ident, local):
        """-> (user, None) when the credential opens now, else (None, R_*). local: local time in
        seconds (schedule.local_seconds), None while the clock is unset."""
        self._hit = None
        try:
            key = cred_key(self.secret, kind, ident)
        except ValueError:
            return None, R_UNKNOWN  # not something that can be enrolled (a 3-digit PIN, bad hex)
        try:
            o = self._find(key)
        except (StoreError, OSError):
            return None, R_STORE
        if o < 0:
            # with no readable slot nobody can be told unknown: the store is what failed
            return None, R_STORE if self.slot < 0 and self.error is not None else R_UNKNOWN
        _, user, frm, until, prof, _, enabled, uses = unpack(self.buf, o)
        p = self.profiles[prof] if prof < len(self.profiles) else None
        if p is None:
            return None, R_STORE
        why = schedule.check(local, frm, until, p, enabled)
        if why is not None:
            return None, why
        limit = schedule.use_limit(p[0], uses)
        if limit:
            if self.tally is None:
                return None, R_USE_TALLY
            if self.tally.get(T_USES, key) >= limit:
                return None, R_USED_UP
        self._hit = (key, limit)
        return user, None

    def consume(self, kind, ident):
        """Count one use of the credential check() just granted (durably, before the unlock). ->
        False if a counted use could not be recorded: the unlock must then be refused."""
        hit = self._hit
        self._hit = None
        if hit is None or not hit[1]:
            return True
        key = hit[0]
        try:
            self.tally.set(T_USES, key, self.tally.get(T_USES, key) + 1)
        except Exception:
            return False
        return True

    def key_for(self, phone_id):
        """The phone protocol's key lookup (lockctl/phone.py): the derived key of an enrolled phone."""
        try:
            o = self._find(cred_key(self.secret, KIND_PHONE, _hex(phone_id)))
        except (StoreError, OSError, ValueError):
            return None
        return phone_key(self.secret, phone_id) if o >= 0 else None

    def __len__(self):
        return self.count

    def records(self):
        """Every record in key order (for tools and tests: a full scan, one read per block)."""
        for i in range(self.nblocks):
            if not self._load_block(self.slot, i, self.version):
                raise StoreError(R_STORE, "key store block %d fails its check" % i)
            n = struct.unpack_from("<H", self.buf, _TRAILER + 6)[0]
            for j in range(n):
                yield bytes(self.buf[j * REC:(j + 1) * REC])

    # ----------------------------------------------------------------- install
    def begin(self, header):
        """Check a bundle's header against this door and version (nothing is touched before that)
        and return an Installer to feed the body to; BundleError(reason) if it is refused."""
        kind, nprof, version, base, count, blen, sha = B.parse_header(header, self.secret, self.door_id)
        if version <= self.version:
            raise B.BundleError(R_OLD_VERSION, "bundle version %d, installed %d" % (version, self.version))
        if kind == B.DELTA and base != self.version:
            raise B.BundleError(R_BASE_MISMATCH, "delta for version %d, installed %d" % (base, self.version))
        if nprof < 1 or nprof > MAX_PROFILES:
            raise B.BundleError(R_FORMAT, "bundle with %d profiles (1..%d)" % (nprof, MAX_PROFILES))
        if kind == B.FULL and count > self.capacity:
            raise B.BundleError(R_NO_ROOM, "%d credentials, room for %d" % (count, self.capacity))
        return Installer(self, kind, nprof, version, count, blen, sha)

    def install(self, data, chunk=512):
        """A whole bundle already in hand (bytes), fed in pieces as a stream would: -> the version;
        BundleError as begin() / finish(). (Tools, tests and provisioning; the lock feeds pieces as
        they arrive: App.bundle_begin.)"""
        mv = memoryview(data)
        inst = self.begin(mv[:B.HEADER])
        i = B.HEADER
        while i < len(mv):
            inst.feed(mv[i:i + chunk])
            i += chunk
        return inst.finish()


def _hex(b):
    s = ""
    for x in bytes(b):
        s += "%02X" % x
    return s


class Installer:
    """Streams a bundle body into the spare slot: feed(chunk) as bytes arrive (each call writes at
    most the blocks that filled up), then finish() -> the new version, or BundleError. Abandoning it
    (or a power cut) leaves the installed version in force."""

    def __init__(self, store, kind, nprof, version, count, blen, sha):
        self.store = store
        self.kind = kind
        self.nprof = nprof
        self.version = version
        self.count = count
        self.left = blen
        self.sha = sha
        self.hash = hashlib.sha256()
        self.esize = B.entry_size(kind)
        self.part = store.part
        self.target = 0 if store.slot == 1 else 1
        self.base = self.target * store.slot_blocks
        self.out = bytearray(BLOCK)
        self.index = bytearray(min(store.slot_blocks - 1, MAX_BLOCKS) * KEY)  # first key of each block
        self.nout = 0  # records in self.out
        self.blocks = 0  # data blocks written
        self.total = 0
        self.last = None  # last key written (strictly ascending)
        self.dlast = None  # last key of a delta entry (the entries too are strictly ascending)
        self.profiles = bytearray(nprof * B.PROFILE)
        self.pgot = 0
        self.ent = bytearray(self.esize)
        self.egot = 0
        self.entries = 0
        # the old records a delta merges with: read block by block
        self.old = bytearray(BLOCK) if kind == B.DELTA else None
        self.oblock = -1
        self.on = 0
        self.oi = 0
        self.done = False
        self.ended = False
        self.q = bytearray()  # delta entries waiting for step()
        self.qi = 0
        self._erase(self.base)  # the spare slot's old header goes first: it never pairs with new blocks

    def _erase(self, n):
        if _fails(self.part.ioctl(6, n)):
            raise OSError(5)

    def _write(self, n, buf):
        if _fails(self.part.writeblocks(n, buf, 0)):
            raise OSError(5)

    # ----------------------------------------------------------------- output
    def _emit(self, rec, o=0):
        k = rec[o:o + KEY]
        if self.last is not None and k <= self.last:
            raise B.BundleError(R_CORRUPT, "bundle entries out of order")
        self.last = bytes(k)
        if rec[o + 13] >= self.nprof:  # (also the old records a delta keeps: its table replaces theirs)
            raise B.BundleError(R_CORRUPT, "a credential names profile %d, the bundle has %d"
                                % (rec[o + 13], self.nprof))
        n = self.nout
        if not n and self.blocks * KEY >= len(self.index):
            raise B.BundleError(R_NO_ROOM, "more credentials than the key store holds")
        if not n:
            self.index[self.blocks * KEY:(self.blocks + 1) * KEY] = k
        self.out[n * REC:(n + 1) * REC] = rec[o:o + REC]
        self.nout = n + 1
        self.total += 1
        if n + 1 == PER_BLOCK:
            self._flush()

    def _flush(self):
        n = self.nout
        if not n:
            return
        b = self.out
        for i in range(n * REC, _TRAILER):
            b[i] = 0xFF
        struct.pack_into("<IHHI", b, _TRAILER, self.version, self.blocks, n, 0xFFFFFFFF)
        struct.pack_into("<I", b, _CRC_AT, crc32(memoryview(b)[:_CRC_AT]))
        blk = self.base + 1 + self.blocks
        self._erase(blk)
        self._write(blk, b)
        self.blocks += 1
        self.nout = 0

    # ----------------------------------------------------------------- the old slot (delta)
    def _old_key(self):
        """The next old record's offset in self.old (loading blocks as needed), -1 at the end."""
        st = self.store
        while self.oi >= self.on:
            self.oblock += 1
            if st.slot < 0 or self.oblock >= st.nblocks:
                return -1
            if not st._load_block(st.slot, self.oblock, st.version, self.old):
                raise B.BundleError(R_CORRUPT, "the installed key store block %d fails its check" % self.oblock)
            self.on = struct.unpack_from("<H", self.old, _TRAILER + 6)[0]
            self.oi = 0
        return self.oi * REC

    def _queue(self, e):
        """A delta entry, checked for order and op, waits in the queue for step() to merge it."""
        op = e[0]
        if op != B.OP_ADD and op != B.OP_REMOVE and op != B.OP_CHANGE:
            raise B.BundleError(R_CORRUPT, "delta op %d" % op)
        key = bytes(e[1:1 + KEY])
        if self.dlast is not None and key <= self.dlast:
            raise B.BundleError(R_CORRUPT, "bundle entries out of order")
        self.dlast = key
        self.q.extend(e)

    def step(self):
        """Merge queued delta entries with the installed records (and, after end(), copy the rest
        of them) until one block has been written or nothing is left. -> True while work is left:
        each call writes at most one flash block, so the lock's loop runs between two calls."""
        if self.kind == B.FULL:
            return False
        start = self.blocks
        q = self.q
        while self.blocks == start:
            if self.qi >= len(q):
                if self.qi:
                    self.q = q = bytearray()
                    self.qi = 0
                if not self.ended:
                    return False
                o = self._old_key()  # the installed records after the delta's last key
                if o < 0:
                    return False
                self._emit(self.old, o)
                self.oi += 1
                continue
            e = q[self.qi:self.qi + REC + 1]
            key = bytes(e[1:1 + KEY])
            o = self._old_key()
            if o >= 0:
                k = self.old[o:o + KEY]
                if k < key:
                    self._emit(self.old, o)  # an installed record the delta keeps
                    self.oi += 1
                    continue
                if k != key:
                    o = -1
            op = e[0]
            if op == B.OP_ADD:
                if o >= 0:
                    raise B.BundleError(R_CORRUPT, "delta adds a credential that is already on the lock")
                self._emit(e, 1)
            else:
                if o < 0:
                    raise B.BundleError(R_CORRUPT, "delta changes a credential that is not on the lock")
                self.oi += 1
                if op == B.OP_CHANGE:
                    self._emit(e, 1)
            self.qi += REC + 1
        return self.qi < len(q) or self.ended

    # ----------------------------------------------------------------- input
    def feed(self, chunk):
        """The next piece of the body. A delta's entries wait for step(); what the previous piece
        queued is merged first if the caller did not step() it through (so the queue never holds
        more than one piece)."""
        while self.qi < len(self.q):
            self.step()
        if self.done:
            raise B.BundleError(R_CORRUPT, "bundle longer than its header says")
        mv = memoryview(chunk)
        if len(mv) > self.left:
            raise B.BundleError(R_CORRUPT, "bundle longer than its header says")
        self.left -= len(mv)
        self.hash.update(mv)
        i, n = 0, len(mv)
        plen = len(self.profiles)
        while i < n and self.pgot < plen:
            k = min(plen - self.pgot, n - i)
            self.profiles[self.pgot:self.pgot + k] = mv[i:i + k]
            self.pgot += k
            i += k
            if self.pgot == plen:
                for j in range(self.nprof):
                    try:
                        schedule.validate_profile(schedule.unpack_profile(self.profiles, j * B.PROFILE))
                    except ValueError as ex:
                        raise B.BundleError(R_CORRUPT, "bundle profile %d: %s" % (j, ex))
        es, ent = self.esize, self.ent
        while i < n:
            k = min(es - self.egot, n - i)
            ent[self.egot:self.egot + k] = mv[i:i + k]
            self.egot += k
            i += k
            if self.egot == es:
                self.egot = 0
                self.entries += 1
                if self.kind == B.FULL:
                    self._emit(ent)  # (at most one block a 4 KB piece)
                else:
                    self._queue(ent)  # step() merges it

    def busy(self):
        """True while step() has work: queued delta entries (feed the next piece once it is
        False), or the installed records still to copy after end()."""
        if self.kind == B.FULL:
            return False
        return self.qi < len(self.q) or (self.ended and self.oblock < self.store.nblocks)

    def end(self):
        """All bytes fed: check the length and the body hash (BundleError if they are wrong, nothing
        installed). A delta then still copies the rest of the installed records in step()s."""
        if self.ended:
            return
        if self.left or self.egot or self.entries != self.count:
            raise B.BundleError(R_CORRUPT, "bundle truncated")
        if self.hash.digest() != self.sha:
            raise B.BundleError(R_CORRUPT, "bundle body hash does not match")
        self.ended = True

    def finish(self):
        """end(), the remaining step()s, the last block, a read-back of every block, and the commit
        of the header. -> the installed version; BundleError and nothing installed otherwise."""
        self.end()
        while self.step():
            pass
        self._flush()
        st = self.store
        # read every block back before the commit: what is committed is what was meant
        h = self.out
        for i in range(self.blocks):
            if not st._load_block(self.target, i, self.version, h):
                raise OSError(5)
        struct.pack_into(_HFMT, h, 0, _MAGIC, 1, self.nprof, 0, self.version, self.total, self.blocks, b"\xff\xff",
                         B.door_field(st.door_id), self.sha)
        at = _HLEN + len(self.profiles)
        h[_HLEN:at] = self.profiles
        end = at + self.blocks * KEY
        h[at:end] = memoryview(self.index)[:self.blocks * KEY]
        struct.pack_into("<I", h, end, crc32(memoryview(h)[:end]))
        self._write(self.base, memoryview(h)[:end + 4])  # the commit: one program
        self.done = True
        st.mount()
        if st.version != self.version:
            raise OSError(5)
        return self.version
