"""A simulated 30-day office on the virtual board: the real drivers and firmware/lockshell/app.py against the
simulated motor, knob, door and button (sim/board.py's VirtualDoor), in fast-forwarded virtual time.

    .venv/bin/python bench/office.py [--seed 1] [--days 30] [--staff 150]

The month starts on a Monday: 22 workdays, 8 weekend days, auto-lock on throughout. The installer
auto-calibrates the lock first. Workdays: staff arrive 7:15-10:00 (card or phone tap, then through
the door), go out and come back during the day (coffee, smoke, meetings: out by the inside button,
some by turning the knob by hand; back by card) with extra traffic at lunch, and leave 16:00-19:30
(the button, or their card on the inside reader while the button is disabled: week 3 the admin
turns button_unlock off). Now and then: a stranger's card (denied), a tap without going in (the
10 s relock), a delivery that holds the door open past the 60 s alarm. Evenings a cleaner, nights a
guard round, weekends a few people. Jams, a few a week: an obstruction that fails one motor attempt
(the retry gets there) or the whole move (JAMMED, alarm; it clears after a couple of seconds and the
next person, or whoever comes to look 2-6 min later, deals with it). A few times a week someone
leaves turning the knob only part way (far enough to pull the bolt). People come one at a time; one
who arrives while the previous person is still at the door waits 1-4 s and, if the bolt is still
retracted, just pulls the door ("caught_door"); otherwise taps / presses as usual.

Checked throughout: before each episode that follows at least QUIET_MS of quiet, the lock must be
settled (motor off, not moving or calibrating) and LOCKED with the knob at the lock end and the
door closed, unless a jam alarm is still open; anything else is a stuck state (0 expected), counted
by the kind of episode before it. At the end: the lock locked after the last departure, nothing
moving, no alarm.
"""
import heapq
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, ROOT)
import doorkit  # noqa: E402,F401

from lockctl.codes import (  # noqa: E402
    LOCKED, JAMMED, LOG_JAM, LOG_JAM_CLEAR, LOG_RETRY, LOG_REFUSED, LOG_ABORT,
    LOG_DENIED, LOG_LOCK, LOG_UNLOCK, LOG_DOOR_CLOSE,
)
from lockctl.record import format_record, STATE_NAMES, LOG_NAMES, state_name  # noqa: E402
from minidoor import knob_zone  # noqa: E402

DAY = 86400000
HOUR = 3600000
MIN = 60000
QUIET_MS = 20000
DETAIL = (LOG_REFUSED, LOG_ABORT, LOG_RETRY, LOG_JAM, LOG_DENIED, LOG_LOCK, LOG_UNLOCK)


def hm(h, m=0):
    return h * HOUR + m * MIN


PARTS = ("weekday 00-07", "weekday 07-11", "weekday 11-14", "weekday 14-19", "weekday 19-24", "weekend")


