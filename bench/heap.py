# Heap of the whole firmware in the MicroPython unix port at the board-equivalent heap
# (-X heapsize=96wK: 96 KB on the 32-bit ESP32). Run from CPython:
#     .venv/bin/python bench/heap.py [--seconds 60]
# It imports every firmware module as mpy-cross'd .mpy (as deployed, not frozen), composes the
# App on fake pins with the PN532 reader on a scripted chip (no card in the field), the keypad and
# the battery monitor, and its flash (lockshell.flash.Storage: key store, event log, tally) on a
# simulated NOR flash in the 4 MB plan's layout whose cells live in a file (the flash is not RAM on
# the board), boots it and polls it every 10 ms like main.py's loop, with a card decision and a
# PIN entry now and then. Reported: bytes in use after each stage (after gc.collect) and bytes
# allocated per poll in the steady state.
#
# Two ways to load the code, both measured:
#   .mpy files copied into RAM (a plain `mpremote cp` of the .mpy files): the bytecode lives on the
#     heap: the figure is how much of the heap the code takes, and whether the rest still fits;
#   a ROMFS image (MicroPython's read-only filesystem, `mpremote romfs`; or frozen modules): the
#     bytecode runs in place from flash. The unix port mounts the image from a bytes object, which
#     sits on its heap where the board has it in flash: that run gets the image's size on top of
#     96wK, and every figure it reports has the image subtracted.
import gc
import sys

MICRO = sys.implementation.name == "micropython"


def used():
    gc.collect()
    return gc.mem_alloc()


def largest_free_block():
    """The biggest bytearray that can still be allocated (the heap's largest contiguous hole)."""
    gc.collect()
    lo, hi = 0, gc.mem_free()
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            b = bytearray(mid)
            del b
            lo = mid
        except MemoryError:
            hi = mid - 1
        gc.collect()
    return lo


def measure(seconds):
    from fakes import FakePin, FakePWM, FakeADC
    from pn532fakes import FakeChip, FakeUart, chip_frame
    base = used()
    from lockctl.core import LockCore  # noqa: F401
    from lockshell.app import App
    from lockshell.board import Board
    from lockshell.store import MemoryStore
    from drivers.debounce import Debounced
    from drivers.motor import HBridgeMotor
    from drivers.position import PotPosition
    from drivers.indicator import Indicator
    from drivers import pn532 as P
    from lockshell.nfc import NfcReader
    from lockshell.flash import Storage
    from lockshell.board import keypad_port, battery_port
    from lockctl import bundle as B, keystore as K, schedule as S, plan
    from lockctl.codes import EV_CREDENTIAL, KIND_ISO14443A, KIND_PIN
    code = used() - base
    from sim.nor import NorFlash, FileCells, Partition
    lo, kn = plan.blocks("4M", "log"), plan.blocks("4M", "keys")
    dev = NorFlash(lo + kn, cells=FileCells("/tmp/doorkit-heap-bench.nor", (lo + kn) * 4096, fresh=True))
    keys_part, log_part = Partition(dev, lo, kn), Partition(dev, 0, lo)
    secret, door = b"s" * 32, b"bench-door"
    recs = sorted([K.pack(K.cred_key(secret, KIND_ISO14443A, "DEADBEEF"), 1),
                   K.pack(K.cred_key(secret, KIND_PIN, "4711"), 2)])
    st = K.KeyStore(keys_part, secret, door)
    parts = B.chunks(secret, door, B.FULL, 1, 0, [S.pack_profile(S.P_ALWAYS, 0, 0, 0)], recs)
    inst = st.begin(next(parts))
    for c in parts:
        inst.feed(c)
    inst.finish()
    del st, inst, parts, recs
    rows = [FakePin(1, record=False) for _ in range(4)]
    cols = [FakePin(1, record=False) for _ in range(3)]
    chip = FakeChip({0x14: chip_frame(0x15), 0x02: chip_frame(0x03, b"\x32\x01\x06\x07"),
                     0x32: chip_frame(0x33), 0x4A: chip_frame(0x4B, b"\x00"), 0x16: chip_frame(0x17, b"\x00")},
                    record=False)
    before = used()
    board = Board(HBridgeMotor(FakePWM(record=False), FakePWM(record=False), current_adc=FakeADC(0)),
                  PotPosition(FakeADC(1000 << 4)), Debounced(FakePin(0, record=False), 0),
                  Debounced(FakePin(1, record=False), 0, active_low=True),
                  Indicator(FakePin(0, record=False), FakePWM(record=False)),
                  NfcReader(P.PN532(P.HsuLink(FakeUart(chip, record=False)))))
    board.keypad = keypad_port(rows, cols, 0)
    board.battery = battery_port(FakeADC(2000 << 4), 0, board.motor)
    fl = Storage(keys_part, log_part, secret, door)
    app = App(board, MemoryStore(None, (1000, 3000)), None, flash=fl)
    app.start(0)
    objects = used() - before
    t = 0
    end = seconds * 1000
    while t < 1000:  # warm-up: reader start-up done
        app.poll(t)
        t += 10
    polls = 0
    alloc = 0
    peak = 0
    idle_polls = idle_alloc = 0  # the windows in which nothing was decided
    while t < end:
        if MICRO:
            gc.collect()
            a = gc.mem_alloc()
            gc.disable()
        decided = t % 10000 == 0
        seq0 = fl.log.next_seq
        if decided:  # now and then a decision, logged on flash: a card, a wrong PIN
            app.feed(t, EV_CREDENTIAL, (KIND_ISO14443A, "DEADBEEF") if t % 20000 else (KIND_PIN, "1234"))
        for _ in range(100):
            app.poll(t)
            t += 10
            polls += 1
        if MICRO:
            b = gc.mem_alloc()
            gc.enable()
            alloc += b - a
            if not decided and fl.log.next_seq == seq0:  # nothing was logged either (a relock, ...)
                idle_polls += 100
                idle_alloc += b - a
            if b > peak:
                peak = b
    return {"largest_free_block": largest_free_block() if MICRO else 0, "code_bytes": code, "objects_bytes": objects, "steady_used": used(), "peak_used": peak,
            "polls": polls, "alloc_per_poll": alloc / polls if polls else 0, "reader_lists": board.reader.polls,
            "idle_polls": idle_polls, "idle_alloc_per_poll": idle_alloc / idle_polls if idle_polls else 0,
            "heap_free": gc.mem_free() if MICRO else 0, "fires": chip.cmds.count(0x4A) if chip.record else None,
            "log_records": fl.log.next_seq - 1, "flash_reads": dev.reads}


