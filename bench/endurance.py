"""Endurance: lock/unlock cycles with random jams, manual turns and people getting in the way;
counts stuck states (expected 0).

    .venv/bin/python bench/endurance.py            # 400,000 cycles on the virtual board (sim/board.py)
    .venv/bin/python bench/endurance.py --core     # 400,000 cycles at core level (bench/minidoor.py)
    .venv/bin/python bench/endurance.py --cycles 20000 --seed 2

One cycle = an unlock (card, phone, button, remote or a hand on the knob) then a lock (someone walks
through and the door auto-locks, the 10 s relock, remote, or a hand; the button only unlocks). At
random, before a motor operation: a jam that lasts until the first RETRY (the retry must still get there), a full
jam (attempt, back-off and retry all blocked -> JAMMED; then the obstruction is gone and the person
tries again or turns the knob by hand), a hand grabbing the knob
while the motor turns it, the door pulled open again just as the auto-lock starts, and (1 cycle in
500, unless --no-partial) a hand turning the locked knob part way (55-85 % toward unlock: the bolt
is pulled) and letting go, after which the lock must be locked again within 12 s (auto-lock on).

A stuck state, checked after every half cycle once things had time to settle:
  * the motor still running;
  * the lock in a moving or calibrating state (neither locked, unlocked nor jammed);
  * LOCKED while the knob is not at the lock end;
  * an undisturbed move (no full jam, no hand on the knob) that did not end in the requested state
    with the knob at that end;
  * after the recovery from a disturbance, still not in the requested state.

Two runners drive the same cycle script (same seed -> same people, same jams):
  board: sim/board.py's VirtualDoor: the real drivers and firmware/lockshell/app.py on the simulated world, in
         fast-forwarded virtual time (the default);
  core:  bench/minidoor.py's MiniDoor: LockCore + Timers + a plain motor/knob model sampled every
         `tick` ms, no drivers, no App (a cross-check that does not depend on the simulator).
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, ROOT)
import doorkit  # noqa: E402,F401  (firmware/ and the `micropython` stand-in on sys.path)

from lockctl.keys import KeyList  # noqa: E402
from lockctl.record import format_record, STATE_NAMES, LOG_NAMES, state_name  # noqa: E402
from lockctl.codes import (  # noqa: E402
    LOCKED, UNLOCKED, JAMMED, LOG_JAM, LOG_RETRY, EV_REMOTE, KIND_ISO14443A, KIND_PHONE,
)
from minidoor import MiniDoor, Lcg, LOCK, UNLOCK, knob_zone as zone  # noqa: E402

CARDS = ((KIND_ISO14443A, "04A1B2C3"), (KIND_PHONE, "A11CE0"))
KEYS = ((KIND_ISO14443A, "04A1B2C3", "alice"), (KIND_PHONE, "A11CE0", "alice"))


class CoreRunner:
    """The cycle script's view of a MiniDoor."""
    name = "core"

    def __init__(self, tick):
        self.d = MiniDoor(None, KeyList(KEYS), CARDS, tick=tick)
        self.logs = self.d.logs
        self.trail = []
        self.unjam_at_retry = False
        self.d.on_log = self._rec

    def _rec(self, rec):
        self.trail.append(rec)
        if rec[1] == LOG_RETRY and self.unjam_at_retry:
            self.unjam_at_retry = False
            self.d.unjam()

    now = property(lambda self: self.d.t)
    core = property(lambda self: self.d.core)
    moves = property(lambda self: self.d.drives)

    def advance(self, ms):
        self.d.run_for(ms)

    def card(self, i):
        self.d.credential(CARDS[i])

    def button(self):
        self.d.button()

    def remote(self, cmd):
        self.d.feed(EV_REMOTE, (cmd, "ops"))

    def open(self):
        if not self.d.can_open():
            return False
        self.d.door(True)
        return True

    def close(self):
        self.d.door(False)
        return True

    def turn(self, where, ms):
        """where: "lock", "unlock" or a fraction of the way from the lock end to the unlock end."""
        if where == "unlock":
            where = 1.0
        elif where == "lock":
            where = 0.0
        self.d.turn(int(LOCK + where * (UNLOCK - LOCK)), ms)

    def jam(self):
        self.d.jam()

    def unjam(self):
        self.unjam_at_retry = False
        self.d.unjam()

    def motor_running(self):
        return self.d.motor != 0

    def knob(self):
        return zone(self.d.pos, self.d.core)