def part_of_week(t):
    if (t // DAY) % 7 >= 5:
        return PARTS[5]
    h = (t % DAY) // HOUR
    return PARTS[0 if h < 7 else 1 if h < 11 else 2 if h < 14 else 3 if h < 19 else 4]


# ---------------------------------------------------------------------- the month's schedule
def schedule(seed, days, staff):
    """[(t_ms, kind, who)] for the whole month, sorted. who: a staff index or None."""
    rnd = random.Random("office:%s" % seed)
    ev = []

    def add(t, kind, who=None):
        ev.append((int(t), kind, who))

    def around(mu_h, sigma_min, lo_h, hi_h):
        t = rnd.gauss(mu_h * HOUR, sigma_min * MIN)
        return min(max(t, lo_h * HOUR), hi_h * HOUR)

    for day in range(days):
        base = day * DAY
        weekend = day % 7 >= 5
        if weekend:
            for _ in range(rnd.randint(0, 4)):  # a few people drop by for a while
                who = rnd.randrange(staff)
                t = base + rnd.randint(hm(9), hm(16))
                add(t, "in", who)
                add(t + rnd.randint(30 * MIN, 4 * HOUR), "out", who)
        else:
            for who in range(staff):
                if rnd.random() < 0.08:
                    continue  # away today
                t_in = base + around(8.6, 35, 7.25, 10)
                t_out = base + around(17.4, 45, 16, 19.5)
                add(t_in, "in", who)
                add(t_out, "out", who)
                if rnd.random() < 0.6:  # lunch out
                    t = base + around(12.4, 25, 11.6, 13.8)
                    add(t, "exit", who)
                    add(t + rnd.randint(20 * MIN, 65 * MIN), "back", who)
                for _ in range(rnd.choice((0, 1, 2, 2, 3, 3, 4))):  # coffee, smoke, meetings
                    t = base + rnd.randint(hm(9, 30), hm(16))
                    add(t, "exit", who)
                    add(t + rnd.randint(3 * MIN, 30 * MIN), "back", who)
                if rnd.random() < 0.02:
                    add(base + rnd.randint(hm(8), hm(18)), "tap_only", who)
            for _ in range(rnd.randint(0, 3)):
                add(base + rnd.randint(hm(8), hm(18)), "stranger")
            for _ in range(rnd.randint(0, 2)):
                add(base + rnd.randint(hm(9), hm(16)), "delivery", rnd.randrange(staff))
            if rnd.random() < 0.3:  # leaves turning the knob only part way (enough to pull the bolt)
                add(base + rnd.randint(hm(9), hm(18)), "half_turn", rnd.randrange(staff))
            add(base + rnd.randint(hm(19), hm(20, 30)), "cleaner")
        add(base + rnd.randint(hm(22), hm(23, 59)), "guard")
        add(base + rnd.randint(hm(2), hm(4)), "guard")
        # jams: a few a week, on the next unlock or the next auto-lock after that time
        if rnd.random() < 0.5:
            add(base + rnd.randint(hm(8), hm(18)), rnd.choice(("jam_retry_unlock", "jam_retry_lock")))
        if rnd.random() < 0.2:
            add(base + rnd.randint(hm(8), hm(18)), rnd.choice(("jam_full_unlock", "jam_full_lock")))
    ev.sort(key=lambda e: (e[0], e[1]))
    return ev


# ---------------------------------------------------------------------- the people at the door
class Office:
    def __init__(self, seed, days, staff):
        from sim.board import VirtualDoor
        self.rnd = random.Random("people:%s" % seed)
        self.days = days
        self.staff = staff
        self.cards = [("iso14443a" if i % 5 else "phone", "%08X" % (0x04A10000 + i * 7919)) for i in range(staff)]
        keys = [(k, ident, "u%03d" % i) for i, (k, ident) in enumerate(self.cards)]
        keys.append(("iso14443a", "C1EA0001", "cleaner"))
        keys.append(("iso14443a", "6A4D0001", "guard"))
        self.d = VirtualDoor.calibrated(seed=seed, keys=keys, keep_records=False)
        self.d.on_record = self._rec
        self.logs = {}
        self.detail = {}  # "REFUSED door-open" -> count, for the codes in DETAIL
        self.last = {LOG_DOOR_CLOSE: -1, LOG_LOCK: -1}  # time of the last such record
        self.cause = {}  # "JAM injected" / "JAM hand" / "RETRY ..." -> count
        self.queued = False  # this person came while the one before was still at the door
        self.n = {"passages": 0, "card_taps": 0, "button_presses": 0, "manual_turns": 0, "door_opened": 0,
                  "door_closed": 0, "bolt_out_on_close": 0, "jams_injected_retry": 0, "jams_injected_full": 0,
                  "failed_entries": 0, "stuck": 0, "checks": 0, "queued": 0, "caught_door": 0, "half_turns": 0,
                  "jam_responses": 0}
        self.stuck = []
        self.by_time = dict((k, 0) for k in PARTS)
        self.stuck_after = {}  # kind of the episode before the failed check -> count
        self.last_kind = None
        self.jam_open = False  # a JAM logged and not cleared yet
        self.pending_jam = None  # ("retry" | "full", "unlock" | "lock"): for the next such move
        self.unjam_on = None  # log code that ends the injected jam
        self.last_busy = 0  # virtual time the last episode ended

    def _rec(self, rec):
        code = rec[1]
        self.logs[code] = self.logs.get(code, 0) + 1
        if code in DETAIL:
            k = " ".join(format_record(rec).split()[1:3])  # NAME and its argument, as text
            self.detail[k] = self.detail.get(k, 0) + 1
        if code == LOG_DOOR_CLOSE or code == LOG_LOCK:
            self.last[code] = rec[0]
        if code == LOG_JAM or code == LOG_RETRY:
            # an injected obstruction, or a hand on the knob while the motor turned it
            k = "%s %s" % (LOG_NAMES[code], "injected" if self.d.world.jammed else "hand")
            self.cause[k] = self.cause.get(k, 0) + 1
        if code == LOG_JAM:
            self.jam_open = True
            # whoever hears the alarm comes to look in a few minutes
            self.d.schedule(self.d.now + self.rnd.randint(2 * MIN, 6 * MIN), self._respond)
        elif code == LOG_JAM_CLEAR:
            self.jam_open = False
        if code == self.unjam_on:
            self.unjam_on = None
            self.d.schedule(self.d.now + (0 if code == LOG_RETRY else 2000), self.d.unjam)

    def _respond(self):
        # runs inside VirtualDoor.run_until (a scheduled call): start the turn, do not advance time
        if self.jam_open and self.d.core.state == JAMMED and not self.d.world.door_open:
            self.n["manual_turns"] += 1
            self.n["jam_responses"] += 1
            self.d.turn("lock", 700)  # the bolt is stuck out of place: turn it home by hand

    # --- primitives
    def arm_jam(self, move):
        if self.pending_jam is not None and self.pending_jam[1] == move:
            kind = self.pending_jam[0]
            self.pending_jam = None
            self.d.jam(None, None)
            self.unjam_on = LOG_RETRY if kind == "retry" else LOG_JAM
            self.n["jams_injected_" + kind] += 1

    def tap(self, cred):
        self.arm_jam("unlock")
        self.n["card_taps"] += 1
        self.d.card(*cred)

    def press(self):
        self.arm_jam("unlock")
        self.n["button_presses"] += 1
        self.d.press_button(self.rnd.randint(80, 250))

    def turn(self, where):
        """Turn the knob all the way by hand; returns when the hand lets go."""
        self.n["manual_turns"] += 1
        ms = self.rnd.randint(400, 900)
        self.d.turn(where, ms)
        self.d.advance(ms)

    def wait(self, lo, hi):
        self.d.advance(self.rnd.randint(lo, hi))

    def go_through(self, hold=(1500, 5000)):
        """Pull the door (trying for up to 4 s), walk through, let it close behind."""
        d = self.d
        for _ in range(16):
            if d.open_door():
                break
            d.advance(250)
        else:
            return False
        self.n["door_opened"] += 1
        self.wait(*hold)
        tries = 0
        while not d.close_door():  # the bolt is out (it was locking as the door opened)
            tries += 1
            if tries == 1:
                self.n["bolt_out_on_close"] += 1
                self.turn("unlock")  # turn the knob back by hand, then close
            elif tries > 20:
                raise RuntimeError("door cannot close at t=%d: %s" % (d.now, d.status()))
            d.advance(1000)
        self.n["door_closed"] += 1
        self.n["passages"] += 1
        self.by_time[part_of_week(d.now)] += 1
        self.arm_jam("lock")  # the auto-lock follows in 3 s
        return True

    def catch_door(self, hold=(1500, 5000)):
        """Right behind someone: pull the door before it auto-locks, if it still opens."""
        if self.queued and not self.d.world.bolt_thrown():
            self.n["caught_door"] += 1
            return self.go_through(hold)
        return False

    def enter(self, cred):
        """Tap, go in; if the lock does not open, tap again, then ask someone inside."""
        if self.catch_door():
            return
        for attempt in range(3):
            self.tap(cred)
            self.wait(500, 1500)
            if self.go_through():
                return
            self.wait(2000, 5000)
        self.n["failed_entries"] += 1
        self.turn("unlock")  # a colleague inside opens it by hand
        self.wait(200, 800)
        self.go_through()

    def leave(self, cred=None, hold=(1500, 5000)):
        if self.catch_door(hold):
            return
        d = self.d
        if self.rnd.random() < 0.08:
            self.turn("unlock")
            self.wait(100, 600)
        elif d.core.cfg["button_unlock"]:
            self.press()
            self.wait(600, 1500)
        else:
            self.tap(cred)
            self.wait(500, 1500)
        if not self.go_through(hold):
            self.turn("unlock")
            self.wait(200, 800)
            self.go_through(hold)

    # --- episodes
    def episode(self, kind, who):
        rnd = self.rnd
        cred = self.cards[who] if who is not None else None
        if kind in ("in", "back"):
            self.enter(cred)
        elif kind in ("out", "exit"):
            self.leave(cred)
        elif kind == "tap_only":  # taps, then turns away: the lock relocks after 10 s
            self.tap(cred)
        elif kind == "half_turn":
            self.n["half_turns"] += 1
            self.n["manual_turns"] += 1
            self.d.turn(self.rnd.uniform(55, 75), 500)
            self.d.advance(500)
            self.wait(100, 600)
            self.go_through()
        elif kind == "stranger":
            self.tap(("iso14443a", "%08X" % rnd.randrange(1 << 32)))
        elif kind == "delivery":  # someone lets a courier in: the door stays open past the alarm
            self.leave(cred, hold=(65000, 150000))
        elif kind == "cleaner":
            self.enter(("iso14443a", "C1EA0001"))
            self.push(self.d.now + rnd.randint(HOUR, 2 * HOUR), "leave_cleaner")
        elif kind == "guard":
            self.enter(("iso14443a", "6A4D0001"))
            self.wait(3 * MIN, 10 * MIN)
            self.leave(("iso14443a", "6A4D0001"))
        elif kind.startswith("jam_"):
            self.pending_jam = tuple(kind[4:].split("_"))
        elif kind == "button_off":
            self.d.configure(button_unlock=False)
        elif kind == "button_on":
            self.d.configure(button_unlock=True)
        elif kind == "leave_cleaner":
            self.leave(("iso14443a", "C1EA0001"))

    def push(self, t, kind, who=None):
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, who))

    # --- checks
    def check(self, where):
        d = self.d
        core, w = d.core, d.world
        self.n["checks"] += 1
        st = core.state
        if w.direction != 0:
            what = "motor running"
        elif st == JAMMED and self.jam_open:
            return
        elif st != LOCKED:
            what = "state %s" % STATE_NAMES[st]
        elif knob_zone(w.counts_at(w.now), core) != "lock":
            what = "locked with the knob at %.1f deg" % w.angle
        elif w.door_open:
            what = "door open"
        else:
            return
        self.n["stuck"] += 1
        self.stuck_after[self.last_kind] = self.stuck_after.get(self.last_kind, 0) + 1
        if self.stuck_after[self.last_kind] <= 2:
            self.stuck.append("before %s at t=%d (day %d), after a %s episode: %s; last log: %s"
                              % (where, d.now, d.now // DAY, self.last_kind, what,
                                 " | ".join(format_record(r) for r in d.app.log[-5:])))

    def run(self, seed):
        d = self.d
        evs = schedule(seed, self.days, self.staff)
        # week 3: the admin disables the inside button (departures use the inside card reader)
        if self.days > 19:
            evs.append((14 * DAY + hm(7), "button_off", None))
            evs.append((19 * DAY + hm(7), "button_on", None))
        self.heap = heap = [(t, i, k, w) for i, (t, k, w) in enumerate(evs)]
        heapq.heapify(heap)
        self.seq = len(heap)
        self.episodes = 0
        while heap:
            t, _, kind, who = heapq.heappop(heap)
            self.queued = t < d.now and not kind.startswith(("jam_", "button_"))
            if t > d.now:
                d.run_until(t)  # jam responders (VirtualDoor.schedule callbacks) run in here
            if self.queued:
                self.n["queued"] += 1
                d.advance(self.rnd.randint(1000, 4000))  # waited for the person before them
            if kind.startswith("jam_") or kind.startswith("button_"):
                self.episode(kind, who)
                continue
            if d.now - self.last_busy >= QUIET_MS:
                self.check(kind)
            self.episode(kind, who)
            self.episodes += 1
            self.last_busy = d.now
            self.last_kind = kind
        end = self.days * DAY
        if d.now < end:
            d.run_until(end)
        d.advance(60000)
        self.check("end of month")