def main_micropython(argv):
    seconds = 60
    if "--seconds" in argv:
        seconds = int(argv[argv.index("--seconds") + 1])
    image = 0
    if "--romfs" in argv:  # the code runs in place from a ROMFS image
        import vfs
        gc.collect()
        a = gc.mem_alloc()
        with open(argv[argv.index("--romfs") + 1], "rb") as f:
            img = f.read()
        vfs.mount(vfs.VfsRom(img), "/rom")
        sys.path.insert(0, "/rom")
        gc.collect()
        image = gc.mem_alloc() - a
    import json
    try:
        r = measure(seconds)
    except MemoryError as e:
        gc.collect()
        r = {"error": "MemoryError: %s" % e, "heap_used_at_error": gc.mem_alloc() - image}
    r["image_bytes"] = image
    for k in ("steady_used", "peak_used"):
        if k in r:
            r[k] -= image
    print("RESULT " + json.dumps(r))


def main_cpython(argv):
    import json
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mpbuild
    seconds = "60"
    if "--seconds" in argv:
        seconds = argv[argv.index("--seconds") + 1]
    out = {"command": "bench/heap.py " + " ".join(argv), "heapsize": mpbuild.HEAP}
    # 1: the .mpy files loaded into RAM
    r = mpbuild.run_module("heap", ["--seconds", seconds])
    out["mpy_in_ram"] = r
    print("MicroPython unix port, -X heapsize=%s (= 96 KB on the 32-bit board; bytes here are 64-bit):" % mpbuild.HEAP)
    if "error" in r:
        print("  .mpy files copied into RAM: the whole firmware does NOT fit: %s with %d bytes in use"
              % (r["error"], r["heap_used_at_error"]))
    else:
        report(r, ".mpy files copied into RAM")
    # 2: the same .mpy files in a ROMFS image, run in place
    sys.path.insert(0, mpbuild.ROOT)
    from mpremote.romfs import make_romfs
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # (make_romfs prints the tree)
        img = make_romfs(os.path.join(mpbuild.OUT, "firmware"), mpy_cross=False)
    path = os.path.join(mpbuild.OUT, "firmware.romfs")
    with open(path, "wb") as f:
        f.write(img)
    heap = "%dK" % (192 + (len(img) + 2047) // 1024 + 2)  # 96wK on 64-bit + the image (on flash on the board)
    r = mpbuild.run_module("heap", ["--seconds", seconds, "--romfs", path], heap=heap)
    out["romfs"] = r
    out["romfs_image_bytes"] = len(img)
    if "error" in r:
        print("  ROMFS (code in place): does NOT fit either: %s" % r["error"])
    else:
        report(r, "ROMFS image of %d bytes, code run in place (the image itself not counted)" % len(img))
    print("RESULT " + json.dumps(out))


def report(r, how):
    print("  %s:" % how)
    print("    firmware modules imported: %d bytes of heap" % r["code_bytes"])
    print("    App + drivers + reader + keypad + battery + key store, event log and tally objects after boot: %d bytes"
          % r["objects_bytes"])
    print("    in use in the steady state: %d bytes (peak in a window %d) of 192 KB (= 96 KB on the board); "
          "largest free block %d" % (r["steady_used"], r["peak_used"], r["largest_free_block"]))
    print("    allocated per App.poll (10 ms period, the reader waking every 100 ms, a card or a PIN every 10 s, "
          "each logged on flash): %.1f bytes over %d polls, %d records logged"
          % (r["alloc_per_poll"], r["polls"], r["log_records"]))
    print("    allocated per App.poll in the seconds with nothing decided or logged: %.1f bytes over %d polls"
          % (r["idle_alloc_per_poll"], r["idle_polls"]))


if __name__ == "__main__":
    if MICRO:
        main_micropython(sys.argv[1:])
    else:
        main_cpython(sys.argv[1:])
