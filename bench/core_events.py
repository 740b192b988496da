# LockCore events per second on CPython and in the MicroPython unix port (same file, same stream).
#
#   .venv/bin/python bench/core_events.py            # both runtimes, then the ratio
#   .venv/bin/python bench/core_events.py --cpython  # CPython only (or --micropython)
#   .venv/bin/python bench/core_events.py --events 100000 --seed 7
#
# The stream: a MiniDoor (core + motor driver + knob/motor model, bench/minidoor.py) driven by a seeded mix
# of people: card arrivals (valid and unknown cards), button exits, manual turns, jams (retry and
# full jam), pot jitter at rest, doors held open. Everything it feeds the core (position samples every
# 10 ms while the knob moves, door, button, credentials, stall, timers) is recorded as int triples in
# chunks of CHUNK events. Each chunk is then replayed into REPEAT other LockCores (all in the same
# state as the recorder's was), each firing its own timers (core.next_deadline(), EV_TIMER):
# only the replays are timed, and each chunk counts with its fastest replay, so the figure is the
# core plus its timer table, not the model. One more core replays the same chunks with the GC off in
# windows of WINDOW events to measure what the core allocates (MicroPython: gc.mem_alloc(); that
# includes the list each handle() returns and the iterator over it, as in App._apply).
# The first chunk is warm-up and is left out of every figure. Both runtimes must end with the same
# log count and state (checked: `same_stream`).
import sys
import gc

MP = sys.implementation.name == "micropython"
if not MP:
    import os
    import time
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(_ROOT, "host"))
    import doorkit  # noqa: F401  (firmware/ and the `micropython` stand-in on sys.path)

    def now_us():
        return int(time.perf_counter() * 1000000)

    def elapsed_us(t0):
        return now_us() - t0
else:
    import time

    def now_us():
        return time.ticks_us()

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

from array import array

from lockctl.core import LockCore
from lockctl.record import EVENT_NAMES, state_name
from lockctl.keys import KeyList
from lockctl.codes import (
    EV_DOOR, EV_POSITION, EV_CREDENTIAL, A_LOG, LOCKED, KIND_ISO14443A, KIND_PHONE,
)
from minidoor import MiniDoor, Lcg, LOCK, UNLOCK

EVENTS = 200000
SEED = 1
CHUNK = 2000
WINDOW = 200
REPEAT = 3  # timed replays of each chunk; the fastest counts (noisy shared machine)
CARD = KIND_ISO14443A
CREDS = ((CARD, "04A1B2C3"), (CARD, "5F00AA17"), (CARD, "9C33E001"), (KIND_PHONE, "A11CE0"),
         (CARD, "DEADBEEF"))  # the last one is not on the key list
KEYS = ((CARD, "04A1B2C3", "alice"), (CARD, "5F00AA17", "bob"), (CARD, "9C33E001", "carol"),
        (KIND_PHONE, "A11CE0", "alice"))


# ---------------------------------------------------------------------- the people
def walk_through(d, g):
    """Wait for the bolt to clear (up to 3 s), open, pass, close; auto-lock follows."""
    waited = 0
    while not d.can_open() and waited < 3000:
        d.run_for(100)
        waited += 100
    if not d.can_open():
        return False
    d.run_for(g.between(100, 800))
    d.door(True)
    d.run_for(g.between(1500, 6000))
    d.door(False)
    return True


def jitter(d, g):
    """The pot reading wanders by a count or two at rest (stays inside the zone)."""
    p = d.pos
    for _ in range(g.between(2, 8)):
        d.run_for(10)
        q = p + g.between(-2, 2)
        if q != d.pos:
            d.pos = q
            d.feed(EV_POSITION, q)
    if d.pos != p:
        d.run_for(10)
        d.pos = p
        d.feed(EV_POSITION, p)


