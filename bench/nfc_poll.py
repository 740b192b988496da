# NfcReader (firmware/lockshell/nfc.py) + the PN532 engine: CPU and heap per poll, and wire cost per card kind.
#
#   .venv/bin/python bench/nfc_poll.py               # MicroPython unix port + CPython + wire figures
#   .venv/bin/python bench/nfc_poll.py --seconds 60  # virtual seconds of steady-state polling
#
# CPU / heap: the reader polls a scripted chip on a fake UART (tests/fw/pn532fakes.py, no card in the
# field) once per virtual millisecond with its default policy (a wake every 100 ms: type A list,
# FeliCa list, PowerDown). Reported: mean CPU per poll() call, the slowest single call, CPU per
# cycle (one wake: all the polls of one interval), and heap bytes allocated per poll after warm-up. The
# fake bus's own work is included (it copies bytes in Python), so the driver + reader share is lower.
#
# Wire (CPython only): NfcReader + driver against sim/pn532.py over the virtual UART; a card enters
# the field just before a wake; bytes both ways are counted from the wake preamble of that wake to
# the identity (a FeliCa card: after the type A list with no card), and turned into time at 115200
# baud 8N1 (10 bits a byte). "emulated" is the time the emulator took, its radio model included.
import sys
import gc

MP = sys.implementation.name == "micropython"
if MP:
    import time

    def now_us():
        return time.ticks_us()

    def diff_us(a, b):
        return time.ticks_diff(b, a)
else:
    import os
    import time
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(_ROOT, "host"))
    sys.path.insert(0, os.path.join(_ROOT, "tests", "fw"))
    import doorkit  # noqa: F401  (firmware/ and the `micropython` stand-in on sys.path)

    def now_us():
        return int(time.perf_counter() * 1000000)

    def diff_us(a, b):
        return b - a

from drivers import pn532 as P
from lockshell import nfc
from pn532fakes import FakeChip, FakeUart, chip_frame

INTERVAL = 100


def cpu(seconds):
    replies = {0x14: chip_frame(0x15), 0x02: chip_frame(0x03, b"\x32\x01\x06\x07"), 0x32: chip_frame(0x33),
               0x4A: chip_frame(0x4B, b"\x00"), 0x16: chip_frame(0x17, b"\x00")}
    gc.collect()
    h0 = gc.mem_alloc() if MP else 0
    chip = FakeChip(replies, record=False)
    uart = FakeUart(chip, record=False)
    eng = P.PN532(P.HsuLink(uart))
    gc.collect()
    h1 = gc.mem_alloc() if MP else 0
    rd = nfc.NfcReader(eng, interval_ms=INTERVAL)
    gc.collect()
    h2 = gc.mem_alloc() if MP else 0
    t = 0
    while t < 3000:  # warm-up: start-up and a few cycles
        rd.poll(t)
        t += 1
    polls0 = rd.polls
    end = t + seconds * 1000
    gc.collect()
    a0 = gc.mem_alloc() if MP else 0
    worst = 0
    total = 0
    n = 0
    while t < end:
        s = now_us()
        rd.poll(t)
        d = diff_us(s, now_us())
        total += d
        if d > worst:
            worst = d
        n += 1
        t += 1
    a1 = gc.mem_alloc() if MP else 0
    cycles = (rd.polls - polls0) // (2 if rd.pair and rd.felica else 1)  # wakes
    return {
        "runtime": sys.implementation.name,
        "polls": n,
        "cycles": cycles,
        "us_per_poll": total / n,
        "us_worst_poll": worst,
        "us_per_cycle": total / cycles,
        "alloc_bytes_per_poll": (a1 - a0) / n if MP else None,
        "heap_engine_fakes": h1 - h0 if MP else None,
        "heap_reader": h2 - h1 if MP else None,
        "errors": rd.errors,
    }


