# The key store (firmware/lockctl/keystore.py) at scale, in the MicroPython unix port at the board's
# heap (-X heapsize=96wK), over a simulated NOR flash the size of the 8 MB plan's "keys" partition
# (sim.nor.NorFlash over FileCells: the 4.5 MB of cells live in a file, not in the heap). Run from
# CPython:
#     .venv/bin/python bench/keystore.py [--lookups 2000]
#
# The CPython half builds the bundles as the host does (lockctl.bundle.chunks) and writes them to
# files in bench/out/keystore/: full bundles of 100, 10,000 and 100,000 cards (versions 1, 2, 3) and
# a delta of 100 changes on top of the 100,000 (version 4: adds, removes and changes). The
# MicroPython half (this file again, as .mpy) streams each file into the store in 512-byte reads
# (store.begin(header) -> Installer.feed(chunk) ... finish()) and measures, after each full install,
# lookups of enrolled cards (hits) and of cards that are not (misses).
#
# Figures: time per lookup (check(): the keyed hash of the identity, the index bisection, the one
# block read and its crc, the bisection in the block, the schedule check), readblocks calls per
# lookup and per mount, bytes per credential on flash, RAM the mounted store holds, install time,
# bytes programmed and erases, and heap peaks. Times: the unix port on this PC, with the simulated
# flash's own time (file I/O, its bit-by-bit program loop) measured apart and taken out ("store"
# time); the ESP32 estimate scales the store time by bench/mpbuild.py's ESP32_SLOWDOWN (a factor,
# not a measurement) and adds the flash time at datasheet typical figures (FLASH_* below).
# Heap: the garbage collector is off inside each timed call and collects between calls, so
# gc.mem_alloc() after a call is the peak that call reached (everything live + its garbage).
import sys
import gc

MICRO = sys.implementation.name == "micropython"
if MICRO:
    import time

    def now_us():
        return time.ticks_us()

    def since_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    import os
    import time
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(_ROOT, "host"))
    sys.path.insert(0, _ROOT)
    import doorkit  # noqa: F401  (firmware/ and the `micropython` stand-in on sys.path)

    def now_us():
        return int(time.perf_counter() * 1000000)

    def since_us(t0):
        return now_us() - t0

from lockctl import keystore as K
from lockctl import schedule as S
from lockctl.codes import KIND_ISO14443A, R_UNKNOWN
from sim.nor import NorFlash, FileCells

SECRET = b"bench-door-secret-0123456789abcd"
DOOR = b"bench-door"
PLAN = "8M"
STEP = 7919  # card i has the UID "%08X" % (i * STEP); "%08X" % (i * STEP + 1) is never enrolled
SIZES = (100, 10000, 100000)
LOOKUPS = 5000  # hits and as many misses per size
BATCH = 200  # identities made up front for a timed batch of lookups
CHUNK = 512  # bytes per read of the bundle file (one feed() each)
DELTA = (34, 33, 33)  # removes, changes, adds of the delta
HEAP = "96wK"
# the local time lookups run at: Wednesday 2026-07-08 10:00 (every enrolled card is valid then)
LOCAL = S.days_from_civil(2026, 7, 8) * 86400 + 10 * 3600
# flash time at datasheet typical figures of an ESP32 module's SPI NOR flash (W25Q64JV class):
# 4 KB sector erase 45 ms, 256-byte page program 0.4 ms, reads about 20 MB/s (40 MHz, dual I/O)
FLASH_ERASE_MS = 45.0
FLASH_PAGE_MS = 0.4
FLASH_READ_MB_S = 20.0


def ident(i):
    return "%08X" % (i * STEP)


def miss(i):
    return "%08X" % (i * STEP + 1)