class BoardRunner:
    """The cycle script's view of a VirtualDoor (real drivers + App on the simulated world)."""
    name = "board"

    def __init__(self, seed):
        from sim.board import VirtualDoor
        self.d = VirtualDoor(seed=seed, calibration="ends", keys=KEYS, keep_records=False)
        self.logs = {}
        self.trail = []
        self.unjam_at_retry = False
        self.d.on_record = self._rec
        self.drives = 0
        motor = self.d.board.motor
        drive = motor.drive

        def counting_drive(direction, now_ms):  # count the drives the App commands
            self.drives += 1
            drive(direction, now_ms)
        motor.drive = counting_drive

    def _rec(self, rec):
        self.logs[rec[1]] = self.logs.get(rec[1], 0) + 1
        self.trail.append(rec)
        if rec[1] == LOG_RETRY and self.unjam_at_retry:
            self.unjam_at_retry = False
            self.d.schedule(self.d.now, self.d.unjam)  # right after this poll

    now = property(lambda self: self.d.now)
    core = property(lambda self: self.d.core)
    moves = property(lambda self: self.drives)

    def advance(self, ms):
        self.d.advance(ms)

    def card(self, i):
        self.d.card(*CARDS[i])

    def button(self):
        self.d.press_button()

    def remote(self, cmd):
        self.d.remote(cmd, "ops")

    def open(self):
        return self.d.open_door()

    def close(self):
        return self.d.close_door()

    def turn(self, where, ms):
        if not isinstance(where, str):
            w = self.d.world
            where = w.lock_deg + where * (w.unlock_deg - w.lock_deg)
        self.d.turn(where, ms)

    def jam(self):
        self.d.jam(None, None)

    def unjam(self):
        self.unjam_at_retry = False
        self.d.unjam()

    def motor_running(self):
        return self.d.world.direction != 0

    def knob(self):
        w = self.d.world
        return zone(w.counts_at(w.now), self.d.core)


class Endurance:
    def __init__(self, runner, seed, partial=True):
        self.partial = partial
        self.r = runner
        self.g = Lcg(seed)
        self.seed = seed
        self.cycle = 0
        self.stuck = []  # (cycle, half, what, log lines of that cycle)
        self.stuck_count = 0
        self.stuck_by = {}  # check name -> count
        self.n = {"retry_jams": 0, "full_jams": 0, "hand_ops": 0, "hand_interference": 0, "door_reopened": 0,
                  "passages": 0, "partial_turns": 0}

    def _stuck(self, half, what):
        self.stuck_count += 1
        self.stuck_by[half] = self.stuck_by.get(half, 0) + 1
        if self.stuck_by[half] <= 2:  # the first two of each kind
            self.stuck.append((self.cycle, half, what,
                               [x if isinstance(x, str) else format_record(x) for x in self.r.trail]))

    def _check(self, half, want, disturbed):
        """True when settled in the wanted state; records a stuck state otherwise."""
        r = self.r
        st = r.core.state
        knob = r.knob()
        if r.motor_running():
            self._stuck(half, "motor still running")
        elif st not in (LOCKED, UNLOCKED, JAMMED):
            self._stuck(half, "state %s after settling" % STATE_NAMES[st])
        elif st == LOCKED and knob != "lock":
            self._stuck(half, "locked but the knob is at %s" % knob)
        elif st == want and knob == ("lock" if want == LOCKED else "unlock"):
            return True
        elif not disturbed:
            self._stuck(half, "%s with the knob at %s, wanted %s" % (STATE_NAMES[st], knob, STATE_NAMES[want]))
        return False

    def _maybe_jam(self):
        """Sometimes jams the knob before a motor operation: until the first RETRY (the retry must
        get there), or fully (attempt, back-off and retry fail -> JAMMED; cleared before the person
        tries again). Returns True for a full jam. (Jams last until unjam() rather than for n moves:
        the simulated world counts the instant brake -> coast leg transition as a move.)"""
        x = self.g.below(1000)
        if x < 6:
            self.r.jam()
            self.r.unjam_at_retry = True
            self.n["retry_jams"] += 1
        elif x < 9:
            self.r.jam()
            self.n["full_jams"] += 1
            return True
        return False

    def _maybe_interfere(self):
        if self.g.below(200) == 0:
            r = self.r
            r.advance(self.g.between(50, 400))
            r.turn("unlock" if self.g.below(2) else "lock", self.g.between(200, 800))
            self.n["hand_interference"] += 1
            return True
        return False

    def unlock(self):
        r, g = self.r, self.g
        how = g.below(10)
        disturbed = how < 7 and self._maybe_jam()  # jams only where the motor does the work
        if how < 3:
            r.card(0)
        elif how < 4:
            r.card(1)
        elif how < 6:
            r.button()
        elif how < 7:
            r.remote("unlock")
        else:
            r.turn("unlock", g.between(300, 900))
            self.n["hand_ops"] += 1
        if how < 7 and self._maybe_interfere():
            disturbed = True
        r.advance(2500)
        r.unjam()
        if not self._check("unlock", UNLOCKED, disturbed):
            # try again as a person would: the card, or the knob by hand
            if g.below(2):
                r.card(0)
            else:
                r.turn("unlock", 600)
            r.advance(2500)
            self._check("unlock-retry", UNLOCKED, False)

    def lock(self):
        r, g = self.r, self.g
        how = g.below(10)
        disturbed = how < 9 and self._maybe_jam()
        if how < 5:  # walk through; the door auto-locks 3 s after it closes
            r.advance(g.between(200, 1500))
            if r.open():
                self.n["passages"] += 1
                r.advance(g.between(1000, 4000))
                r.close()
                if g.below(50) == 0:  # pulled open again just as the auto-lock starts
                    r.advance(3000 + g.between(0, 150))
                    if r.open():
                        self.n["door_reopened"] += 1
                        r.advance(g.between(500, 2000))
                        r.close()
            r.advance(5000)
        elif how < 7:  # nobody opens it: the relock after relock_ms (10 s)
            r.advance(11500)
        elif how < 9:  # the button only unlocks, so a deliberate lock is remote (or by hand)
            r.remote("lock")
        else:
            r.turn("lock", g.between(300, 900))
            self.n["hand_ops"] += 1
        if 7 <= how < 9 and self._maybe_interfere():
            disturbed = True
        r.advance(2500)
        r.unjam()
        if not self._check("lock", LOCKED, disturbed):
            if g.below(2):
                r.remote("lock")
            else:
                r.turn("lock", 600)
            r.advance(2500)
            self._check("lock-retry", LOCKED, False)

    def partial_turn(self):
        """Someone turns the locked knob part way (far enough to pull the bolt, short of the unlock
        end) and lets go. With auto-lock on, the lock should be locked again within relock_ms."""
        r, g = self.r, self.g
        self.n["partial_turns"] += 1
        f, ms = g.between(55, 85), g.between(300, 700)
        r.trail.append("%d (a hand turns the knob %d%% of the way toward unlock over %d ms, lets go)" % (r.now, f, ms))
        r.turn(f / 100.0, ms)
        r.advance(12000)
        self._check("partial-turn", LOCKED, False)

    def run(self, cycles):
        r = self.r
        for i in range(cycles):
            self.cycle = i
            del r.trail[:]
            self.unlock()
            self.lock()
            if self.partial and self.g.below(500) == 0:
                self.partial_turn()
            r.advance(self.g.between(100, 3000))