def run(seed=1, days=30, staff=150):
    t0 = time.perf_counter()
    o = Office(seed, days, staff)
    o.run(seed)
    wall = time.perf_counter() - t0
    d = o.d
    core, w = d.core, d.world
    b = d.board
    sane = (core.state == LOCKED and w.direction == 0 and not b.motor.running and not w.door_open
            and not core.alarm and not b.door.settling and not b.button.settling
            and o.last[LOG_LOCK] > o.last[LOG_DOOR_CLOSE])  # locked after the last one left
    n = o.n
    door_events = n["door_opened"] + n["door_closed"]
    return {
        "seed": seed, "days": days, "staff": staff,
        "wall_s": wall,
        "virtual_days_per_s": days / wall,
        "episodes": o.episodes,
        "passages": n["passages"],
        "door_events": door_events,
        "interactions": door_events + n["card_taps"] + n["button_presses"] + n["manual_turns"],
        "counts": n,
        "passages_by_time": o.by_time,
        "logs": dict((LOG_NAMES[k], v) for k, v in sorted(o.logs.items())),
        "log_detail": dict(sorted(o.detail.items())),
        "jam_causes": dict(sorted(o.cause.items())),
        "log_records": d.record_count,
        "jams": o.logs.get(LOG_JAM, 0),
        "retries": o.logs.get(LOG_RETRY, 0),
        "stuck": n["stuck"],
        "stuck_after": o.stuck_after,
        "stuck_examples": o.stuck,
        "polls": d.polls,
        "final": {"state": state_name(core.state), "motor": w.direction, "door_open": w.door_open, "alarm": core.alarm,
                  "angle": round(w.angle, 1), "legs": (w.pwm_a.duty_u16(), w.pwm_b.duty_u16())},
        "final_sane": sane,
        "last_log": [format_record(r) for r in d.app.log[-4:]],
        "flash": flash_figures(d),
    }