# ---------------------------------------------------------------------- the worker (MicroPython)
class Timed:
    """A block device that adds up the time spent in the one it wraps (the simulation's own cost).
    With sampling on, every call also collects the garbage and notes the live heap (gc.mem_alloc()):
    the heap the caller holds at each block it reads, erases or writes (that time counts as the
    device's, so the store's time leaves it out)."""

    def __init__(self, dev):
        self.dev = dev
        self.us = 0
        self.sampling = False
        self.peak = 0

    def sample_heap(self):
        gc.collect()
        a = gc.mem_alloc()
        if a > self.peak:
            self.peak = a

    def readblocks(self, n, buf, off=0):
        t = now_us()
        if self.sampling:
            self.sample_heap()
        r = self.dev.readblocks(n, buf, off)
        self.us += since_us(t)
        return r

    def writeblocks(self, n, buf, off=None):
        t = now_us()
        if self.sampling:
            self.sample_heap()
        r = self.dev.writeblocks(n, buf, off)
        self.us += since_us(t)
        return r

    def ioctl(self, op, arg):
        t = now_us()
        if self.sampling:
            self.sample_heap()
        r = self.dev.ioctl(op, arg)
        self.us += since_us(t)
        return r


def _counts(dev):
    return (dev.reads, dev.programs, dev.programmed, dev.erases)


def _flash_ms(reads, read_bytes, programmed, erases):
    return (erases * FLASH_ERASE_MS + (programmed + 255) // 256 * FLASH_PAGE_MS
            + read_bytes / (FLASH_READ_MB_S * 1000.0))


def install(store, path, td, dev, sample=False):
    """Stream the bundle file at path into store, CHUNK bytes a read; -> figures. sample: a heap pass
    (the live heap after every feed() and at every device call inside them; times not kept)."""
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    f = open(path, "rb")
    head = bytearray(104)
    f.readinto(head)
    c0 = _counts(dev)
    dev_us0 = td.us
    gc.collect()
    base = gc.mem_alloc()
    td.peak = base
    td.sampling = sample
    us = 0
    feeds = 0
    longest = 0  # the longest single call (begin, a feed, finish), device time included
    t = now_us()
    inst = store.begin(head)
    dt = since_us(t)
    us += dt
    longest = dt
    nbytes = len(head)
    while True:
        n = f.readinto(buf)
        if not n:
            break
        nbytes += n
        t = now_us()
        inst.feed(mv[:n])
        dt = since_us(t)
        us += dt
        if dt > longest:
            longest = dt
        feeds += 1
        if sample:
            td.sample_heap()
    f.close()
    t = now_us()
    version = inst.finish()
    dt = since_us(t)
    us += dt
    finish_us = dt
    if dt > longest:
        longest = dt
    if sample:
        td.sample_heap()
    td.sampling = False
    inst = None
    c1 = _counts(dev)
    dev_us = td.us - dev_us0
    reads, programs, programmed, erases = (c1[0] - c0[0], c1[1] - c0[1], c1[2] - c0[2], c1[3] - c0[3])
    r = {"version": version, "count": len(store), "bundle_bytes": nbytes, "feeds": feeds,
         "reads": reads, "programs": programs, "programmed": programmed, "erases": erases, "blocks": store.nblocks}
    if sample:
        r.update({"heap_before": base, "heap_peak": td.peak, "heap_peak_over_before": td.peak - base})
    else:
        r.update({"longest_call_ms": longest / 1000.0, "finish_ms": finish_us / 1000.0, "ms": us / 1000.0, "device_ms": dev_us / 1000.0, "store_ms": (us - dev_us) / 1000.0,
                  "flash_ms_estimate": _flash_ms(reads, reads * 4096, programmed, erases)})
    return r


