# Polls per idle hour: the board's loop (lockshell.app.run) on a virtual clock, the whole firmware
# with its card reader on a scripted PN532 (no card in the field), nobody touching the lock for an
# hour. Before: a poll every 10 ms whatever happens (idle_ms = period_ms, as the loop was); after:
# sleep until the App's next deadline, at most IDLE_MS. Measured in the MicroPython unix port at the
# board-equivalent heap (-X heapsize=96wK) and on CPython; run from CPython:
#     .venv/bin/python bench/idle.py [--minutes 60]
# Reported per idle hour: polls, reader lists, and CPU ms spent in the loop (the unix port on this
# PC; an ESP32 is roughly 30-50x slower: a scale factor, not a measurement).
import sys

MICRO = sys.implementation.name == "micropython"

if MICRO:
    import time

    def now_us():
        return time.ticks_us()

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    import time

    def now_us():
        return int(time.perf_counter() * 1000000)

    def elapsed_us(t0):
        return now_us() - t0


def one(minutes, idle_ms):
    import asyncio
    from fakes import FakePin, FakePWM, FakeADC, VirtualClock
    from pn532fakes import FakeChip, FakeUart, chip_frame
    from lockctl.keys import KeyList
    from lockshell.app import App, run
    from lockshell.board import Board
    from lockshell.store import MemoryStore
    from lockshell.nfc import NfcReader
    from drivers.debounce import Debounced
    from drivers.motor import HBridgeMotor
    from drivers.position import PotPosition
    from drivers.indicator import Indicator
    from drivers import pn532 as P
    chip = FakeChip({0x14: chip_frame(0x15), 0x02: chip_frame(0x03, b"\x32\x01\x06\x07"),
                     0x32: chip_frame(0x33), 0x4A: chip_frame(0x4B, b"\x00"), 0x16: chip_frame(0x17, b"\x00")},
                    record=False)
    reader = NfcReader(P.PN532(P.HsuLink(FakeUart(chip, record=False))))
    board = Board(HBridgeMotor(FakePWM(record=False), FakePWM(record=False), current_adc=FakeADC(0)),
                  PotPosition(FakeADC(1000 << 4)), Debounced(FakePin(0, record=False), 0),
                  Debounced(FakePin(1, record=False), 0, active_low=True),
                  Indicator(FakePin(0, record=False), FakePWM(record=False)), reader)
    app = App(board, MemoryStore(None, (1000, 3000)), KeyList([(1, "DEADBEEF", "alice")]))
    clock = VirtualClock()
    end = minutes * 60000

    class Stop(Exception):
        pass

    async def sleep_ms(ms):
        clock.t += ms
        if clock.t >= end:
            raise Stop()
        await asyncio.sleep(0)

    t0 = now_us()
    try:
        asyncio.run(run(app, clock.ticks_ms, clock.ticks_diff, sleep_ms, idle_ms=idle_ms))
    except Stop:
        pass
    us = elapsed_us(t0)
    per_hour = 60.0 / minutes
    return {"polls_per_hour": int(app.polls * per_hour), "reader_lists_per_hour": int(reader.polls * per_hour),
            "cpu_ms_per_hour": us / 1000.0 * per_hour, "log": len(app.log), "faults": app.faults}


def measure(minutes):
    from lockshell.app import PERIOD_MS, IDLE_MS
    before = one(minutes, PERIOD_MS)
    after = one(minutes, IDLE_MS)
    return {"minutes": minutes, "period_ms": PERIOD_MS, "idle_ms": IDLE_MS, "before": before, "after": after,
            "ratio_polls": before["polls_per_hour"] / max(1, after["polls_per_hour"]),
            "ratio_cpu": before["cpu_ms_per_hour"] / max(0.001, after["cpu_ms_per_hour"])}


def _minutes(argv):
    return int(argv[argv.index("--minutes") + 1]) if "--minutes" in argv else 60


def main_micropython(argv):
    import json
    print("RESULT " + json.dumps(measure(_minutes(argv))))


def main_cpython(argv):
    import json
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    sys.path.insert(0, os.path.join(os.path.dirname(here), "tests", "fw"))
    sys.path.insert(0, os.path.join(os.path.dirname(here), "host"))
    import doorkit  # noqa: F401
    import mpbuild
    minutes = _minutes(argv)
    mp = mpbuild.run_module("idle", ["--minutes", str(minutes)])
    cp = measure(minutes)
    res = {"command": "bench/idle.py " + " ".join(argv), "micropython": mp, "cpython": cp, "heapsize": mpbuild.HEAP,
           "esp32_cpu_ms_per_hour": [[mp[k]["cpu_ms_per_hour"] * f for f in mpbuild.ESP32_SLOWDOWN]
                                     for k in ("before", "after")]}
    for name, r in (("MicroPython unix (-X heapsize=%s)" % mpbuild.HEAP, mp), ("CPython", cp)):
        print("%s, %d idle minutes, per idle hour:" % (name, minutes))
        for k in ("before", "after"):
            x = r[k]
            print("  %-6s polls %7d  reader lists %6d  CPU %8.1f ms" % (k, x["polls_per_hour"],
                                                                        x["reader_lists_per_hour"],
                                                                        x["cpu_ms_per_hour"]))
        print("  before/after: %.2fx polls, %.2fx CPU" % (r["ratio_polls"], r["ratio_cpu"]))
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    if MICRO:
        main_micropython(sys.argv[1:])
    else:
        main_cpython(sys.argv[1:])
