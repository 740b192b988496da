# Tap-to-unlock latency on the virtual board, per card kind, and the reader's RF duty cycle.
#
#   .venv/bin/python bench/tap_latency.py                    # every policy, 200 taps per kind each
#   .venv/bin/python bench/tap_latency.py --taps 50 --quick  # before/after only
#   .venv/bin/python bench/tap_latency.py --sim-cost BASE    # + simulation run times vs a checkout
#
# Each tap: a VirtualDoor(nfc=True) (real PN532 driver + NfcReader + App against sim/pn532.py, whose
# radio timing is described in docs/pn532.md) waits a random 0-999 ms, so taps fall at random phases
# of the reader's polling cycle, then a card enters the field for 500 ms. Latency is from the card
# entering the field to the motor command: world.drive_t of the unlock move. relock_ms is 1000 so
# the door is locked again 3 s later for the next tap. Kinds: MIFARE Classic (4-byte UID), NTAG215
# (7-byte), a 10-byte UID card, Suica (FeliCa), a phone (ISO-DEP, SELECT + challenge-response).
# Duty cycle: share of a 60 s quiet minute (no card) during which the emulated RF field is on.
# Policies are NfcReader settings applied to the board's reader (public attributes), so all run in
# one process on the same emulator model; "before" is the reader as it was (250 ms, A and FeliCa
# alternating), the others are candidates.
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, "host"))
import doorkit  # noqa: E402,F401
from doorkit.sim.board import NFC_CARDS, VirtualDoor  # noqa: E402
from lockctl.codes import LOCKED  # noqa: E402

KINDS = ("mifare", "ntag", "uid10", "suica", "phone")
KEYS = [NFC_CARDS[k][1] + ("user-" + k,) for k in KINDS]

# name: NfcReader attributes (interval_ms: one wake per interval; pair: both technologies per wake)
POLICIES = [
    ("before: 250 ms, A/F alternating", dict(interval_ms=250, pair=False)),
    ("100 ms, A/F alternating", dict(interval_ms=100, pair=False)),
    ("150 ms, A+F each wake", dict(interval_ms=150, pair=True)),
    ("after: 100 ms, A+F each wake", dict(interval_ms=100, pair=True)),
    ("70 ms, A+F each wake", dict(interval_ms=70, pair=True)),
]
QUICK = (0, 3)


def make_door(seed, policy):
    d = VirtualDoor(seed=seed, calibration="ends", keys=KEYS, nfc=True, config={"relock_ms": 1000})
    for k, v in policy.items():
        setattr(d.board.reader, k, v)
    return d


def duty(seed, policy, ms=60000):
    d = make_door(seed, policy)
    d.advance(2000)
    f0, t0, p0 = d.pn532.field_ms(), d.now, d.polls
    c0 = time.perf_counter()
    d.advance(ms)
    cpu = time.perf_counter() - c0
    return (d.pn532.field_ms() - f0) / (d.now - t0), (d.polls - p0) * 1000.0 / ms, cpu


def taps(seed, policy, kind, n):
    rng = random.Random(seed * 7919 + KINDS.index(kind))
    d = make_door(seed, policy)
    d.advance(1500)
    out, bad = [], 0
    for _ in range(n):
        d.advance(rng.randrange(1000))
        t0, m0 = d.now, d.world.moves
        d.tap(kind, 500)
        while d.world.moves == m0 and d.now - t0 < 3000:
            d.advance(10)
        if d.world.moves > m0:
            out.append(d.world.drive_t - t0)
        else:
            bad += 1
        d.advance(3000)
        if d.core.state != LOCKED:
            bad += 1
            d.advance(5000)
    return out, bad


