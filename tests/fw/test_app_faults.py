# Fail secure on a fault (runs on both runtimes): an exception injected into every event handler of
# the core (before it does anything, and after it has half done its work), into carrying out the
# actions and into reading an input. Each time the motor is braked at once and coasts BRAKE_MS
# later (the knob turns by hand), FAULT is logged, the core is rebuilt from the store and the sensors
# exactly as a boot would build it, nothing moves, and the lock goes on serving the button and the
# knob. The store stays whole, so the board boots again from it.
from apprig import Rig, LOCK, UNLOCK, CARD
from lockshell.app import App, run, BRAKE_MS, FAULT_QUIET_MS
from lockctl.core import LockCore
from lockctl.record import format_record
from lockctl.codes import (EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE, EV_CONFIG,
                           EV_CALIBRATE, EV_READER, LOG_FAULT, LOG_BOOT, F_CORE, F_ACTION, F_POLL)

MP_HEAP = "96wK"  # the whole firmware shell: App + core + every driver (tests/conftest.py)

FULL = 65535


def _to_lock(r):
    # unlocked, door shut, relock_on_boot off: a remote lock starts a move toward the lock end
    r.app.submit(r.t, EV_REMOTE, ("lock", "admin"))


def _unlocking(r):
    r.app.submit(r.t, EV_CREDENTIAL, (CARD, "04A1B2C3"))


def _poll(r):
    r.run_to(r.t + 5, 5)


# handler name, event kind it serves, start position, door open, setup(rig), trigger(rig)
CASES = (
    ("_on_position", EV_POSITION, LOCK, False, _unlocking, lambda r: (r.set_pos(2000), _poll(r))),
    ("_on_timer", EV_TIMER, UNLOCK, False, None, lambda r: r.run_to(10000, 5)),
    ("_on_door_open", EV_DOOR, UNLOCK, False, _to_lock, lambda r: (r.door_pin.set(1), r.run_to(r.t + 40, 5))),
    ("_on_door_close", EV_DOOR, UNLOCK, True, None, lambda r: (r.door_pin.set(0), r.run_to(r.t + 40, 5))),
    ("_on_button", EV_BUTTON, LOCK, False, None, lambda r: (r.button_pin.set(0), r.run_to(r.t + 40, 5),
                                                           r.button_pin.set(1), r.run_to(r.t + 5, 5))),
    ("_on_stall", EV_STALL, LOCK, False, _unlocking, lambda r: (setattr(r.current, "value", 60000),
                                                                  r.run_to(r.t + 300, 5))),
    ("_on_credential", EV_CREDENTIAL, LOCK, False, None,
     lambda r: r.app.submit(r.t, EV_CREDENTIAL, (CARD, "04A1B2C3"))),
    ("_on_remote", EV_REMOTE, LOCK, False, None, lambda r: r.app.submit(r.t, EV_REMOTE, ("unlock", "admin"))),
    ("_on_config", EV_CONFIG, LOCK, False, None, lambda r: r.app.submit(r.t, EV_CONFIG, {"auto_lock_ms": 5000})),
    ("_on_reader", EV_READER, LOCK, False, None, lambda r: r.app.submit(r.t, EV_READER, -3)),
    ("_on_calibrate", EV_CALIBRATE, LOCK, False, None, lambda r: r.app.submit(r.t, EV_CALIBRATE, "auto")),
)


class Injected(Exception):
    pass


def _inject(core, name, half_done):
    original = getattr(core, name)

    def broken(*args):
        if half_done:
            original(*args)  # the handler does its work (state changed, actions pending) ...
        raise Injected(name)  # ... and then fails
    setattr(core, name, broken)


def _count_drives(r):
    motor = r.app.board.motor
    drive = motor.drive
    r.drives = []

    def counting(direction, now):
        r.drives.append((r.t, direction))
        drive(direction, now)
    motor.drive = counting


def _fresh_state(r):
    """The state a boot from the same store and sensors gives."""
    cfg, cal = r.store.load()
    c = LockCore(cfg, cal)
    c.boot(0, r.app.board.position.read(), r.app.board.door.value)
    return c.state