def flash_figures(d):
    """What the month did to the simulated flash (the event log and tally): appends, programs,
    erases per 100 records, records dropped by the full ring (nothing is acknowledged here)."""
    log, dev = d.storage.log, d.flash.dev
    appended = d.app.sinks[0].appended if d.app.sinks else 0
    for s in d.app.sinks:
        if hasattr(s, "appended"):
            appended = s.appended
    return {"records_on_flash": appended, "bytes_per_record": 20, "programs": dev.programs,
            "erases": dev.erases, "erases_per_100_records": round(100.0 * dev.erases / max(1, appended), 3),
            "ring_capacity": log.capacity, "dropped": log.dropped, "max_block_wear": max(dev.wear)}


def report(r):
    print("office: %d days, %d staff (seed %d) in %.2f s on CPython = %.1f virtual days/s"
          % (r["days"], r["staff"], r["seed"], r["wall_s"], r["virtual_days_per_s"]))
    print("  %d episodes, %d passages, %d door events (opened+closed), %d interactions (door events + taps + "
          "presses + turns), %d App polls" % (r["episodes"], r["passages"], r["door_events"], r["interactions"],
                                               r["polls"]))
    print("  counts: %s" % ", ".join("%s %d" % kv for kv in sorted(r["counts"].items())))
    print("  passages by time: %s" % ", ".join("%s %d" % kv for kv in r["passages_by_time"].items()))
    print("  %d log records: %s" % (r["log_records"], ", ".join("%s %d" % kv for kv in r["logs"].items())))
    print("  by argument: %s" % ", ".join("%s %d" % kv for kv in r["log_detail"].items()))
    print("  JAM/RETRY causes: %s" % ", ".join("%s %d" % kv for kv in r["jam_causes"].items()))
    print("  jams (JAM records) %d, retries %d, stuck states %d %s" % (r["jams"], r["retries"], r["stuck"],
                                                                    r["stuck_after"] or ""))
    for s in r["stuck_examples"]:
        print("  STUCK " + s)
    print("  final: %s -> %s; last log: %s" % (r["final"], "sane" if r["final_sane"] else "NOT SANE",
                                                " | ".join(r["last_log"])))
    f = r["flash"]
    print("  flash: %d records appended (20 B each), %d programs, %d erases = %.3f erases per 100 records; "
          "ring holds %d, dropped %d unacknowledged (oldest first); max erases of one block %d"
          % (f["records_on_flash"], f["programs"], f["erases"], f["erases_per_100_records"], f["ring_capacity"],
             f["dropped"], f["max_block_wear"]))


def main(argv):
    import argparse
    import json
    ap = argparse.ArgumentParser(description="30-day office on the virtual board")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--staff", type=int, default=150)
    a = ap.parse_args(argv)
    r = run(a.seed, a.days, a.staff)
    r["command"] = "bench/office.py " + " ".join(argv)
    report(r)
    print("RESULT " + json.dumps(r))
    return r


if __name__ == "__main__":
    main(sys.argv[1:])
