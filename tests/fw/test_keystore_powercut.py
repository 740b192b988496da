# The key store through power cuts. A bundle installs into the spare slot and its header is written
# last (lockctl/keystore.py): sim/powercut.py cuts the power at every write op of a full and of a
# delta install (with several lengths of the cut program landing), and after each cut the next
# boot's KeyStore mounts exactly the old version or exactly the new one: the version, every record
# in order (records() against the expected list) and lookups. A store left with the old version
# takes the same bundle again (the install retried after the reboot succeeds); one with the new
# version refuses it as a replay.
#
# Small devices: 8 blocks (slots of a header and 3 data blocks, 765 credentials), RamCells on
# CPython, FileCells on MicroPython (keykit.flash). Before every swept install the store already
# holds two versions (both slots valid), so the spare slot the install overwrites is a valid older
# version: its header must go before any of its blocks do.
# Runs at the board's heap (96wK), like test_keystore.py: the tests hold hundreds of records to
# build their bundles and compare the store with, and the snapshot of the flash (up to 32 KB).
MP_HEAP = "96wK"
import gc

from lockctl import bundle as B
from lockctl import keystore as K
from lockctl.codes import KIND_ISO14443A, R_OLD_VERSION, R_UNKNOWN
from sim.powercut import ALL, sweep
from keykit import ALWAYS, SECRET, DOOR, flash, install, rec

BLOCKS = 8
KEEPS = (0, 1, 68, -1, ALL)  # bytes of the cut program that land (68: a slot header's fixed part)
SAMPLE = (0, 1, 11, 17, 99, 100, 254, 255, 299, 300, 499, 500, 545, 546, 699, 764)  # card numbers looked up


# A version of the store is a function: card number i -> its user (0: not enrolled), over 0..N-1.
N = 800


def _ident(i):
    return "%08X" % i


def _op(old, new, i):
    """Card i's entry from version old to version new: (op, user) or None; old None: a full
    bundle's (every card of new)."""
    b = new(i)
    if old is None:
        return (0, b) if b else None
    a = old(i)
    if a and not b:
        return B.OP_REMOVE, a
    if b and not a:
        return B.OP_ADD, b
    if a and b and a != b:
        return B.OP_CHANGE, b
    return None


def _pack(old, new):
    """The entries from version old to version new (_op) in key order, packed in one bytearray:
    16-byte records (old None) or delta ops (op byte + record). The big blocks are allocated first
    and the records made with a collection every few: hundreds of small objects with the keyed
    hashes' garbage between them would scatter over the MicroPython heap and leave no 4 KB hole for
    the flash snapshot (keykit.cards collects too)."""
    size = K.REC if old is None else K.REC + 1
    n = 0
    for i in range(N):
        if _op(old, new, i):
            n += 1
    gc.collect()
    packed = bytearray(n * size)
    out = [None] * n
    j = 0
    for i in range(N):
        e = _op(old, new, i)
        if e:
            r = rec(KIND_ISO14443A, _ident(i), e[1])
            out[j] = r if old is None else bytes((e[0],)) + r
            j += 1
        if i % 16 == 15:
            gc.collect()
    k = size - K.REC
    out.sort(key=lambda e: e[k:k + K.KEY])
    for j in range(n):
        packed[j * size:(j + 1) * size] = out[j]
    return packed


def _records(users):
    """The records of a version in key order, packed (16 bytes each)."""
    return _pack(None, users)


class _Entries:
    """Packed entries as a bundle's (B.chunks reads them twice: each iteration yields them one by one)."""

    def __init__(self, packed, delta):
        self.packed = packed
        self.delta = delta

    def __iter__(self):
        p = self.packed
        if self.delta:
            for i in range(0, len(p), K.REC + 1):
                yield p[i], p[i + 1:i + 1 + K.REC]
        else:
            for i in range(0, len(p), K.REC):
                yield p[i:i + K.REC]


def _full(users, version, recs=None):
    """A full bundle of a version: a function that returns its stream (B.chunks), so that no bundle
    is ever held whole (installs take streams: keykit.install)."""
    entries = _Entries(_records(users) if recs is None else recs, False)

    def stream():
        return B.chunks(SECRET, DOOR, B.FULL, version, 0, [ALWAYS], entries)
    return stream


def _delta(old, new, version, base):
    """The delta bundle from version old to version new (its stream, as _full)."""
    entries = _Entries(_pack(old, new), True)

    def stream():
        return B.chunks(SECRET, DOOR, B.DELTA, version, base, [ALWAYS], entries)
    return stream


def _count(old, new, op):
    n = 0
    for i in range(N):
        e = _op(old, new, i)
        if e and e[0] == op:
            n += 1
    return n


def _same(records, expected):
    """records (an iterator: store.records()) is exactly the list of records packed in expected."""
    n = 0
    for r in records:
        if n >= len(expected) or r != expected[n:n + K.REC]:
            return False
        n += K.REC
    return n == len(expected)


def _is(st, version, users, expected):
    if st.version != version or len(st) * K.REC != len(expected) or not _same(st.records(), expected):
        return False
    for i in SAMPLE:
        u = users(i)
        if st.check(KIND_ISO14443A, _ident(i), None) != ((u, None) if u else (None, R_UNKNOWN)):
            return False
    return True