def _check_fail_secure(r, kind, running, code=F_CORE):
    app = r.app
    assert app.faults == 1, (kind, app.faults)
    recs = app.log
    i = [k for k in range(len(recs)) if recs[k][1] == LOG_FAULT]
    assert len(i) == 1, [format_record(x) for x in recs]
    k = i[0]
    assert recs[k][2] == (code, kind), format_record(recs[k])
    assert recs[k + 1][1] == LOG_BOOT  # the core was rebuilt, as at boot
    assert app.core.state == _fresh_state(r), (app.core.state, _fresh_state(r))
    # a running motor is braked at once; an idle one is left coasting (no stiff knob)
    assert r.legs() == ((FULL, FULL) if running else (0, 0)), (kind, running, r.legs())
    n = len(r.drives)
    r.run_to(r.t + BRAKE_MS + 10, 5)
    assert r.legs() == (0, 0)  # then coasting: the knob turns by hand
    r.run_to(r.t + 5000, 5)
    assert len(r.drives) == n and r.legs() == (0, 0)  # nothing moves by itself


def _serves_button_and_knob(r):
    # the button unlocks (serving egress) ...
    r.button_pin.set(0)
    r.run_to(r.t + 100, 5)
    r.button_pin.set(1)
    r.set_pos(UNLOCK)
    r.run_to(r.t + 200, 5)
    assert r.lines()[-1].endswith("UNLOCK button"), r.lines()[-3:]
    # ... and a hand turn to the lock end is seen (the motor coasts: no stiff knob)
    r.run_to(r.t + 300, 5)
    r.set_pos(LOCK)
    r.run_to(r.t + 100, 5)
    assert r.lines()[-1].endswith("MANUAL_LOCK") and r.legs() == (0, 0), r.lines()[-3:]
    # the store is whole: the board boots from it again
    again = App(r.app.board, r.store, r.app.keys)
    again.start(r.t)
    assert format_record(again.log[0]).endswith("BOOT locked")


def test_a_fault_in_every_core_handler_fails_secure():
    for name, kind, pos, door_open, setup, trigger in CASES:
        for half_done in (False, True):
            r = Rig(pos=pos, door_open=door_open, config={"relock_on_boot": name == "_on_timer",
                                                          "held_open_ms": 0})
            _count_drives(r)
            r.run_to(100, 5)
            if setup is not None:
                setup(r)
                r.run_to(r.t + 50, 5)
            _inject(r.app.core, name, half_done)
            running = r.app.board.motor.running
            trigger(r)
            _check_fail_secure(r, kind, running)
            if door_open or r.door_pin.level:
                r.door_pin.set(0)
                r.run_to(r.t + 100, 5)
            _serves_button_and_knob(r)


def test_a_fault_carrying_out_the_actions_fails_secure():
    r = Rig(config={"relock_on_boot": False})
    _count_drives(r)
    store = r.store
    save = store.save

    def broken_save(what, data):
        raise OSError(28)  # ENOSPC: the flash is full
    store.save = broken_save
    r.app.submit(100, EV_CONFIG, {"auto_lock_ms": 5000})
    r.t = 100
    _check_fail_secure(r, EV_CONFIG, False, F_ACTION)
    assert r.app.core.cfg["auto_lock_ms"] == 3000  # rebuilt from the store: the change did not stick
    store.save = save
    _serves_button_and_knob(r)


