# Power-cut sweeps over the simulated NOR flash (sim/nor.py, sim/powercut.py), counted.
#
#   .venv/bin/python bench/powercut.py                     # both runtimes (MicroPython first)
#   .venv/bin/python bench/powercut.py --micropython       # or --cpython; --cuts N (per runtime), --seed S
#   .venv/bin/python bench/powercut.py --sweeps settings   # which sweeps (comma separated; all by default:
#                                                          # settings, keystore_full, keystore_delta)
#
# A sweep is a function here: sweep_NAME(tally, g, cuts) runs power-cut sweeps (sim.powercut.sweep_from)
# until about `cuts` cuts were made (--cuts times the kind's SHARE) and counts them in `tally` (a
# Tally: cuts, program / erase cuts, and the labels its check returns). SWEEPS names them; add event
# log appends, log wrap and cursor updates the same way.
#
# settings: JsonStore (firmware/lockshell/store.py) on littlefs (os.VfsLfs2 in the unix port, the
# board's filesystem; littlefs-python on CPython) over a NorFlash of BLOCKS blocks. One device lives
# through a long history of saves (the App's: the whole config dict, or a calibration), each a random
# one; each swept save is cut at every write op with the keeps (0 bytes, a random prefix, the
# NorFlash's pick from k, all of it landing), between swept saves a few saves go through uncut (so
# metadata compactions and block relocations come up), and now and then the flash starts blank
# again (the first save ever). After every cut the next boot mounts, loads (JsonStore.load() cleans
# a leftover temp file up), compares with the old and the new settings and saves once more.
# Counted labels: mounted / mount_failed, old / new / neither, load_error, temp_left, temp_cleaned,
# temp_after_load, writable / not_writable.
#
# MicroPython runs at -X heapsize=HEAP: the flash image (BLOCKS * 4 KB) and its snapshot live in
# the heap of the simulation; the store itself needs a few KB.
import sys
import gc

MICRO = sys.implementation.name == "micropython"
if MICRO:
    import time

    def now_ms():
        return time.ticks_ms()

    def since_ms(t0):
        return time.ticks_diff(time.ticks_ms(), t0)
else:
    import os
    import time
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(_ROOT, "host"))
    sys.path.insert(0, _ROOT)
    import doorkit  # noqa: F401  (firmware/ and the `micropython` stand-in on sys.path)

    def now_ms():
        return int(time.perf_counter() * 1000)

    def since_ms(t0):
        return now_ms() - t0

from lockctl.config import SETTINGS
from lockshell.store import JsonStore
from sim.nor import NorFlash
from sim.powercut import ALL, LfsVolume, Snapshot, lfs_format, sweep_from

CUTS = 12000  # per runtime, over all the sweeps run
SEED = 1
BLOCKS = 24  # 96 KB of flash
HEAP = "2m"  # MicroPython: the images and their snapshots, littlefs and the stores, the log checks' record maps
GAP = 16  # at most this many uncut saves between two swept ones (wear: metadata compactions, relocations)
FRESH = 200  # about one history in FRESH swept saves starts on a blank flash


class Lcg:
    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)


class Tally:
    """What the sweeps of one kind found: cut counts and the labels the checks returned."""

    def __init__(self):
        self.sweeps = 0  # operations swept (every write op of each)
        self.cuts = 0
        self.program_cuts = 0
        self.erase_cuts = 0
        self.raised = 0  # cut operations that raised (a failed write reached the caller)
        self.returned = 0  # ... that returned anyway
        self.outcomes = {}
        self.ops_min = 1 << 30
        self.ops_max = 0
        self.ops_total = 0
        self.uncut = 0  # operations run without a cut (history between sweeps)
        self.ms = 0

    def add(self, r):
        self.sweeps += 1
        for k in ("cuts", "program_cuts", "erase_cuts", "raised", "returned"):
            setattr(self, k, getattr(self, k) + r[k])
        n = r["ops"]
        self.ops_total += n
        self.ops_min = min(self.ops_min, n)
        self.ops_max = max(self.ops_max, n)
        for k in r["outcomes"]:
            self.outcomes[k] = self.outcomes.get(k, 0) + r["outcomes"][k]

    def result(self):
        o = self.outcomes
        d = {"sweeps": self.sweeps, "cuts": self.cuts, "program_cuts": self.program_cuts,
             "erase_cuts": self.erase_cuts, "raised": self.raised, "returned": self.returned,
             "uncut_ops": self.uncut, "write_ops_per_op": [self.ops_min if self.sweeps else 0,
                                                          self.ops_total / max(1, self.sweeps), self.ops_max],
             "outcomes": dict((k, o[k]) for k in sorted(o)), "ms": self.ms,
             "cuts_per_s": self.cuts * 1000 / max(1, self.ms)}
        return d