def episode(d, g):
    d.run_for(g.between(500, 30000))
    x = g.below(100)
    if x < 40:  # arrival with a card or phone; sometimes a stranger's card first
        if g.below(8) == 0:
            d.credential(CREDS[4])
            d.run_for(g.between(800, 3000))
        d.credential(CREDS[g.below(4)])
        walk_through(d, g)
    elif x < 65:  # button exit
        d.button()
        walk_through(d, g)
    elif x < 75:  # someone inside turns the knob by hand, then leaves or turns it back
        d.turn(UNLOCK, g.between(400, 900))
        d.run_for(1000)
        if g.below(2) or not walk_through(d, g):
            d.run_for(g.between(500, 5000))
            if d.core.state != LOCKED:  # not locked yet: turn it back
                d.turn(LOCK, g.between(400, 900))
    elif x < 83:  # a jam: one failed attempt (retry works) or a full jam, then a second tap
        d.jam(1 if g.below(3) else 3)
        d.credential(CREDS[g.below(4)])
        if not walk_through(d, g):
            d.credential(CREDS[g.below(4)])
            walk_through(d, g)
    elif x < 95:
        jitter(d, g)
    else:  # door held open past the alarm, then closed
        d.button()
        if walk_through(d, g):
            d.door(True)
            d.run_for(g.between(61000, 70000))
            d.door(False)
    d.settle()


# ---------------------------------------------------------------------- replay (the timed part)
def replay(core, buf, start, end):
    """Feed recorded events buf[3*start : 3*end] to core (its timer events included)."""
    handle = core.handle
    creds = CREDS
    logs = 0
    i = 3 * start
    stop = 3 * end
    while i < stop:
        t = buf[i]
        k = buf[i + 1]
        c = buf[i + 2]
        i += 3
        if k == EV_POSITION:
            arg = c
        elif k == EV_DOOR:
            arg = c == 1
        elif k == EV_CREDENTIAL:
            arg = creds[c]
        else:
            arg = None
        for a in handle(t, k, arg):
            if a[0] == A_LOG:
                logs += 1
    return logs