def test_a_fault_reading_an_input_fails_secure_and_repeats_quietly():
    r = Rig(config={"relock_on_boot": False})
    _count_drives(r)
    r.run_to(100, 5)
    r.button_pin.set(0)  # unlocking ...
    r.run_to(200, 5)
    r.button_pin.set(1)
    assert r.app.core.motor == 1
    pos = r.app.board.position
    read = pos.read

    def broken_read():
        raise OSError(5)  # EIO: the ADC went away
    pos.read = broken_read
    r.run_to(205, 5)  # ... when the position sensor fails
    app = r.app
    assert app.faults >= 1 and r.legs() == (FULL, FULL)
    recs = [x for x in app.log if x[1] == LOG_FAULT]
    assert len(recs) == 1 and recs[0][2] == (F_POLL, EV_POSITION)  # the position port's input failed
    # it keeps failing on every poll: counted, logged again only after FAULT_QUIET_MS; nothing
    # moves and the motor is not braked again (the knob stays free to turn by hand)
    r.run_to(205 + FAULT_QUIET_MS - 10, 5)
    assert len([x for x in app.log if x[1] == LOG_FAULT]) == 1 and app.faults > 100
    assert len(r.drives) == 1 and r.legs() == (0, 0) and app.core.motor == 0
    r.run_to(205 + FAULT_QUIET_MS + 10, 5)
    assert len([x for x in app.log if x[1] == LOG_FAULT]) == 2
    pos.read = read  # repaired
    r.run_to(r.t + 100, 5)
    f = app.faults
    _serves_button_and_knob(r)
    assert app.faults == f


def test_a_sink_that_raises_never_stops_the_lock_or_the_loop():
    import asyncio
    from fakes import VirtualClock
    r = Rig(pos=UNLOCK, door_open=False, config={"relock_on_boot": False, "held_open_ms": 2000})

    def broken_sink(rec):
        raise OSError(28)
    r.app.sinks.append(broken_sink)
    clock = VirtualClock()

    async def sleep_ms(ms):
        clock.t += ms
        if clock.t == 500:
            r.door_pin.set(1)  # open: held open at about 2530, a record every few seconds
        await asyncio.sleep(0)
    r.app.core = None
    r.app.log = []
    asyncio.run(run(r.app, clock.ticks_ms, clock.ticks_diff, sleep_ms, rounds=600))
    assert clock.t > 6000  # the loop ran to the end
    assert r.app.sink_errors >= 3 and r.app.faults == 0  # counted, and not a fault of the lock
    assert [format_record(x).split()[1] for x in r.app.log] == ["BOOT", "DOOR_OPEN", "HELD_OPEN"]


def test_a_fault_that_stops_a_lock_move_short_of_the_end_relocks_later():
    r = Rig(pos=UNLOCK, config={"relock_on_boot": False})
    _count_drives(r)
    r.app.submit(100, EV_REMOTE, ("lock", "admin"))
    r.t = 100
    r.set_pos(2200)  # the bolt is on its way out ...
    r.run_to(150, 5)
    _inject(r.app.core, "_on_position", True)
    r.set_pos(2100)  # ... when the core fails
    r.run_to(155, 5)
    assert r.app.faults == 1 and r.legs() == (FULL, FULL) and r.app.core.state == 3  # UNLOCKED, mid-way
    n = len(r.drives)
    r.run_to(155 + 9990, 5)
    assert len(r.drives) == n  # nothing moves for the relock grace ...
    r.run_to(155 + 10010, 5)
    assert r.drives[-1][1] == -1  # ... then it relocks, as after any unlock
    r.set_pos(LOCK)
    r.run_to(r.t + 20, 5)
    assert r.lines()[-1].endswith("LOCK relock")