# ---------------------------------------------------------------------- settings (JsonStore on littlefs)
NAME = "lock.json"
TMP = NAME + ".tmp"
_KEYS = sorted(SETTINGS)


def _random_config(g):
    """A whole config dict as the core saves it (every setting), values anywhere in range."""
    cfg = {}
    for k in _KEYS:
        lo, hi = SETTINGS[k][2], SETTINGS[k][3]
        if lo is None:
            cfg[k] = g.below(2) == 1
        else:
            digits = g.between(0, 6)  # short and long numbers: the file's size moves
            v = lo + g.below(min(hi - lo, 10 ** digits) + 1)
            cfg[k] = v
    return cfg


def _random_save(g):
    if g.below(5) < 3:
        return "config", _random_config(g)
    lock = g.between(100, 2000)
    return "calibration", (lock, lock + g.between(100, 2000))


def _store(vol):
    return JsonStore(vol.path(NAME), vol.os, vol.open)


def _apply(state, what, data):
    cfg, cal = state
    return (data, cal) if what == "config" else (cfg, (data[0], data[1]))


def _saving(what, data):
    def act(dev):
        vol = LfsVolume(dev)
        _store(vol).save(what, data)
        vol.umount()
    return act


def _checking(old, new):
    def check(dev, k, outcome):
        labels = []
        try:
            vol = LfsVolume(dev)
        except OSError:
            return "mount_failed"
        labels.append("mounted")
        left = TMP in vol.listdir()
        if left:
            labels.append("temp_left")
        s = _store(vol)
        try:
            got = s.load()
        except Exception:
            got = None
        if got is None or s.error:
            labels.append("load_error")
        if s.cleaned:
            labels.append("temp_cleaned")
        if TMP in vol.listdir():
            labels.append("temp_after_load")
        labels.append("new" if got == new else "old" if got == old else "neither")
        try:
            s.save("calibration", (1, 2))
            vol = LfsVolume(dev)
            ok = _store(vol).load()[1] == (1, 2)
            vol.umount()
        except OSError:
            ok = False
        labels.append("writable" if ok else "not_writable")
        return labels
    return check


def sweep_settings(tally, g, cuts):
    dev = None
    state = (None, None)  # (config, calibration) on the flash now
    while tally.cuts < cuts:
        if dev is None or g.below(FRESH) == 0:  # a blank flash: the first save ever comes next
            if dev is None:
                dev = NorFlash(BLOCKS)
            dev.cells.erase(0, dev.cells.size)
            dev = NorFlash(BLOCKS, cells=dev.cells)
            lfs_format(dev)
            state = (None, None)
        else:
            vol = LfsVolume(dev)
            s = _store(vol)
            for _ in range(g.below(GAP + 1)):  # uncut history between two swept saves
                what, data = _random_save(g)
                s.save(what, data)
                state = _apply(state, what, data)
                tally.uncut += 1
            vol.umount()
        snap = None
        gc.collect()
        snap = Snapshot(dev)
        what, data = _random_save(g)
        new = _apply(state, what, data)
        keeps = (0, g.between(1, 127), -1, ALL)
        tally.add(sweep_from(snap, _saving(what, data), _checking(state, new), keeps))
        dev = snap.restore()  # then the save goes through: the next state
        _saving(what, data)(dev)
        tally.uncut += 1
        state = new
    return {"blocks": BLOCKS, "wear_max": max(dev.wear), "wear_min": min(dev.wear), "wear": list(dev.wear)}


# ---------------------------------------------------------------------- key store (bundle installs)
# KeyStore (firmware/lockctl/keystore.py) on a raw NorFlash of KS_BLOCKS blocks (two slots of a header
# and 3 data blocks: 765 credentials). One device lives through a long history of bundle installs
# (random full bundles of 0..765 cards drawn from a pool of KS_POOL, random deltas of adds, removes
# and changes against what is installed); each swept install (a full bundle for keystore_full, a delta
# for keystore_delta) is cut at every write op with the keeps, between swept installs a few go
# through uncut (of either kind), now and then the flash starts blank again. After every cut the next
# boot mounts a KeyStore and compares its version, every record in order and a sample of lookups with
# the old and the new version; an old store takes the same bundle again (the install retried after the
# reboot), a new one refuses it as a replay. Counted labels: old / new (anything else fails the
# sweep), retried, replay_refused. A key store cut costs about as much as a settings one (the check
# installs the bundle again), so these kinds run SHARE of the cuts.
KS_BLOCKS = 8
KS_POOL = 1200
KS_GAP = 3
KS_SAMPLE = 12  # lookups checked after each cut
KS_SECRET = b"bench-powercut-door-secret-01234"
KS_DOOR = b"bench-pcut"


