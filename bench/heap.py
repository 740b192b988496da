# Heap of the whole firmware in the MicroPython unix port at the board-equivalent heap
# (-X heapsize=96wK: 96 KB on the 32-bit ESP32). Run from CPython:
#     .venv/bin/python bench/heap.py [--seconds 60]
# It imports every firmware module as mpy-cross'd .mpy (as deployed, not frozen), composes the
# App on fake pins with the PN532 reader on a scripted chip (no card in the field), boots it and
# polls it every 10 ms like main.py's loop. Reported: bytes in use after each stage (after
# gc.collect) and bytes allocated per poll in the steady state.
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
    from lockctl.keys import KeyList
    from lockshell.app import App
    from lockshell.board import Board
    from lockshell.store import MemoryStore
    from drivers.debounce import Debounced
    from drivers.motor import HBridgeMotor
    from drivers.position import PotPosition
    from drivers.indicator import Indicator
    from drivers import pn532 as P
    from lockshell.nfc import NfcReader
    code = used() - base
    chip = FakeChip({0x14: chip_frame(0x15), 0x02: chip_frame(0x03, b"\x32\x01\x06\x07"),
                     0x32: chip_frame(0x33), 0x4A: chip_frame(0x4B, b"\x00"), 0x16: chip_frame(0x17, b"\x00")},
                    record=False)
    before = used()
    board = Board(HBridgeMotor(FakePWM(record=False), FakePWM(record=False), current_adc=FakeADC(0)),
                  PotPosition(FakeADC(1000 << 4)), Debounced(FakePin(0, record=False), 0),
                  Debounced(FakePin(1, record=False), 0, active_low=True),
                  Indicator(FakePin(0, record=False), FakePWM(record=False)),
                  NfcReader(P.PN532(P.HsuLink(FakeUart(chip, record=False)))))
    app = App(board, MemoryStore(None, (1000, 3000)), KeyList([(1, "DEADBEEF", "alice")]))  # KIND_ISO14443A
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
    while t < end:
        if MICRO:
            gc.collect()
            a = gc.mem_alloc()
            gc.disable()
        for _ in range(100):
            app.poll(t)
            t += 10
            polls += 1
        if MICRO:
            b = gc.mem_alloc()
            gc.enable()
            alloc += b - a
            if b > peak:
                peak = b
    return {"largest_free_block": largest_free_block() if MICRO else 0, "code_bytes": code, "objects_bytes": objects, "steady_used": used(), "peak_used": peak,
            "polls": polls, "alloc_per_poll": alloc / polls if polls else 0, "reader_lists": board.reader.polls,
            "heap_free": gc.mem_free() if MICRO else 0, "fires": chip.cmds.count(0x4A) if chip.record else None}


def main_micropython(argv):
    seconds = 60
    if "--seconds" in argv:
        seconds = int(argv[argv.index("--seconds") + 1])
    import json
    print("RESULT " + json.dumps(measure(seconds)))


def main_cpython(argv):
    import json
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mpbuild
    seconds = "60"
    if "--seconds" in argv:
        seconds = argv[argv.index("--seconds") + 1]
    r = mpbuild.run_module("heap", ["--seconds", seconds])
    r["command"] = "bench/heap.py " + " ".join(argv)
    r["heapsize"] = mpbuild.HEAP
    print("MicroPython unix port, -X heapsize=%s (= 96 KB on the 32-bit board; bytes here are 64-bit):" % mpbuild.HEAP)
    print("  firmware modules loaded as .mpy: %d bytes" % r["code_bytes"])
    print("  App + drivers + reader objects after boot: %d bytes" % r["objects_bytes"])
    print("  in use in the steady state: %d bytes (peak in a window %d); free %d, largest free block %d"
          % (r["steady_used"], r["peak_used"], r["heap_free"], r["largest_free_block"]))
    print("  allocated per App.poll (10 ms period, the reader waking every 100 ms for type A and FeliCa, no card): %.1f bytes over %d polls, %d reader lists"
          % (r["alloc_per_poll"], r["polls"], r["reader_lists"]))
    print("RESULT " + json.dumps(r))


if __name__ == "__main__":
    if MICRO:
        main_micropython(sys.argv[1:])
    else:
        main_cpython(sys.argv[1:])