def test_an_alarm_and_a_jam_survive_a_fault():
    r = Rig(config={"relock_on_boot": False, "auto_lock": False})
    r.door_pin.set(1)  # forced open while locked: alarm
    r.run_to(100, 5)
    assert r.app.core.alarm
    _inject(r.app.core, "_on_credential", False)
    r.app.submit(r.t, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    assert r.app.faults == 1 and r.app.core.alarm and r.app.signals.alarm  # still sounding
    r.door_pin.set(0)
    r.run_to(r.t + 100, 5)
    assert not r.app.core.alarm and not r.app.signals.alarm  # the door shut: the alarm ends as usual
    # a jam
    r2 = Rig(config={"relock_on_boot": False, "auto_lock": False})
    r2.app.submit(0, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r2.current.value = 60000
    r2.run_to(3000, 5)
    assert r2.app.core.state == 5  # JAMMED
    r2.current.value = 0
    _inject(r2.app.core, "_on_config", False)
    r2.app.submit(r2.t, EV_CONFIG, {"auto_lock_ms": 4000})
    assert r2.app.faults == 1 and r2.app.core.state == 5 and r2.app.core.alarm


def test_a_door_sensor_that_fails_keeps_the_bolt_from_being_thrown_until_it_reads_again():
    r = Rig(pos=UNLOCK, config={"relock_on_boot": False})
    _count_drives(r)
    r.run_to(100, 5)
    r.app.submit(100, EV_CREDENTIAL, (CARD, "04A1B2C3"))  # alice goes out: the relock is due at 10100
    assert r.app.core.deadline(1) == 10100
    door = r.app.board.door
    poll = door.poll

    def broken(now):
        raise OSError(5)
    door.poll = broken
    r.run_to(200, 5)
    recs = [x for x in r.app.log if x[1] == LOG_FAULT]
    assert recs[0][2] == (F_POLL, EV_DOOR) and not r.app.core.door_known
    r.app.submit(r.t, EV_REMOTE, ("lock", "admin"))
    assert r.lines()[-1].endswith("REFUSED door-sensor admin")
    r.run_to(30000, 5)
    r.app.submit(r.t, EV_CREDENTIAL, (CARD, "04A1B2C3"))  # recorded; no relock armed meanwhile
    assert r.lines()[-1].endswith("UNLOCK iso14443a alice") and r.app.core.deadline(1) is None
    r.run_to(60000, 5)
    assert r.drives == []  # no auto-lock, however long the sensor stays dead
    door.poll = poll  # it reads again (the door is shut): the auto-lock follows
    r.run_to(60100, 5)
    assert r.app.core.door_known and not r.app.core.door_open
    r.run_to(63200, 5)
    assert r.drives and r.drives[-1][1] == -1


class _ResyncPort:
    """An extra input port whose resync feeds the rebuilt core an event that faults again."""
    kind = EV_CREDENTIAL

    def poll(self, app, now, tick):
        pass

    def next_deadline(self):
        return None

    def busy(self):
        return False

    def resync(self, app, now):
        app.feed(now, EV_CREDENTIAL, (CARD, "04A1B2C3"))


def test_a_fault_while_a_fault_is_handled_does_not_rebuild_again():
    r = Rig(pos=UNLOCK, config={"relock_on_boot": False})
    r.app.add_port(_ResyncPort())

    def broken(kind, ident, local):
        raise OSError(5)
    r.app.keys.check = broken
    r.run_to(100, 5)
    r.app.submit(100, EV_CREDENTIAL, (CARD, "04A1B2C3"))  # F_CORE; the resync's card faults again
    assert r.app.faults == 2 and r.app.core.cal == (LOCK, UNLOCK) and r.app.core.state == 3
    assert [x[2] for x in r.app.log if x[1] == LOG_FAULT] == [(F_CORE, EV_CREDENTIAL)]
    assert [x[2][0] for x in r.app.log if x[1] == LOG_BOOT] == [3, 3]  # one rebuild, calibrated
    r.button_pin.set(0)
    r.run_to(200, 5)
    r.button_pin.set(1)
    r.run_to(300, 5)
    assert r.lines()[-1].endswith("UNLOCK button")  # (already unlocked: the press is recorded)


def test_a_sink_short_of_memory_gets_the_record_after_a_collection():
    r = Rig(pos=UNLOCK, door_open=False, config={"relock_on_boot": False, "held_open_ms": 2000})
    got = []
    calls = [0]

    def tight_sink(rec):  # the heap is fragmented the first time it is called for each record
        calls[0] += 1
        if calls[0] % 2:
            raise MemoryError
        got.append(rec)

    def starved_sink(rec):
        raise MemoryError
    r.app.sinks.append(tight_sink)
    r.app.sinks.append(starved_sink)
    r.door_pin.set(1)
    r.run_to(200)
    r.door_pin.set(0)
    r.run_to(400)
    names = [format_record(x).split()[1] for x in got]
    assert names == [format_record(x).split()[1] for x in r.app.log[1:]] and len(names) >= 2  # each once
    assert r.app.sink_errors == len(names) and isinstance(r.app.last_fault, MemoryError)  # the other: counted