class _KsCards:
    """The keyed hashes of card numbers 0..KS_POOL-1 (each computed once: a record is then one pack())."""

    def __init__(self):
        from lockctl import keystore as K
        from lockctl.codes import KIND_ISO14443A
        self.K = K
        self.kind = KIND_ISO14443A
        keys = bytearray(KS_POOL * 6)
        for i in range(KS_POOL):
            keys[i * 6:i * 6 + 6] = K.cred_key(KS_SECRET, KIND_ISO14443A, self.ident(i))
            if i % 32 == 31:
                gc.collect()
        self.keys = bytes(keys)

    def ident(self, i):
        return "%08X" % (i * 7919)

    def rec(self, i, user):
        return self.K.pack(self.keys[i * 6:i * 6 + 6], user, kind=self.kind)

    def records(self, model):
        out = []
        for i in model:
            out.append(self.rec(i, model[i]))
        out.sort()
        return out


def _ks_full(g, cap):
    """A random set of cards: {card number: user}."""
    r = g.below(4)
    n = g.below(8) if r == 0 else cap - g.below(8) if r == 1 else g.below(cap + 1)
    model = {}
    while len(model) < n:
        model[g.below(KS_POOL)] = g.between(1, (1 << 24) - 1)
    return model


def _ks_delta(g, model, cap):
    """A random delta against model: -> (ops [(op, card, user)], the model after it)."""
    from lockctl import bundle as B
    new = dict(model)
    ops = []
    have = list(model)
    nrem = g.below(min(len(have), 40) + 1)
    nchg = g.below(min(len(have) - nrem, 40) + 1)
    for k in range(nrem + nchg):
        j = g.below(len(have))
        i = have.pop(j)
        if k < nrem:
            ops.append((B.OP_REMOVE, i, model[i]))
            del new[i]
        else:
            u = g.between(1, (1 << 24) - 1)
            ops.append((B.OP_CHANGE, i, u))
            new[i] = u
    nadd = g.below(min(cap - len(new), 60) + 1)
    tries = 0
    while nadd and tries < 10 * KS_POOL:
        tries += 1
        i = g.below(KS_POOL)
        if i in new or i in model:
            continue
        u = g.between(1, (1 << 24) - 1)
        ops.append((B.OP_ADD, i, u))
        new[i] = u
        nadd -= 1
    return ops, new


def _ks_bundle(cards, kind, version, base, model, ops):
    from lockctl import bundle as B
    from lockctl import schedule as S
    prof = [S.pack_profile(S.P_ALWAYS, 0, 0, 0)]
    if kind == B.FULL:
        return B.build(KS_SECRET, KS_DOOR, B.FULL, version, 0, prof, cards.records(model))
    entries = []
    for op, i, u in ops:
        entries.append((op, cards.rec(i, u)))
    entries.sort(key=lambda e: e[1])
    return B.build(KS_SECRET, KS_DOOR, B.DELTA, version, base, prof, entries)


def _ks_install(store, data, chunk=512):
    return store.install(data, chunk)


def _ks_is(store, cards, version, model, recs, sample):
    from lockctl.codes import R_UNKNOWN
    if store.version != version or len(store) != len(recs):
        return False
    n = 0
    for r in store.records():
        if r != recs[n]:
            return False
        n += 1
    if n != len(recs):
        return False
    for i in sample:
        u = model.get(i, 0)
        if store.check(cards.kind, cards.ident(i), None) != ((u, None) if u else (None, R_UNKNOWN)):
            return False
    return True