def _prepared(old_users, old_recs):
    """A device whose store holds two versions (both slots valid): version 1 (V1, 40 cards), then
    version 2 (old_users); old_users None: a blank store."""
    def prepare():
        dev = flash(BLOCKS)
        if old_users is not None:
            st = K.KeyStore(dev, SECRET, DOOR)
            install(st, _full(V1, 1)())
            install(st, _full(old_users, 2, old_recs)())
        return dev
    return prepare


def _installing(bundle):
    def act(dev):
        return install(K.KeyStore(dev, SECRET, DOOR), bundle())
    return act


def _checking(old_v, old_users, old_recs, new_v, new_users, new_recs, bundle):
    def check(dev, k, outcome):
        st = K.KeyStore(dev, SECRET, DOOR)  # the next boot
        assert st.error is None, st.error
        if _is(st, old_v, old_users, old_recs):
            label = "old"
        elif _is(st, new_v, new_users, new_recs):
            label = "new"
        else:
            raise AssertionError("version %d with %d records: neither the old (%d) nor the new (%d)"
                                 % (st.version, len(st), old_v, new_v))
        assert st.verify() == 0
        if label == "old":  # the install retried after the reboot goes through
            assert install(st, bundle()) == new_v
            assert _is(st, new_v, new_users, new_recs)
            st = K.KeyStore(dev.power_cycle(), SECRET, DOOR)
            assert _is(st, new_v, new_users, new_recs) and st.verify() == 0
            return ("old", "retried")
        try:  # the new version is in: the same bundle again is a replay
            install(st, bundle())
        except B.BundleError as e:
            assert e.reason == R_OLD_VERSION
        else:
            raise AssertionError("the bundle installed twice")
        assert _is(K.KeyStore(dev.power_cycle(), SECRET, DOOR), new_v, new_users, new_recs)
        return "new"
    return check


def _sweep(old_users, new_users, new_v, kind=B.FULL):
    """Sweep the install of version new_v (a full bundle or the delta from version 2) over a store
    with versions 1 and 2 = old_users (None: over a blank store)."""
    gc.collect()
    old_recs = _records(old_users or _blank)  # (the big blocks first: see _pack)
    new_recs = _records(new_users)
    if kind == B.FULL:
        bundle = _full(new_users, new_v, new_recs)
    else:
        bundle = _delta(old_users, new_users, new_v, 2)
    old_v = 0 if old_users is None else 2
    r = sweep(_prepared(old_users, old_recs), _installing(bundle),
              _checking(old_v, old_users or _blank, old_recs, new_v, new_users, new_recs, bundle), keeps=KEEPS)
    o = r["outcomes"]
    assert r["cuts"] == r["raised"] and r["returned"] == 0  # a cut install always fails
    assert r["cuts"] == o.get("old", 0) + o.get("new", 0) and o.get("old", 0) == o.get("retried", 0)
    assert o.get("old", 0) > 0 and o.get("new", 0) > 0
    # everything before the header's program leaves the old version; only that program can land it
    assert o["new"] <= len(KEEPS)
    return r


def _v(lo, hi, bump=0, every=1):
    """Cards lo..hi-1 enrolled, user i + 1 (+ bump on every `every`-th one)."""
    def users(i):
        if lo <= i < hi:
            return i + 1 + (bump if i % every == 0 else 0)
        return 0
    return users


def _blank(i):
    return 0


V1 = _v(0, 40)


def test_a_cut_full_install_leaves_the_old_or_the_new_version():
    r = _sweep(_v(0, 300), _v(100, 700, 1000, 3), 3)  # 2 data blocks -> 3, users changed
    assert r["ops"] == 1 + 3 * 2 + 1  # the spare header's erase, each block's erase + program, the header
    assert r["erase_cuts"] == 4 and r["program_cuts"] == 4 * len(KEEPS)
    _sweep(_v(0, 700), _v(0, 100, 7), 5)  # 3 -> 1


def test_a_cut_first_install_leaves_a_blank_store_or_the_new_version():
    _sweep(None, _v(0, 300), 1)


def _mixed(i):
    """Version 2 + a delta of every kind: cards 0..499 with every 17th gone, every 11th (that
    stays) a new user, cards 500..545 added."""
    if i < 500:
        if i % 17 == 0:
            return 0
        return i + 1 + (5000 if i % 11 == 0 else 0)
    return i + 1 if i < 546 else 0


def test_a_cut_delta_install_leaves_the_old_or_the_new_version():
    old = _v(0, 500)
    assert (_count(old, _mixed, B.OP_REMOVE), _count(old, _mixed, B.OP_CHANGE), _count(old, _mixed, B.OP_ADD)) == (30, 43, 46)
    r = _sweep(old, _mixed, 3, B.DELTA)
    assert r["ops"] == 1 + 3 * 2 + 1  # 500 - 30 + 46 = 516 credentials: 2 full blocks and 6 in a third
    _sweep(_v(0, 250), _v(0, 300, 3, 50), 3, B.DELTA)  # 1 data block -> 2 (adds and changes)
    _sweep(_v(0, 600), _v(0, 200), 3, B.DELTA)  # 3 -> 1 (removes only)