def lookups(store, n, count, td, dev, local):
    """count hits (cards 0..n-1, spread) and count misses: mean times, reads, heap per lookup."""
    out = {}
    for name, make in (("hit", ident), ("miss", miss)):
        us = 0
        dus = 0
        hus = 0  # the keyed hash alone (lockctl.keystore.cred_key), the same identities
        reads = 0
        done = 0
        bad = 0
        j = 0
        best = best_hash = 1e9  # the fastest batch (the machine is shared: the least disturbed)
        while done < count:
            gc.collect()
            ids = []
            users = []
            for _ in range(min(BATCH, count - done)):
                i = (j * 2654435761) % n  # spread over the whole key range (and its blocks)
                j += 1
                ids.append(make(i))
                users.append(i + 1)
            r0 = dev.reads
            d0 = td.us
            t = now_us()
            for x in ids:
                store.check(KIND_ISO14443A, x, local)
            dt = since_us(t)
            us += dt
            dd = td.us - d0
            dus += dd
            reads += dev.reads - r0
            best = min(best, (dt - dd) / len(ids))
            t = now_us()
            for x in ids:
                K.cred_key(SECRET, KIND_ISO14443A, x)
            dt = since_us(t)
            hus += dt
            best_hash = min(best_hash, dt / len(ids))
            # the answers (untimed): every hit opens as its user, every miss is unknown
            for k in range(len(ids)):
                got = store.check(KIND_ISO14443A, ids[k], local)
                want = (users[k], None) if name == "hit" else (None, R_UNKNOWN)
                if got != want:
                    bad += 1
            done += len(ids)
        ids = users = None
        # heap: the most one lookup allocates (GC off during it), over a sample
        worst = 0
        gc.collect()
        live = gc.mem_alloc()
        for k in range(50):
            x = make((k * 7) % n)
            gc.collect()
            a = gc.mem_alloc()
            gc.disable()
            store.check(KIND_ISO14443A, x, local)
            b = gc.mem_alloc()
            gc.enable()
            worst = max(worst, b - a)
        out[name] = {"lookups": done, "batch": BATCH, "us": us / done, "device_us": dus / done,
                     "store_us": (us - dus) / done, "hash_us": hus / done, "search_us": (us - dus - hus) / done,
                     "best_batch_store_us": best, "best_batch_hash_us": best_hash,
                     "esp32_flash_us": _flash_ms(0, reads * 4096 / done, 0, 0) * 1000,
                     "reads_per_lookup": reads / done, "wrong_answers": bad, "heap_live": live,
                     "alloc_per_lookup_max": worst, "heap_peak": live + worst}
    return out


def mount(td, raw):
    """A second KeyStore over the flash as the next boot makes it: the RAM it holds, its reads; then
    the boot's verify() (every data block read once)."""
    gc.collect()
    a = gc.mem_alloc()
    r0 = raw.reads
    t = now_us()
    store = K.KeyStore(td, SECRET, DOOR)
    mount_us = since_us(t)
    mount_reads = raw.reads - r0
    gc.collect()
    b = gc.mem_alloc()
    r0 = raw.reads
    d0 = td.us
    t = now_us()
    bad_blocks = store.verify()
    verify_us = since_us(t)
    verify_dus = td.us - d0
    verify_reads = raw.reads - r0
    return {"count": len(store), "version": store.version, "reads": mount_reads, "us": mount_us,
            "ram": b - a, "index_bytes": len(store.index), "data_blocks": store.nblocks,
            "verify_reads": verify_reads, "verify_ms": verify_us / 1000.0,
            "verify_store_ms": (verify_us - verify_dus) / 1000.0, "verify_bad_blocks": bad_blocks,
            "verify_flash_ms_estimate": _flash_ms(verify_reads, verify_reads * 4096, 0, 0)}


def measure(cfg):
    import json
    lookups_n = cfg["lookups"]
    blocks = cfg["blocks"]
    flash = cfg["flash"]
    steps = cfg["steps"]
    epath = cfg["expect"]
    cfg = None
    gc.collect()
    heap_total = gc.mem_alloc() + gc.mem_free()
    heap_modules = gc.mem_alloc()
    raw = NorFlash(blocks, cells=FileCells(flash, blocks * 4096, fresh=True))
    td = Timed(raw)
    gc.collect()
    heap_flash = gc.mem_alloc()
    store = K.KeyStore(td, SECRET, DOOR)
    gc.collect()
    res = {"heap_total": heap_total, "heap_modules": heap_modules, "heap_flash": heap_flash - heap_modules,
           "heap_blank_store": gc.mem_alloc() - heap_flash, "blocks": blocks, "flash_bytes": blocks * 4096,
           "steps": {}}
    res["capacity"] = store.capacity
    for step in steps:
        gc.collect()
        heap = step.get("heap", False)
        r = install(store, step["path"], td, raw, heap)
        if r["version"] != step["version"] or r["count"] != step["count"]:
            raise AssertionError("%s: installed version %d with %d credentials" % (step["name"], r["version"], r["count"]))
        r["slot_bytes"] = (1 + store.nblocks) * 4096
        r["bytes_per_credential"] = r["slot_bytes"] / max(1, r["count"])
        if step["kind"] == "full" and not heap:
            r["lookups"] = lookups(store, step["count"], lookups_n, td, raw, LOCAL)
        if step.get("mount"):
            res["mount"] = mount(td, raw)
        res["steps"][step["name"]] = r
        print("keystore bench: %s done" % step["name"])
    # the deltas' answers: each removed card unknown, each changed one its new user, each added one there
    f = open(epath)
    expect = json.loads(f.read())
    f.close()
    bad = 0
    for x, user in expect:
        got = store.check(KIND_ISO14443A, x, LOCAL)
        if got != ((user, None) if user else (None, R_UNKNOWN)):
            bad += 1
    res["delta_wrong_answers"] = bad
    res["delta_checked"] = len(expect)
    gc.collect()
    res["heap_end"] = gc.mem_alloc()
    return res