def _ks_checking(cards, old, new, data, g):
    """old, new: (version, model, records)."""
    from lockctl import keystore as K
    from lockctl import bundle as B
    from lockctl.codes import R_OLD_VERSION
    sample = list(new[1])[:KS_SAMPLE // 2] + list(old[1])[:KS_SAMPLE // 4]
    while len(sample) < KS_SAMPLE:
        sample.append(g.below(KS_POOL))

    def check(dev, k, outcome):
        labels = []
        st = K.KeyStore(dev, KS_SECRET, KS_DOOR)
        if st.error is not None:
            raise AssertionError("mount: %s" % st.error)
        if _ks_is(st, cards, old[0], old[1], old[2], sample):
            labels.append("old")
            try:
                install = _ks_install(st, data)
            except B.BundleError as e:
                raise AssertionError("the retried install was refused: %s" % e)
            if install != new[0] or not _ks_is(K.KeyStore(dev.power_cycle(), KS_SECRET, KS_DOOR), cards, new[0],
                                              new[1], new[2], sample):
                raise AssertionError("the retried install did not leave the new version")
            labels.append("retried")
        elif _ks_is(st, cards, new[0], new[1], new[2], sample):
            labels.append("new")
            try:
                _ks_install(st, data)
                raise AssertionError("the bundle installed twice")
            except B.BundleError as e:
                if e.reason != R_OLD_VERSION:
                    raise
            labels.append("replay_refused")
        else:
            raise AssertionError("version %d with %d records: neither the old %d (%d) nor the new %d (%d)"
                                 % (st.version, len(st), old[0], len(old[2]), new[0], len(new[2])))
        if st.verify():
            raise AssertionError("a block of the mounted version fails its check")
        return labels
    return check


def _ks_sweep(tally, g, cuts, swept):
    from lockctl import keystore as K
    from lockctl import bundle as B
    cards = _KsCards()
    dev = None
    cap = 0
    version, model = 0, {}
    installs = 0
    while tally.cuts < cuts:
        if dev is None or g.below(FRESH // 4) == 0:  # a blank flash: the first install ever comes next
            if dev is None:
                dev = NorFlash(KS_BLOCKS)
            dev.cells.erase(0, dev.cells.size)
            dev = NorFlash(KS_BLOCKS, cells=dev.cells)
            version, model = 0, {}
            cap = K.KeyStore(dev, KS_SECRET, KS_DOOR).capacity
        else:
            st = K.KeyStore(dev, KS_SECRET, KS_DOOR)
            for _ in range(g.below(KS_GAP + 1)):  # uncut history between two swept installs
                v = version + g.between(1, 3)
                if g.below(2):
                    ops, new = None, _ks_full(g, cap)
                    data = _ks_bundle(cards, B.FULL, v, 0, new, None)
                else:
                    ops, new = _ks_delta(g, model, cap)
                    data = _ks_bundle(cards, B.DELTA, v, version, None, ops)
                _ks_install(st, data)
                version, model = v, new
                tally.uncut += 1
                installs += 1
        v = version + g.between(1, 3)
        if swept == B.FULL:
            new = _ks_full(g, cap)
            data = _ks_bundle(cards, B.FULL, v, 0, new, None)
        else:
            ops, new = _ks_delta(g, model, cap)
            data = _ks_bundle(cards, B.DELTA, v, version, None, ops)
        old_t = (version, model, cards.records(model))
        new_t = (v, new, cards.records(new))
        snap = None
        gc.collect()
        snap = Snapshot(dev)

        def act(d):
            return _ks_install(K.KeyStore(d, KS_SECRET, KS_DOOR), data)
        keeps = (0, g.between(1, 67), g.between(68, 400), -1, ALL)
        tally.add(sweep_from(snap, act, _ks_checking(cards, old_t, new_t, data, g), keeps))
        dev = snap.restore()  # then the install goes through: the next state
        act(dev)
        tally.uncut += 1
        installs += 1
        version, model = v, new
        old_t = new_t = None
    return {"blocks": KS_BLOCKS, "capacity": cap, "installs": installs, "last_version": version,
            "wear_max": max(dev.wear), "wear_min": min(dev.wear)}


def sweep_keystore_full(tally, g, cuts):
    return _ks_sweep(tally, g, cuts, 1)  # lockctl.bundle.FULL


def sweep_keystore_delta(tally, g, cuts):
    return _ks_sweep(tally, g, cuts, 2)  # lockctl.bundle.DELTA


# ---------------------------------------------------------------------- event log and tally (raw flash)
LG_BLOCKS = 6  # 2 tally blocks + a ring of 4 sectors (204 records each): wraps every few hundred appends
LG_CODES = (2, 3, 7, 8, 9, 18, 22)  # LOCK, UNLOCK, DENIED, DOOR_OPEN, DOOR_CLOSE, CONFIG, CLOCK_SET


def _lg_record(g, t):
    code = LG_CODES[g.below(len(LG_CODES))]
    if code == 7:
        return (t, code, 8, (1, "%08X" % g.below(1 << 30)))
    if code == 18:
        return (t, code, (2, g.below(600001)), None)
    if code == 22:
        return (t, code, (1796000000 + g.below(1000000), t), None)
    if code in (2, 3):
        return (t, code, 16 + g.below(3), g.between(1, 100000) if g.below(2) else None)
    return (t, code, None, None)


def _lg_open(d, boot=1):
    from lockctl.tally import Tally as FlashTally
    from lockctl.eventlog import EventLog
    t = FlashTally(d, 0)
    return t, EventLog(d, t, boot, 2, LG_BLOCKS - 2)


def _lg_state(d):
    """(records {seq: (code, arg, who, t)}, next_seq, cursor) as a fresh mount reads them."""
    t, log = _lg_open(d)
    recs = {}
    last = 0
    for r in log.records(0):
        assert r[0] > last, "seqs out of order: %d after %d" % (r[0], last)
        last = r[0]
        recs[r[0]] = (r[4], r[5], r[6], r[3])
    return recs, log.next_seq, log.cursor


def _lg_checking(before, rec, kind, ack_to):
    """A check for one swept operation: an append of rec, or an ack up to ack_to."""
    old, old_next, old_cursor = before

    def check(dev, k, outcome):
        recs, nxt, cursor = _lg_state(dev)
        labels = []
        dropped = [q for q in old if q not in recs]
        if dropped:
            # only an append that opened a sector may drop, and only the oldest records, in one run
            assert kind == "append", "an ack lost records %s" % dropped[:3]
            assert max(dropped) < min(q for q in old if q in recs) if len(dropped) < len(old) else True
            labels.append("oldest sector dropped")
        for q in old:
            if q in recs:
                assert recs[q] == old[q], "record %d changed: %r -> %r" % (q, old[q], recs[q])
        new = [q for q in recs if q not in old]
        assert nxt >= old_next, "next seq went back: %d < %d" % (nxt, old_next)
        if kind == "append":
            mine = [q for q in new if recs[q][0] == rec[1] and recs[q][3] == rec[0]]
            assert len(new) <= 2 and all(q >= old_next for q in new), "unexpected records %s" % new
            if mine:
                labels.append("new record durable")
                if type(outcome) is int:
                    assert outcome == mine[0], "append returned %d, the record is at %d" % (outcome, mine[0])
            else:
                assert not isinstance(outcome, int), "append %d returned but its record is gone" % outcome
                labels.append("append lost with the cut (never acknowledged)")
        else:
            assert not new, "an ack added records"
            assert cursor in (old_cursor, ack_to), "cursor %d, not %d or %d" % (cursor, old_cursor, ack_to)
            labels.append("cursor new" if cursor == ack_to else "cursor old")
        # the next boot appends above every seq ever issued
        t, log = _lg_open(dev, 2)
        s2 = log.append((0, 8, None, None), 0, False)
        assert s2 > max(list(recs) + [old_next - 1]), "seq %d repeats" % s2
        return tuple(labels)
    return check


def _lg_sweep(tally, g, cuts, swept):
    dev = NorFlash(LG_BLOCKS)
    t_ms = 0
    ops = 0
    while tally.cuts < cuts:
        if g.below(40) == 0:  # now and then a wiped flash: the ring starts again
            dev.cells.erase(0, dev.cells.size)
            dev = NorFlash(LG_BLOCKS, cells=dev.cells)
        ft, log = _lg_open(dev)
        for _ in range(g.below(150)):  # uncut history: appends and now and then an ack
            t_ms += g.between(1, 5000)
            log.append(_lg_record(g, t_ms), t_ms, False)
            if g.below(30) == 0 and log.next_seq > 1:
                log.ack(log.next_seq - 1 - g.below(50))
            tally.uncut += 1
        # the swept operation
        if swept == "wrap":  # fill the head sector so that the swept append opens the next one
            while log.room > 0:
                t_ms += 7
                log.append(_lg_record(g, t_ms), t_ms, False)
                tally.uncut += 1
        gc.collect()
        before = _lg_state(dev)
        snap = Snapshot(dev)
        t_ms += g.between(1, 5000)
        rec = _lg_record(g, t_ms)
        if swept == "ack":
            ack_to = max(1, before[1] - 1 - g.below(100))
            ack_to = max(ack_to, before[2])

            def act(d):
                ft2, log2 = _lg_open(d)
                log2.ack(ack_to)
            check = _lg_checking(before, rec, "ack", ack_to)
        else:
            def act(d):
                ft2, log2 = _lg_open(d)
                return log2.append(rec, rec[0], False)
            check = _lg_checking(before, rec, "append", None)
        keeps = (0, g.between(1, 19), -1, ALL)
        tally.add(sweep_from(snap, act, check, keeps))
        dev = snap.restore()
        act(dev)
        ops += 1
    return {"blocks": LG_BLOCKS, "ring_records": (LG_BLOCKS - 3) * 204, "swept_ops": ops}


def sweep_log_append(tally, g, cuts):
    return _lg_sweep(tally, g, cuts, "append")


def sweep_log_wrap(tally, g, cuts):
    return _lg_sweep(tally, g, cuts, "wrap")


def sweep_log_ack(tally, g, cuts):
    return _lg_sweep(tally, g, cuts, "ack")


SWEEPS = (("settings", sweep_settings), ("keystore_full", sweep_keystore_full),
          ("keystore_delta", sweep_keystore_delta), ("log_append", sweep_log_append), ("log_wrap", sweep_log_wrap),
          ("log_ack", sweep_log_ack))
# of --cuts (1 for the others)
SHARE = {"keystore_full": 0.25, "keystore_delta": 0.25, "log_append": 0.25, "log_wrap": 0.25, "log_ack": 0.25}



# ---------------------------------------------------------------------- run
def measure(names, cuts, seed):
    out = {"runtime": sys.implementation.name, "version": "%d.%d.%d" % tuple(sys.implementation.version[:3]),
           "cuts_per_sweep_kind": cuts, "share": SHARE, "seed": seed}
    g = Lcg(seed)
    total = 0
    t_all = now_ms()
    for name, fn in SWEEPS:
        if name not in names:
            continue
        t = Tally()
        t0 = now_ms()
        extra = fn(t, g, max(1, int(cuts * SHARE.get(name, 1))))
        t.ms = since_ms(t0)
        r = t.result()
        r.update(extra)
        out[name] = r
        total += t.cuts
    out["total_cuts"] = total
    out["total_ms"] = since_ms(t_all)
    return out


def _report(r):
    print("%s %s: %d cuts in %.1f s" % (r["runtime"], r["version"], r["total_cuts"], r["total_ms"] / 1000))
    for name, fn in SWEEPS:
        if name in r:
            x = r[name]
            print("  %s: %d operations swept, %d cuts (%d in a program, %d in an erase), %.0f cuts/s; "
                  "write ops per operation min/mean/max %d/%.1f/%d; %s"
                  % (name, x["sweeps"], x["cuts"], x["program_cuts"], x["erase_cuts"], x["cuts_per_s"],
                     x["write_ops_per_op"][0], x["write_ops_per_op"][1], x["write_ops_per_op"][2],
                     ", ".join("%s %d" % (k, x["outcomes"][k]) for k in x["outcomes"])))


def _args(argv):
    cuts, seed, which, names = CUTS, SEED, "both", [n for n, f in SWEEPS]
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--cuts":
            cuts = int(argv[i + 1])
            i += 1
        elif a == "--seed":
            seed = int(argv[i + 1])
            i += 1
        elif a == "--sweeps":
            names = argv[i + 1].split(",")
            i += 1
        elif a in ("--cpython", "--micropython"):
            which = a[2:]
        else:
            raise SystemExit("unknown argument: %s" % a)
        i += 1
    return cuts, seed, which, names


def main(argv):
    import json
    cuts, seed, which, names = _args(argv)
    if MICRO:
        r = measure(names, cuts, seed)
        _report(r)
        print("RESULT " + json.dumps(r))
        return r
    import mpbuild
    out = {"command": "bench/powercut.py " + " ".join(argv), "heap": HEAP}
    args = ["--cuts", str(cuts), "--seed", str(seed), "--sweeps", ",".join(names)]
    if which in ("both", "micropython"):
        out["micropython"] = mpbuild.run_module("powercut", args, heap=HEAP)
        _report(out["micropython"])
    if which in ("both", "cpython"):
        import littlefs
        out["cpython"] = measure(names, cuts, seed)
        out["cpython"]["littlefs_python"] = littlefs.__version__
        _report(out["cpython"])
    print("RESULT " + json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