def inautopoll(n, seed, period=1, types=(0x00, 0x11)):
    """The other candidate, measured at the chip: the PN532's own InAutoPoll (endless, Period x 150 ms
    per type, generic 106 kbps type A then FeliCa 212) restarted by the driver after each answer; a
    card enters at a random phase; time to the chip's answer in the driver (no App, no motor, no
    phone protocol). The field is on for the whole command: duty cycle 100 %."""
    from doorkit.sim.pn532 import Clock, PN532Emulator
    from drivers import pn532 as P
    cards = {"mifare": "mifare", "ntag": "ntag", "uid10": "uid10", "suica": "suica", "phone": "phone"}
    out = {}
    for kind in KINDS:
        rng = random.Random(seed * 31 + KINDS.index(kind))
        clock = Clock(0)
        emu = PN532Emulator(clock, seed=seed)
        drv = P.PN532(P.HsuLink(emu.uart))
        card = NFC_CARDS[cards[kind]][2]()
        clock.run(drv, drv.start_sam_configuration)
        params = bytes([0xFF, period]) + bytes(types)
        lat = []
        for _ in range(n):
            drv.start_command(clock.t, 0x60, params, timeout_ms=10 ** 9)
            for _ in range(rng.randrange(1000)):
                clock.advance(1)
                drv.poll(clock.t)
            t0 = clock.t
            emu.enter(card)
            st = P.BUSY
            while st == P.BUSY:
                clock.advance(1)
                st = drv.poll(clock.t)
            lat.append(clock.t - t0)
            emu.leave(card)
        out[kind] = lat
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run_latency(n, seed, which):
    rows = []
    for i in which:
        name, pol = POLICIES[i]
        c0 = time.perf_counter()
        share, polls_s, cpu = duty(seed, pol)
        per_kind = {}
        for kind in KINDS:
            per_kind[kind] = taps(seed, pol, kind, n)
        rows.append((name, pol, share, polls_s, cpu, per_kind, time.perf_counter() - c0))
        print("  %s: done in %.1f s" % (name, rows[-1][-1]), file=sys.stderr)
    print("\n| policy | duty cycle (no card) | App polls/s (no card) | CPU for a quiet minute | "
          + " | ".join("%s median / p90 / worst" % k for k in KINDS) + " |")
    print("|---" * (4 + len(KINDS)) + "|")
    for name, pol, share, polls_s, cpu, per_kind, _ in rows:
        cells = []
        for kind in KINDS:
            xs, bad = per_kind[kind]
            cell = "%d / %d / %d" % (statistics.median(xs), pct(xs, 0.9), max(xs)) if xs else "-"
            if bad:
                cell += " (%d failed)" % bad
            cells.append(cell)
        print("| %s | %.1f %% | %.0f | %.2f s | %s |" % (name, share * 100, polls_s, cpu, " | ".join(cells)))
    print("\n%d taps per kind and policy, seed %d; times in ms from the card entering the field to the "
          "motor command." % (n, seed))
    ap = inautopoll(n, seed)
    print("\nInAutoPoll (PollNr FF, Period 1 = 150 ms per type, types 00 + 11), at the chip: card entering "
          "to the chip's answer in the driver; field on 100 % of the time")
    print("\n| kind | median / p90 / worst |\n|---|---|")
    for kind in KINDS:
        xs = ap[kind]
        print("| %s | %d / %d / %d |" % (kind, statistics.median(xs), pct(xs, 0.9), max(xs)))
    res = {"taps": n, "seed": seed, "policies": [], "inautopoll": {}}
    for name, pol, share, polls_s, cpu, per_kind, _ in rows:
        kinds = {}
        for kind in KINDS:
            xs, bad = per_kind[kind]
            kinds[kind] = {"median": statistics.median(xs) if xs else None, "p90": pct(xs, 0.9) if xs else None,
                           "worst": max(xs) if xs else None, "failed": bad}
        res["policies"].append({"name": name, "settings": pol, "duty_cycle": share, "polls_per_s": polls_s,
                                "quiet_minute_cpu_s": cpu, "kinds": kinds})
    for kind in KINDS:
        xs = ap[kind]
        res["inautopoll"][kind] = {"median": statistics.median(xs), "p90": pct(xs, 0.9), "worst": max(xs)}
    return res


def sim_cost(base):
    """Run times of the scenario files and bench/office.py here and in another checkout (base), each
    with its own virtualenv (BASE/.venv: `python3 -m venv BASE/.venv && BASE/.venv/bin/pip install -e
    BASE`), best of 3 for the scenarios."""
    scripts = ["sim/scenarios/nfc.scn", "sim/scenarios/demo.scn"]
    code = ("import sys,time; import doorkit; from doorkit.sim import scenario; "
            "s=scenario.parse(open(sys.argv[1]).read()); t=time.perf_counter(); r=scenario.run(s); "
            "print('%.3f %d' % (time.perf_counter()-t, r.door.polls))")
    print("\n| tree | " + " | ".join("%s: run time / App polls" % s for s in scripts) + " | bench/office.py |")
    print("|---|" + "---|" * (len(scripts) + 1))
    for label, root in (("base " + base, base), ("this tree", _ROOT)):
        py = os.path.join(root, ".venv", "bin", "python")
        cells = []
        for s in scripts:
            best = None
            for _ in range(3):
                out = subprocess.run([py, "-c", code, os.path.join(root, s)], cwd=root,
                                     capture_output=True, text=True, check=True).stdout.split()
                if best is None or float(out[0]) < best[0]:
                    best = (float(out[0]), int(out[1]))
            cells.append("%.2f s / %d" % best)
        t = time.perf_counter()
        subprocess.run([py, os.path.join(root, "bench", "office.py")], cwd=root, capture_output=True,
                       check=True)
        cells.append("%.2f s" % (time.perf_counter() - t))
        print("| %s | %s |" % (label, " | ".join(cells)))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--taps", type=int, default=200, help="taps per card kind and policy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="only the before and after policies")
    ap.add_argument("--sim-cost", metavar="BASE", help="also time the simulations against a checkout")
    a = ap.parse_args(argv)
    print("command: .venv/bin/python bench/tap_latency.py " + " ".join(argv))
    res = run_latency(a.taps, a.seed, QUICK if a.quick else range(len(POLICIES)))
    if a.sim_cost:
        sim_cost(a.sim_cost)
    res["command"] = "bench/tap_latency.py " + " ".join(argv)
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1:])