def main_micropython(argv):
    import json
    f = open(argv[argv.index("--config") + 1])
    cfg = json.loads(f.read())
    f.close()
    r = measure(cfg)
    r["runtime"] = "micropython %d.%d.%d" % tuple(sys.implementation.version[:3])
    print("RESULT " + json.dumps(r))


# ---------------------------------------------------------------------- the driver (CPython)
def _record(i, version=1):
    """Card i's record; a tenth have a weekday schedule, a seventh an end date (all valid at LOCAL)."""
    prof = 1 if i % 10 == 3 else 0
    until = 30000 if i % 7 == 5 else S.NO_END
    return K.pack(K.cred_key(SECRET, KIND_ISO14443A, ident(i)), i + 1 + (version << 20 if version > 1 else 0),
                  until=until, profile=prof, kind=KIND_ISO14443A)


PROFILES = (S.pack_profile(S.P_ALWAYS, 0, 0, 0), S.pack_profile(S.P_WEEKLY, 0x1F, 7 * 60, 19 * 60))


def _write(path, chunks):
    n = 0
    with open(path, "wb") as f:
        for c in chunks:
            f.write(c)
            n += len(c)
    return n


def _bundles(out, seed):
    """The bundle files and the manifest the worker reads; -> (config, host figures)."""
    import json
    import random
    from lockctl import bundle as B
    os.makedirs(out, exist_ok=True)
    g = random.Random(seed)
    steps, host = [], {}
    version = 0
    recs = None
    for n in SIZES:
        version += 1
        t = time.perf_counter()
        recs = sorted(_record(i) for i in range(n))
        path = os.path.join(out, "full_%d.dkb" % n)
        size = _write(path, B.chunks(SECRET, DOOR, B.FULL, version, 0, list(PROFILES), recs))
        host["full_%d" % n] = {"bytes": size, "build_s": time.perf_counter() - t}
        steps.append({"name": "full_%d" % n, "kind": "full", "path": path, "version": version, "count": n})
    n = SIZES[-1]
    nrem, nchg, nadd = DELTA
    picked = g.sample(range(n), nrem + nchg)
    removed, changed = picked[:nrem], picked[nrem:]
    added = range(n, n + nadd)
    ops = ([(B.OP_REMOVE, _record(i)) for i in removed] + [(B.OP_CHANGE, _record(i, version + 1)) for i in changed]
           + [(B.OP_ADD, _record(i)) for i in added])
    ops.sort(key=lambda o: o[1][:6])
    t = time.perf_counter()
    path = os.path.join(out, "delta_%d.dkb" % len(ops))
    size = _write(path, B.chunks(SECRET, DOOR, B.DELTA, version + 1, version, list(PROFILES), ops))
    host["delta"] = {"bytes": size, "build_s": time.perf_counter() - t}
    steps.append({"name": "delta_%d" % len(ops), "kind": "delta", "path": path, "version": version + 1,
                  "count": n - nrem + nadd})
    expect = ([(ident(i), 0) for i in removed] + [(ident(i), i + 1 + ((version + 1) << 20)) for i in changed]
              + [(ident(i), i + 1) for i in added])
    # the heap pass: the same 100k and the same delta again (versions 5 and 6), sampled
    v = version + 2
    path = os.path.join(out, "full_%d_v%d.dkb" % (n, v))
    _write(path, B.chunks(SECRET, DOOR, B.FULL, v, 0, list(PROFILES), recs))
    steps.append({"name": "heap_full_%d" % n, "kind": "full", "path": path, "version": v, "count": n, "heap": True})
    path = os.path.join(out, "delta_%d_v%d.dkb" % (len(ops), v + 1))
    _write(path, B.chunks(SECRET, DOOR, B.DELTA, v + 1, v, list(PROFILES), ops))
    steps.append({"name": "heap_delta_%d" % len(ops), "kind": "delta", "path": path, "version": v + 1,
                  "count": n - nrem + nadd, "heap": True})
    steps[len(SIZES) - 1]["mount"] = True
    epath = os.path.join(out, "delta_expect.json")
    with open(epath, "w") as f:
        json.dump(expect, f)
    return steps, epath, host, {"removes": nrem, "changes": nchg, "adds": nadd}