def run(runner_name, cycles, seed, tick=50, partial=True):
    runner = CoreRunner(tick) if runner_name == "core" else BoardRunner(seed)
    e = Endurance(runner, seed, partial)
    t0 = time.perf_counter()
    e.run(cycles)
    wall = time.perf_counter() - t0
    r = e.r
    return {
        "runner": runner_name + ("" if runner_name != "core" else " (MiniDoor, %d ms samples)" % tick),
        "cycles": cycles,
        "seed": seed,
        "wall_s": wall,
        "cycles_per_s": cycles / wall,
        "virtual_days": r.now / 86400000.0,
        "motor_moves": r.moves,
        "stuck": e.stuck_count,
        "stuck_by_check": e.stuck_by,
        "stuck_examples": e.stuck,
        "injected": e.n,
        "logs": dict((LOG_NAMES[k], v) for k, v in sorted(r.logs.items())),
        "jam_records": r.logs.get(LOG_JAM, 0),
        "retry_records": r.logs.get(LOG_RETRY, 0),
        "final_state": state_name(r.core.state),
    }


def report(res):
    print("endurance [%s]: %d cycles (seed %d) in %.1f s = %.0f cycles/s; %.1f virtual days; %d motor moves"
          % (res["runner"], res["cycles"], res["seed"], res["wall_s"], res["cycles_per_s"], res["virtual_days"],
             res["motor_moves"]))
    print("  injected: %s" % ", ".join("%s %d" % kv for kv in sorted(res["injected"].items())))
    print("  log: %s" % ", ".join("%s %d" % kv for kv in res["logs"].items()))
    print("  stuck states: %d %s" % (res["stuck"], res["stuck_by_check"] or ""))
    for cycle, half, what, lines in res["stuck_examples"]:
        print("  STUCK cycle %d (%s): %s\n    %s" % (cycle, half, what, "\n    ".join(lines)))


def main(argv):
    import argparse
    import json
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=400000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--core", action="store_true", help="run on bench/minidoor.py instead of the virtual board")
    ap.add_argument("--tick", type=int, default=50, help="core runner: ms between position samples")
    ap.add_argument("--no-partial", action="store_true", help="leave out the part-way hand turns")
    a = ap.parse_args(argv)
    name = "core" if a.core else "board"
    cycles = a.cycles
    res = run(name, cycles, a.seed, a.tick, not a.no_partial)
    res["command"] = "bench/endurance.py " + " ".join(argv)
    report(res)
    print("RESULT " + json.dumps(res))
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