def wire():
    from doorkit.sim.pn532 import Clock, PN532Emulator, mifare_classic, ntag215, phone, suica, triple_uid_card

    class Counting:
        def __init__(self, u):
            self.u = u
            self.tx = 0
            self.rx = 0

        def write(self, b):
            self.tx += len(b)
            return self.u.write(b)

        def any(self):
            return self.u.any()

        def readinto(self, buf, n=None):
            r = self.u.readinto(buf, n)
            self.rx += r or 0
            self.tx_seen = self.tx  # written before this read (not the InRelease sent after the answer)
            return r

    out = {}
    for name, make, tech in (("iso14443a 4-byte (Classic)", mifare_classic, 0),
                             ("iso14443a 7-byte (NTAG215)", ntag215, 0),
                             ("iso14443a 10-byte", triple_uid_card, 0),
                             ("iso-dep (phone, ATS)", lambda: phone(lambda a: b"\x90\x00"), 0),
                             ("felica (Suica, RC 01)", suica, 1)):
        clock = Clock(1000)
        emu = PN532Emulator(clock)
        u = Counting(emu.uart)
        eng = P.PN532(P.HsuLink(u))
        rd = nfc.NfcReader(eng, interval_ms=INTERVAL)
        while not (rd.inits and rd.tech == (0 if rd.pair else tech) and rd.waiting and rd.polls >= 2):
            rd.poll(clock.t)
            clock.advance(1)
        emu.enter(make())
        clock.t = rd.next_deadline()  # the poll of its technology starts now
        u.tx = u.rx = 0
        t0 = clock.t
        ev = None
        while ev is None:
            ev = rd.poll(clock.t)
            if ev is None:
                clock.advance(1)
        b = u.tx_seen + u.rx
        out[name] = {"ident": ev[2], "host_bytes": u.tx_seen, "chip_bytes": u.rx, "bytes": b,
                     "wire_ms": round(b * 10 / 115.2, 2), "emulated_ms": clock.t - t0}
    # a no-card cycle: wake + list + NbTg 0 + PowerDown, both ways
    clock = Clock(1000)
    emu = PN532Emulator(clock)
    u = Counting(emu.uart)
    rd = nfc.NfcReader(P.PN532(P.HsuLink(u)), interval_ms=INTERVAL)
    while rd.polls < 2 or not rd.waiting:
        rd.poll(clock.t)
        clock.advance(1)
    u.tx = u.rx = 0
    p0 = rd.polls
    for _ in range(4 * INTERVAL):
        rd.poll(clock.t)
        clock.advance(1)
    wakes = (rd.polls - p0) // (2 if rd.pair else 1)
    b = (u.tx + u.rx) / wakes
    out["no card (one cycle)"] = {"ident": "-", "host_bytes": u.tx // wakes,
                                  "chip_bytes": u.rx // wakes, "bytes": b,
                                  "wire_ms": round(b * 10 / 115.2, 2), "emulated_ms": 0}
    return out


def main(argv):
    seconds = 30
    if "--seconds" in argv:
        seconds = int(argv[argv.index("--seconds") + 1])
    if MP:
        import json
        print("RESULT " + json.dumps(cpu(seconds)))
        return
    import json
    import subprocess
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mpbuild import FIRMWARE, HEAP, OUT, micropython_binary, micropython_version, compile_tree
    here = os.path.dirname(os.path.abspath(__file__))
    fw, extra = os.path.join(OUT, "firmware"), os.path.join(OUT, "nfc")
    compile_tree(FIRMWARE, fw)
    compile_tree(here, extra, only=("nfc_poll.py",))
    compile_tree(os.path.join(_ROOT, "tests", "fw"), extra, only=("pn532fakes.py",))
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([extra, fw, ".frozen"]))
    proc = subprocess.run([micropython_binary(), "-X", "heapsize=" + HEAP, "-m", "nfc_poll", "--seconds",
                           str(seconds)], capture_output=True, text=True, env=env, cwd=_ROOT, timeout=900)
    mp = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            mp = json.loads(line[7:])
    if mp is None:
        raise RuntimeError("micropython run failed:\n" + proc.stdout[-2000:] + proc.stderr[-2000:])
    res = {"micropython": mp, "micropython_version": micropython_version(), "heap": HEAP,
           "cpython": cpu(seconds), "wire_115200": wire()}
    for k in ("micropython", "cpython"):
        r = res[k]
        print("%-11s %d polls, %d list cycles: %.2f us/poll (worst %d us), %.0f us/cycle, alloc/poll %s, "
              "heap: reader %s, engine+fakes %s" % (k, r["polls"], r["cycles"], r["us_per_poll"], r["us_worst_poll"],
                                                    r["us_per_cycle"], r["alloc_bytes_per_poll"],
                                                    r["heap_reader"], r["heap_engine_fakes"]))
    for name, w in res["wire_115200"].items():
        print("%-28s %-22s %3.1f bytes (host %d, chip %d) = %5.2f ms at 115200; emulated %d ms"
              % (name, w["ident"], w["bytes"], w["host_bytes"], w["chip_bytes"], w["wire_ms"], w["emulated_ms"]))
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1:])
