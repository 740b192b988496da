# lockshell.app.run(), the board's asyncio loop, with an injected clock: ticks wrap, the App's clock
# is rebased, it sleeps until the next deadline (capped at idle_ms) when nothing moves, polls every
# period_ms while something does, and reports faults while it keeps serving. Runs on both runtimes.
import asyncio

from apprig import Rig, LOCK, UNLOCK
from fakes import VirtualClock
from lockshell.app import run, IDLE_MS, PERIOD_MS
from lockctl.record import format_record
from lockctl.codes import UNLOCKED

MP_HEAP = "96wK"  # the whole firmware shell: App + core + every driver (tests/conftest.py)


class Clock(VirtualClock):
    async def sleep_ms(self, ms):
        self.t += ms
        await asyncio.sleep(0)


def test_asyncio_loop_with_injected_clock_and_fault_handling():
    r = Rig(config={"auto_lock": False})
    clock = Clock(0x3FFFFFFF - 500)  # start just before the tick counter wraps
    app = r.app
    app.core = None  # run() boots it again from the store
    app.log = []
    r.button_pin.set(0)
    # rebase every 300 ms here (every 6.2 days on the board): the log keeps absolute times and the
    # debouncer and jam timer run on across each rebase
    asyncio.run(run(app, clock.ticks_ms, clock.ticks_diff, clock.sleep_ms, 10, 200, 300))
    assert app._epoch == 1800 and app.core.now < 300
    # press seen at 0, stable at 30 -> drive; the bolt never arrives: the 1.5 s jam bound expires at
    # 1530, long after the tick counter wrapped at about 500
    assert [format_record(x) for x in app.log] == ["0 BOOT locked", "1530 RETRY timeout"]
    assert app.core.motor == 1
    # a fault inside the core brakes the motor, is logged, and the loop keeps serving (see also
    # test_app_faults.py)
    def boom(*a):
        raise RuntimeError("injected")
    app.core.handle = boom
    r.set_pos(UNLOCK)
    app.poll(app.core.now + 10)
    assert app.faults == 1 and r.legs() == (65535, 65535)
    assert format_record(app.log[-2]).endswith("FAULT core position") and app.core.state == UNLOCKED


def test_rebase_in_the_middle_of_a_debounce_and_a_move():
    r = Rig(config={"auto_lock": False})
    r.run_to(290)
    r.button_pin.set(0)  # pressed at 290: stable at 320
    r.run_to(300)
    r.app.rebase(300)  # the clock the App is given moves back by 300
    t = 0
    while t < 100:
        t += 5
        r.app.poll(t)
    r.button_pin.set(1)
    assert r.lines() == ["0 BOOT locked"] and r.app.board.motor.direction == 1  # pressed at 320 absolute
    r.set_pos(UNLOCK)
    r.app.poll(110)
    assert r.lines() == ["0 BOOT locked", "410 UNLOCK button"]


def test_run_sleeps_until_the_next_deadline_when_idle_capped_at_idle_ms():
    # booted unlocked with the door shut: the relock is due at 10025 (relock_ms); nothing else moves
    r = Rig(pos=UNLOCK, config={"relock_ms": 10025})
    clock = Clock()
    polls = []
    poll = r.app.poll

    def counting(now):
        polls.append(now)
        poll(now)
    r.app.poll = counting
    r.app.core = None
    asyncio.run(run(r.app, clock.ticks_ms, clock.ticks_diff, clock.sleep_ms, rounds=230))
    # idle: one poll every IDLE_MS; then exactly at the deadline; then every PERIOD_MS while moving
    assert polls[:4] == [0, IDLE_MS, 2 * IDLE_MS, 3 * IDLE_MS]
    assert 10025 in polls and 10025 - IDLE_MS < polls[polls.index(10025) - 1] < 10025
    after = polls[polls.index(10025):]
    assert after[1] - after[0] == PERIOD_MS and after[2] - after[1] == PERIOD_MS  # the motor runs
    assert r.legs() == (0, 65535)


def test_idle_polls_before_and_after():
    # the same idle 10 minutes polled the old way (every 10 ms) and the new way (deadline, capped);
    # bench/idle.py reports the figures per idle hour, with the reader polling too
    counts = []
    for idle in (PERIOD_MS, IDLE_MS):
        r = Rig(pos=LOCK)
        clock = Clock()
        r.app.core = None  # run() boots it again
        r.app.log = []
        r.app.polls = 0
        asyncio.run(run(r.app, clock.ticks_ms, clock.ticks_diff, clock.sleep_ms, rounds=600000 // idle, idle_ms=idle))
        assert clock.t == 600000 and r.lines() == ["0 BOOT locked"]  # nothing happened
        counts.append(r.app.polls)
    assert counts == [60000, 12000], counts  # the door, button and knob are still sampled every 50 ms