def plans():
    """Each plan's partitions and what they hold (lockctl.plan.capacities(); the log figure needs
    lockctl.eventlog's SLOTS: 204 records a sector if the module is not there yet)."""
    from lockctl import plan as P
    out = {}
    for name in sorted(P.PLANS):
        parts = [{"label": p[0], "type": p[1], "subtype": p[2], "offset": p[3], "size": p[4]} for p in P.PLANS[name]]
        try:
            cap = P.capacities(name)
            src = "lockctl.plan.capacities()"
        except ImportError:
            slot = P.blocks(name, "keys") // 2
            ring = P.blocks(name, "log") - P.TALLY_BLOCKS
            cap = {"credentials": min(slot - 1, K.MAX_BLOCKS) * K.PER_BLOCK, "records": (ring - 1) * 204}
            src = "computed here: lockctl.eventlog not present, SLOTS = 204 records a sector (the spec's)"
        out[name] = {"flash": P.FLASH_SIZES[name], "partitions": parts, "capacities": cap, "capacities_from": src,
                     "key_slot_blocks": P.blocks(name, "keys") // 2, "log_ring_sectors": P.blocks(name, "log") - P.TALLY_BLOCKS}
    return out


def report_lines(r):
    """The figures as markdown lines (bench/run_all.py prints them too)."""
    lines = []
    w = lines.append
    mp = r["micropython"]
    lo, hi = r["esp32_slowdown"]
    w("Key store, MicroPython %s unix port at -X heapsize=%s (%d B heap), NorFlash over FileCells: %d blocks "
      "(the %s plan's keys partition), capacity %d credentials"
      % (mp["runtime"].split(" ")[1], r["heap"], mp["heap_total"], mp["blocks"], PLAN, mp["capacity"]))
    w("")
    w("| store | lookup | mean us (unix) | store us | ESP32 est. us: CPU + flash read | reads/lookup | wrong "
      "| heap peak (alloc/lookup) |")
    w("|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        s = mp["steps"]["full_%d" % n]["lookups"]
        for k in ("hit", "miss"):
            x = s[k]
            w("| %d | %s | %.1f | %.1f | %.0f-%.0f + %.0f | %.2f | %d | %d (%d) |"
              % (n, k, x["us"], x["store_us"], x["store_us"] * lo, x["store_us"] * hi, x["esp32_flash_us"],
                 x["reads_per_lookup"], x["wrong_answers"], x["heap_peak"], x["alloc_per_lookup_max"]))
    w("")
    w("- heap (64-bit unix port, of %d B): %d B modules and harness, %d B the simulated flash's objects (cells in "
      "a file), %d B a blank KeyStore" % (mp["heap_total"], mp["heap_modules"], mp["heap_flash"], mp["heap_blank_store"]))
    w("- lookup time 100k : 100, whole check() minus the flash's own time: hits **%.2f**, misses %.2f; without the "
      "keyed hash (%.1f us of it, the part that does not depend on the size): hits %.2f, misses %.2f"
      % (r["ratio_hit"], r["ratio_miss"], mp["steps"]["full_%d" % SIZES[-1]]["lookups"]["hit"]["hash_us"],
         r["ratio_search_hit"], r["ratio_search_miss"]))
    w("- the same from the fastest batch of %d lookups at each size (the least disturbed): hits %.2f, misses %.2f"
      % (BATCH, r["ratio_best_hit"], r["ratio_best_miss"]))
    m = mp["mount"]
    w("- mount: %d readblocks; RAM held by a mounted store of %d credentials: **%d B** (index %d B for %d data blocks); "
      "verify() at boot: %d reads, %.0f ms unix (store %.0f ms)"
      % (m["reads"], m["count"], m["ram"], m["index_bytes"], m["data_blocks"], m["verify_reads"], m["verify_ms"],
         m["verify_store_ms"]))
    w("")
    w("| install | credentials | bundle B | unix s | store s | ESP32 est. s: CPU + flash | programmed B | programs "
      "| erases | B/credential (slot) | heap peak, live (over before) |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    timed = [x for x in r["order"] if not x.startswith("heap_")]
    for name in timed:
        x = mp["steps"][name]
        hp = mp["steps"].get("heap_" + name)
        w("| %s | %d | %d | %.2f | %.2f | %.1f-%.1f + %.1f | %d | %d | %d | %.2f | %s |"
          % (name, x["count"], x["bundle_bytes"], x["ms"] / 1000, x["store_ms"] / 1000, x["store_ms"] * lo / 1000,
             x["store_ms"] * hi / 1000, x["flash_ms_estimate"] / 1000, x["programmed"], x["programs"], x["erases"],
             x["bytes_per_credential"], "%d (%d)" % (hp["heap_peak"], hp["heap_peak_over_before"]) if hp else "-"))
    w("")
    w("- longest single call (begin / one feed() / finish(), unix ms, flash time included): %s"
      % ", ".join("%s %.1f (finish %.1f)" % (n, mp["steps"][n]["longest_call_ms"], mp["steps"][n]["finish_ms"])
                  for n in timed))
    w("- the delta (%s) rewrites the whole slot: every old record is copied into the spare slot"
      % ", ".join("%d %s" % (r["delta_mix"][k], k) for k in ("removes", "changes", "adds")))
    w("- answers after the deltas: %d of %d checked wrong; hits/misses wrong: see the lookup table"
      % (mp["delta_wrong_answers"], mp["delta_checked"]))
    for name in sorted(r["plans"]):
        p = r["plans"][name]
        w("- plan %s (%d MB): %s; holds %d credentials, %d log records (%s)"
          % (name, p["flash"] >> 20, ", ".join("%s %d KB" % (x["label"], x["size"] >> 10) for x in p["partitions"]),
             p["capacities"]["credentials"], p["capacities"]["records"], p["capacities_from"]))
    return lines


def main_cpython(argv):
    import json
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mpbuild
    from lockctl import plan as P
    lookups_n, seed = LOOKUPS, 1
    if "--lookups" in argv:
        lookups_n = int(argv[argv.index("--lookups") + 1])
    if "--seed" in argv:
        seed = int(argv[argv.index("--seed") + 1])
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "keystore")
    t0 = time.perf_counter()
    steps, epath, host, mix = _bundles(out, seed)
    cfg = {"lookups": lookups_n, "blocks": P.blocks(PLAN, "keys"), "flash": os.path.join(out, "keys.nor"),
           "steps": steps, "expect": epath}
    cpath = os.path.join(out, "config.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    mp = mpbuild.run_module("keystore", ["--config", cpath], heap=HEAP)
    s = mp["steps"]
    r = {"command": " ".join(["bench/keystore.py"] + argv), "heap": HEAP, "plan": PLAN, "seed": seed,
         "esp32_slowdown": list(mpbuild.ESP32_SLOWDOWN), "host_bundles": host, "delta_mix": mix,
         "order": [x["name"] for x in steps], "micropython": mp, "plans": plans(),
         "flash_model": {"erase_ms": FLASH_ERASE_MS, "page_program_ms": FLASH_PAGE_MS, "read_mb_s": FLASH_READ_MB_S}}
    big, small = s["full_%d" % SIZES[-1]]["lookups"], s["full_%d" % SIZES[0]]["lookups"]
    for k in ("hit", "miss"):
        r["ratio_" + k] = big[k]["store_us"] / small[k]["store_us"]
        r["ratio_search_" + k] = big[k]["search_us"] / small[k]["search_us"]
        r["ratio_best_" + k] = big[k]["best_batch_store_us"] / small[k]["best_batch_store_us"]
    os.remove(cfg["flash"])  # 4.5 MB of cells
    r["total_s"] = time.perf_counter() - t0
    print("\n".join(report_lines(r)))
    print("RESULT " + json.dumps(r))
    return r


if __name__ == "__main__":
    if MICRO:
        main_micropython(sys.argv[1:])
    else:
        main_cpython(sys.argv[1:])