class Bench:
    def __init__(self, events, seed):
        self.target = events
        self.buf = array("i", range(3 * CHUNK))
        self.n = 0
        self.chunks = 0
        self.timed_events = 0
        self.timed_us = 0
        self.timed_logs = 0
        self.alloc_bytes = 0
        self.alloc_events = 0
        self.kinds = {}
        keys = KeyList(KEYS)
        self.door = MiniDoor(None, keys, CREDS, tick=10)
        self.door.rec = self.record
        # the replay cores start exactly where the recorder's core started: REPEAT timed ones
        # (each chunk counts with its fastest replay) and one for the allocation windows
        self.timed = []
        for _ in range(REPEAT + 1):
            core = LockCore(None, (LOCK, UNLOCK), keys)
            core.boot(0, LOCK, False)
            self.timed.append(core)
        self.c = self.timed.pop()
        self.g = Lcg(seed)
        self.mem0 = None

    def record(self, t, kind, code):
        i = 3 * self.n
        buf = self.buf
        buf[i] = t
        buf[i + 1] = kind
        buf[i + 2] = code
        self.n += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if self.n == CHUNK:
            self.flush()

    def flush(self):
        n = self.n
        self.n = 0
        warm = self.chunks == 0
        self.chunks += 1
        us = None
        for core in self.timed:
            gc.collect()
            t0 = now_us()
            logs = replay(core, self.buf, 0, n)
            dt = elapsed_us(t0)
            if us is None or dt < us:
                us = dt
        if not warm:
            self.timed_us += us
            self.timed_events += n
            self.timed_logs += logs
        # allocation: the same events into the third core, GC off per window
        for s in range(0, n, WINDOW):
            e = min(n, s + WINDOW)
            gc.collect()
            if MP:
                gc.disable()
                m0 = gc.mem_alloc()
            replay(self.c, self.buf, s, e)
            if MP:
                m1 = gc.mem_alloc()
                gc.enable()
                if not warm:
                    self.alloc_bytes += m1 - m0
                    self.alloc_events += e - s
        if warm and MP:
            gc.collect()
            self.mem0 = gc.mem_alloc()

    def run(self):
        d = self.door
        while d.events < self.target:
            episode(d, self.g)
        if self.n:
            self.flush()
        # the replayed cores must have ended exactly where the recorder's did
        for core in self.timed + [self.c]:
            if core.state != d.core.state or core.now != d.core.now or core.pos != d.core.pos:
                raise RuntimeError("replay diverged from the recording")
        res = {
            "runtime": sys.implementation.name,
            "version": sys.version.split(" ")[0] if not MP else "%d.%d.%d" % sys.implementation.version[:3],
            "events": d.events,
            "timed_events": self.timed_events,
            "timed_us": self.timed_us,
            "events_per_s": int(self.timed_events * 1000000 // max(1, self.timed_us)),
            "us_per_event": self.timed_us / max(1, self.timed_events),
            "virtual_s": d.t // 1000,
            "mix": dict((EVENT_NAMES[k], self.kinds[k]) for k in self.kinds),
            "log_records": sum(d.logs.values()),
            "final_state": state_name(d.core.state),
        }
        if MP:
            gc.collect()
            res["alloc_bytes_per_1000"] = self.alloc_bytes * 1000 // max(1, self.alloc_events)
            res["retained_growth_bytes"] = gc.mem_alloc() - self.mem0
            res["heap_free"] = gc.mem_free()
            res["heap_alloc"] = gc.mem_alloc()
        return res


def measure(events, seed):
    return Bench(events, seed).run()


def _report(r):
    print("%s %s: %d events in %d virtual s; timed %d events in %.3f s -> %d events/s (%.2f us/event)"
          % (r["runtime"], r["version"], r["events"], r["virtual_s"], r["timed_events"], r["timed_us"] / 1e6,
             r["events_per_s"], r["us_per_event"]))
    if "alloc_bytes_per_1000" in r:
        print("  heap: %d bytes allocated per 1000 events (GC off windows); retained growth after the warm-up "
              "chunk: %d bytes; heap now %d used / %d free"
              % (r["alloc_bytes_per_1000"], r["retained_growth_bytes"], r["heap_alloc"], r["heap_free"]))


def _args(argv):
    events, seed, which = EVENTS, SEED, "both"
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--events":
            events = int(argv[i + 1])
            i += 1
        elif a == "--seed":
            seed = int(argv[i + 1])
            i += 1
        elif a in ("--cpython", "--micropython"):
            which = a[2:]
        i += 1
    return events, seed, which


def main(argv):
    import json
    events, seed, which = _args(argv)
    if MP:
        r = measure(events, seed)
        _report(r)
        print("RESULT " + json.dumps(r))
        return r
    import mpbuild
    out = {"command": "bench/core_events.py " + " ".join(argv)}
    if which in ("both", "cpython"):
        out["cpython"] = measure(events, seed)
        _report(out["cpython"])
    if which in ("both", "micropython"):
        out["micropython"] = mpbuild.run_module("core_events", ["--events", str(events), "--seed", str(seed)])
        _report(out["micropython"])
        out["micropython"]["heapsize"] = mpbuild.HEAP
        out["micropython"]["binary"] = mpbuild.micropython_binary()
    if "cpython" in out and "micropython" in out:
        cp, mp = out["cpython"], out["micropython"]
        out["ratio_cpython_over_micropython"] = cp["events_per_s"] / float(mp["events_per_s"])
        out["same_stream"] = (cp["mix"] == mp["mix"] and cp["log_records"] == mp["log_records"]
                              and cp["final_state"] == mp["final_state"] and cp["virtual_s"] == mp["virtual_s"])
        lo, hi = mp["events_per_s"] // mpbuild.ESP32_SLOWDOWN[1], mp["events_per_s"] // mpbuild.ESP32_SLOWDOWN[0]
        out["esp32_estimate_events_per_s"] = [lo, hi]
        print("CPython / MicroPython unix: %.2fx (same run; identical stream and log on both: %s)"
              % (out["ratio_cpython_over_micropython"], out["same_stream"]))
        print("ESP32 estimate (unix port / %d..%d): %d..%d events/s" % (mpbuild.ESP32_SLOWDOWN[0], mpbuild.ESP32_SLOWDOWN[1], lo, hi))
    print("RESULT " + json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
