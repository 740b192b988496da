# Scenario tests of the lock core through its public API, asserting the exact event log.
# Runs on CPython and on the MicroPython unix port.
from corekit import Rig, LOCK_POS, UNLOCK_POS, MID_POS
from fwcheck import raises
from lockctl.core import LockCore, LockError
from lockctl.keys import KeyList
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_REACHED, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE,
    A_DRIVE, A_STOP, A_ARM, T_AUTOLOCK, T_MOTION, LOCKED, UNLOCKED, JAMMED, UNLOCKING, LOCKING,
    UNCALIBRATED, STATE_NAMES,
)

KEYS = (("card", "04A1B2C3", "alice"), ("felica", "0102030405060708", "bob"))


def keys():
    return KeyList(KEYS)


def test_boot_never_moves_in_any_start_state():
    n = 0
    for cal in (None, (LOCK_POS, UNLOCK_POS), (UNLOCK_POS, LOCK_POS)):
        for pos in (None, LOCK_POS, MID_POS, UNLOCK_POS, 0, 4095):
            for door_open in (False, True):
                for auto in (True, False):
                    r = Rig({"auto_lock": auto}, cal=cal, pos=pos, door_open=door_open)
                    assert r.drives() == []
                    assert r.timers.deadline(T_AUTOLOCK) is None and r.timers.deadline(T_MOTION) is None
                    # nothing moves afterwards either, however long nobody touches the lock
                    r.advance(24 * 3600 * 1000)
                    assert r.drives() == [], (cal, pos, door_open)
                    assert r.log[0].startswith("0 BOOT ")
                    n += 1
    assert n == 72


def test_boot_state_from_sensors():
    assert Rig(pos=LOCK_POS).log == ["0 BOOT locked"]
    assert Rig(pos=UNLOCK_POS).log == ["0 BOOT unlocked"]
    assert Rig(pos=MID_POS).log == ["0 BOOT unlocked"]  # bolt between the ends does not secure the door
    assert Rig(cal=None).log == ["0 BOOT uncalibrated"]
    assert Rig(pos=None).core.state == UNLOCKED
    # calibration the other way round (pot wired reversed)
    assert Rig(cal=(UNLOCK_POS, LOCK_POS), pos=UNLOCK_POS).log == ["0 BOOT locked"]


def test_card_unlock_then_auto_lock_after_door_closes():
    r = Rig(keys=keys())
    r.ev(1000, EV_CREDENTIAL, ("card", "04A1B2C3"))
    assert r.drives() == [(1000, 1)] and r.core.state == UNLOCKING
    r.ev(1300, EV_POSITION, 2500)
    r.ev(1550, EV_POSITION, UNLOCK_POS - 100)  # inside the 10 % zone around the unlock end
    assert r.core.state == UNLOCKED and r.stops() == [1550]
    r.ev(4000, EV_DOOR, True)
    r.ev(9000, EV_DOOR, False)
    r.advance(11999)
    assert r.drives() == [(1000, 1)]  # auto-lock waits its 3 s
    r.advance(12000)
    assert r.drives() == [(1000, 1), (12000, -1)]
    r.ev(12600, EV_POSITION, LOCK_POS)
    assert r.log == [
        "0 BOOT locked",
        "1550 UNLOCK card alice",
        "4000 DOOR_OPEN",
        "9000 DOOR_CLOSE",
        "12600 LOCK auto",
    ]
    assert r.core.state == LOCKED and r.motor == 0


def test_relock_after_grace_when_door_never_opened():
    r = Rig(keys=keys())
    r.ev(0, EV_CREDENTIAL, ("felica", "0102030405060708"))
    r.ev(500, EV_POSITION, UNLOCK_POS)
    r.advance(10499)
    assert len(r.drives()) == 1
    r.advance(10500)
    assert r.drives()[-1] == (10500, -1)
    r.ev(11000, EV_POSITION, LOCK_POS)
    assert r.log == ["0 BOOT locked", "500 UNLOCK felica bob", "11000 LOCK relock"]


def test_auto_lock_off_never_locks():
    r = Rig({"auto_lock": False}, keys=keys())
    r.ev(0, EV_CREDENTIAL, ("card", "04A1B2C3"))
    r.ev(500, EV_POSITION, UNLOCK_POS)
    r.ev(2000, EV_DOOR, True)
    r.ev(3000, EV_DOOR, False)
    r.advance(3600 * 1000)
    assert r.drives() == [(0, 1)]
    assert r.core.state == UNLOCKED


def test_auto_lock_never_while_door_open():
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.ev(4000, EV_DOOR, True)  # reopened before the 3 s ran out: auto-lock cancelled
    r.advance(3600 * 1000)
    assert r.drives() == []
    r.ev(3600 * 1000 + 1, EV_BUTTON)  # someone leaving through the open door: recorded, nothing moves
    r.ev(3600 * 1000 + 2, EV_REMOTE, ("lock", "admin"))  # a lock request while open is refused
    assert r.drives() == []
    assert r.log == [
        "0 BOOT unlocked",
        "1000 DOOR_OPEN",
        "2000 DOOR_CLOSE",
        "4000 DOOR_OPEN",
        "64000 HELD_OPEN",
        "3600001 UNLOCK button",
        "3600002 REFUSED door-open admin",
    ]


def test_door_opening_during_lock_stops_motor_at_once():
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.advance(5000)
    assert r.motor == -1
    acts = r.ev(5200, EV_DOOR, True)
    assert acts[0] == (A_STOP,)  # the very first action
    assert r.motor == 0 and r.core.state == UNLOCKED
    r.ev(6000, EV_DOOR, False)
    r.advance(9000)
    r.ev(9400, EV_POSITION, LOCK_POS)
    assert r.log == [
        "0 BOOT unlocked",
        "1000 DOOR_OPEN",
        "2000 DOOR_CLOSE",
        "5200 DOOR_OPEN",
        "5200 ABORT door-open",
        "6000 DOOR_CLOSE",
        "9400 LOCK auto",
    ]


def test_door_opening_during_unlock_counts_as_unlocked():
    r = Rig(keys=keys())
    r.ev(0, EV_CREDENTIAL, ("card", "04A1B2C3"))
    acts = r.ev(300, EV_DOOR, True)
    assert acts[0] == (A_STOP,)
    assert r.log == ["0 BOOT locked", "300 DOOR_OPEN", "300 UNLOCK card alice"]
    assert r.core.state == UNLOCKED and r.motor == 0


def test_forced_open_and_held_open_alarms():
    r = Rig({"held_open_ms": 30000})
    r.ev(1000, EV_DOOR, True)
    r.advance(31000)
    r.ev(40000, EV_DOOR, False)
    assert r.log == ["0 BOOT locked", "1000 DOOR_OPEN", "1000 FORCED_OPEN", "31000 HELD_OPEN", "40000 DOOR_CLOSE"]
    assert r.core.alarm is False
    r2 = Rig({"held_open_ms": 0}, pos=UNLOCK_POS)
    r2.ev(1000, EV_DOOR, True)
    r2.advance(10 ** 8)
    assert r2.log == ["0 BOOT unlocked", "1000 DOOR_OPEN"]


def test_button_unlocks_without_user_and_never_locks():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.ev(1500, EV_POSITION, UNLOCK_POS)
    r.ev(5000, EV_BUTTON)  # already unlocked: the press is recorded, the bolt stays back
    assert r.log == ["0 BOOT locked", "1500 UNLOCK button", "5000 UNLOCK button"]
    assert r.drives() == [(1000, 1)]


def test_button_while_auto_lock_pending_restarts_the_grace_instead_of_locking():
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)  # auto-lock due at 5000
    r.ev(4000, EV_BUTTON)  # the next person wants out
    r.advance(13999)
    assert r.drives() == []
    r.advance(14000)  # relock grace (10 s) from the press
    assert r.drives() == [(14000, -1)]
    assert r.log[-1] == "4000 UNLOCK button"


def test_button_off_moves_nothing():
    for pos in (LOCK_POS, UNLOCK_POS):
        r = Rig({"button_unlock": False}, pos=pos)
        r.ev(1000, EV_BUTTON)
        r.advance(60000)
        assert r.drives() == []
        assert r.log[1:] == ["1000 REFUSED button-off"]


def test_manual_turns_are_logged_without_user_and_auto_lock_follows():
    r = Rig()
    r.ev(1000, EV_POSITION, 1500)  # half way: nothing yet
    r.ev(1200, EV_POSITION, UNLOCK_POS)
    assert r.core.state == UNLOCKED
    r.ev(1300, EV_POSITION, UNLOCK_POS + 5)  # noise inside the zone: no second event
    r.ev(2000, EV_DOOR, True)
    r.ev(3000, EV_DOOR, False)
    r.advance(6000)
    r.ev(6500, EV_POSITION, LOCK_POS)
    r.ev(7000, EV_POSITION, UNLOCK_POS)  # turned by hand again, door never opened: relock after grace
    r.advance(17000)
    r.ev(17400, EV_POSITION, LOCK_POS)
    r.ev(20000, EV_POSITION, LOCK_POS + 150)  # knob wiggled inside the lock zone
    assert r.log == [
        "0 BOOT locked",
        "1200 MANUAL_UNLOCK",
        "2000 DOOR_OPEN",
        "3000 DOOR_CLOSE",
        "6500 LOCK auto",
        "7000 MANUAL_UNLOCK",
        "17400 LOCK relock",
    ]


def test_part_way_turn_past_the_middle_counts_as_unlocked():
    r = Rig()
    r.ev(1000, EV_POSITION, 1800)  # turned part way, still nearer the lock end: still locked
    assert r.log == ["0 BOOT locked"]
    r.ev(1300, EV_POSITION, 2400)  # past the middle and let go: the bolt no longer holds the door
    assert r.core.state == UNLOCKED
    r.ev(2000, EV_DOOR, True)  # not a forced entry
    r.ev(5000, EV_DOOR, False)
    r.advance(8000)
    assert r.drives() == [(8000, -1)]  # auto-lock as after any unlock
    r.ev(8300, EV_POSITION, LOCK_POS)
    r.ev(9000, EV_POSITION, 2100)  # turned again just past the middle (2000)
    assert r.log == ["0 BOOT locked", "1300 MANUAL_UNLOCK", "2000 DOOR_OPEN", "5000 DOOR_CLOSE", "8300 LOCK auto",
                     "9000 MANUAL_UNLOCK"]
    assert r.core.state == UNLOCKED


def test_manual_lock_cancels_pending_auto_lock():
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.ev(3000, EV_POSITION, LOCK_POS)
    r.advance(100000)
    assert r.drives() == []
    assert r.log[-1] == "3000 MANUAL_LOCK"


def test_jam_timeout_stops_at_bound_backs_off_retries_then_jams():
    r = Rig({"auto_lock": False}, keys=keys())
    r.ev(1000, EV_CREDENTIAL, ("card", "04A1B2C3"))
    r.advance(10000)  # the bolt never reaches the unlock end
    assert r.drives() == [(1000, 1), (2500, -1), (2700, 1)]
    assert r.stops() == [2500, 2700, 4200]
    # never ran past the 1.5 s bound in either attempt; back-off 200 ms
    assert r.drive_spans == [(1, 1000, 2500), (-1, 2500, 2700), (1, 2700, 4200)]
    assert r.core.state == JAMMED and r.core.alarm
    assert r.log == ["0 BOOT locked", "2500 RETRY timeout alice", "4200 JAM unlock alice"]


def test_jam_by_stall_signal_then_successful_retry():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.ev(1100, EV_POSITION, 1300)
    acts = r.ev(1200, EV_STALL)
    assert acts[0] == (A_STOP,)
    r.advance(1400)
    r.ev(1900, EV_POSITION, UNLOCK_POS)
    assert r.drive_spans == [(1, 1000, 1200), (-1, 1200, 1400), (1, 1400, 1900)]
    assert r.log == ["0 BOOT locked", "1200 RETRY stall", "1900 UNLOCK button"]
    assert r.core.state == UNLOCKED


def test_stall_at_the_target_end_is_arrival_not_jam():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.ev(1500, EV_POSITION, UNLOCK_POS - 250)  # just inside the zone (tolerance 200)? no: 250 is outside
    r.ev(1600, EV_POSITION, UNLOCK_POS - 150)
    assert r.core.state == UNLOCKED
    r2 = Rig({"auto_lock": False, "zone_pct": 20})
    r2.ev(1000, EV_BUTTON)
    r2.ev(1200, EV_POSITION, UNLOCK_POS - 300)  # in the 20 % zone: arrival
    assert r2.core.state == UNLOCKED and r2.log[-1] == "1200 UNLOCK button"


def test_jam_cleared_by_later_successful_move():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.advance(5000)
    assert r.core.state == JAMMED
    r.ev(6000, EV_BUTTON)  # jammed: the button tries to unlock again
    r.ev(6400, EV_POSITION, UNLOCK_POS)
    assert r.log == ["0 BOOT locked", "2500 RETRY timeout", "4200 JAM unlock", "6400 JAM_CLEAR",
                     "6400 UNLOCK button"]
    assert r.core.state == UNLOCKED and not r.core.alarm


def test_jam_cleared_by_manual_turn():
    r = Rig({"auto_lock": False}, pos=UNLOCK_POS)
    r.ev(1000, EV_REMOTE, ("lock", None))
    r.ev(1200, EV_POSITION, MID_POS)
    r.advance(5000)
    assert r.core.state == JAMMED
    r.ev(8000, EV_POSITION, LOCK_POS)  # the installer finishes the turn by hand
    assert r.log == ["0 BOOT unlocked", "2500 RETRY timeout", "4200 JAM lock", "8000 JAM_CLEAR", "8000 MANUAL_LOCK"]
    assert r.core.state == LOCKED and not r.core.alarm


def test_credentials_granted_and_denied():
    r = Rig({"auto_lock": False}, keys=keys())
    r.ev(1000, EV_CREDENTIAL, ("card", "DEADBEEF"))
    r.ev(2000, EV_CREDENTIAL, ("felica", "0102030405060708"))
    r.ev(2500, EV_POSITION, UNLOCK_POS)
    r.ev(3000, EV_CREDENTIAL, ("card", "04A1B2C3"))  # already unlocked: recorded, nothing moves
    assert r.drives() == [(2000, 1)]
    assert r.log == ["0 BOOT locked", "1000 DENIED unknown card:DEADBEEF", "2500 UNLOCK felica bob",
                     "3000 UNLOCK card alice"]
    r2 = Rig()  # no key list at all
    r2.ev(10, EV_CREDENTIAL, ("card", "04A1B2C3"))
    assert r2.log[-1] == "10 DENIED no-keys card:04A1B2C3" and r2.drives() == []


def test_remote_commands():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_REMOTE, ("unlock", "manager1"))
    r.ev(1400, EV_POSITION, UNLOCK_POS)
    r.ev(2000, EV_REMOTE, ("lock", "manager1"))
    r.ev(2400, EV_POSITION, LOCK_POS)
    r.ev(3000, EV_REMOTE, ("lock", "manager2"))  # already locked: recorded, nothing moves
    assert r.log == ["0 BOOT locked", "1400 UNLOCK remote manager1", "2400 LOCK remote manager1",
                     "3000 LOCK remote manager2"]
    assert len(r.drives()) == 2


def test_card_during_auto_lock_reverses():
    r = Rig(keys=keys(), pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.advance(5000)
    assert r.motor == -1
    r.ev(5100, EV_POSITION, MID_POS)
    r.ev(5200, EV_CREDENTIAL, ("card", "04A1B2C3"))
    r.ev(5400, EV_POSITION, UNLOCK_POS)
    assert r.log[-2:] == ["5200 ABORT reversed", "5400 UNLOCK card alice"]
    assert r.drive_spans[:2] == [(-1, 5000, 5200), (1, 5200, 5400)]


def test_uncalibrated_refuses_to_drive():
    r = Rig(cal=None, keys=keys())
    r.ev(1000, EV_BUTTON)
    r.ev(2000, EV_CREDENTIAL, ("card", "04A1B2C3"))
    r.ev(3000, EV_REMOTE, ("unlock", "admin"))
    r.ev(4000, EV_POSITION, 1234)
    r.ev(5000, EV_DOOR, True)
    r.ev(6000, EV_DOOR, False)
    r.advance(10 ** 6)
    assert r.drives() == []
    assert r.core.state == UNCALIBRATED
    assert r.log == ["0 BOOT uncalibrated", "1000 REFUSED uncalibrated", "2000 REFUSED uncalibrated alice",
                     "3000 REFUSED uncalibrated admin", "5000 DOOR_OPEN", "6000 DOOR_CLOSE"]


def test_bad_events_raise_and_change_nothing():
    r = Rig(keys=keys())
    before = (r.core.state, r.core.now, dict(r.core.cfg), r.core.pos, len(r.actions))
    bad = [
        (10, 99, None),  # unknown kind
        (10, "door", True),
        (10, None, None),
        (10, EV_POSITION, "12"),
        (10, EV_POSITION, None),
        (10, EV_CREDENTIAL, "card"),
        (10, EV_REMOTE, ("open", "x")),
        (10, EV_TIMER, "autolock"),
        ("10", EV_BUTTON, None),
    ]
    for t, kind, arg in bad:
        raises(LockError, r.core.handle, t, kind, arg)
    r.ev(500, EV_BUTTON)
    raises(LockError, r.core.handle, 499, EV_BUTTON)  # time went backwards
    c = LockCore()
    raises(LockError, c.handle, 0, EV_BUTTON)  # before boot
    raises(LockError, LockCore, None, (100, 120))  # span below min_span
    raises(LockError, LockCore, None, (100, "x"))
    raises(ValueError, LockCore, {"jam_ms": 5})
    assert before[0] == LOCKED


def test_stale_and_early_timer_events_are_ignored():
    r = Rig()
    r.ev(100, EV_TIMER, T_AUTOLOCK)
    r.ev(200, EV_TIMER, T_MOTION)
    assert r.drives() == [] and r.log == ["0 BOOT locked"]
    r2 = Rig(pos=UNLOCK_POS)
    r2.ev(1000, EV_DOOR, True)
    r2.ev(2000, EV_DOOR, False)  # auto-lock armed for 5000
    r2.core.handle(4000, EV_TIMER, T_AUTOLOCK)  # early: ignored
    assert r2.core.motor == 0


def test_state_names_cover_issue_states():
    for s in ("locked", "unlocking", "unlocked", "locking", "jammed", "uncalibrated"):
        assert s in STATE_NAMES
    assert STATE_NAMES[UNLOCKING] == "unlocking" and STATE_NAMES[LOCKING] == "locking"


def test_events_that_change_nothing_allocate_nothing():
    from fakes import alloc_bytes
    r = Rig()
    core = r.core
    pos = (LOCK_POS, LOCK_POS + 3, LOCK_POS - 2)

    def samples():
        t = 1000
        for i in range(300):
            t += 10
            acts = core.handle(t, EV_POSITION, pos[i % 3])  # knob noise inside the lock zone
            assert not acts

    n = alloc_bytes(samples)
    assert n is None or n == 0, n  # None on CPython (no comparable measure)


def test_reader_down_and_back_are_logged_once_and_the_lock_keeps_working():
    from lockctl.codes import EV_READER
    r = Rig(keys=keys())
    r.ev(1000, EV_READER, -2)
    r.ev(1100, EV_READER, -3)  # still down: nothing new
    r.ev(2000, EV_BUTTON)  # the button works without the reader
    r.ev(2400, EV_POSITION, UNLOCK_POS)
    r.ev(9000, EV_READER, 0)
    r.ev(9100, EV_READER, 0)
    assert r.log == ["0 BOOT locked", "1000 READER_DOWN -2", "2400 UNLOCK button", "9000 READER_UP"]
    raises(LockError, r.core.handle, 9200, EV_READER, 1)
    raises(LockError, r.core.handle, 9200, EV_READER, True)


def test_credential_refused_by_the_reader_is_denied_with_its_reason():
    r = Rig(keys=keys())
    r.ev(100, EV_CREDENTIAL, ("phone", "A1B2", "bad-mac"))
    r.ev(200, EV_CREDENTIAL, ("card", "04A1B2C3", "replayed"))  # refused even if enrolled
    assert r.drives() == []
    assert r.log == ["0 BOOT locked", "100 DENIED bad-mac phone:A1B2", "200 DENIED replayed card:04A1B2C3"]
    raises(LockError, r.core.handle, 300, EV_CREDENTIAL, ("phone", "A1B2", 5))
    raises(LockError, r.core.handle, 300, EV_CREDENTIAL, ("phone", "A1B2", "x", "y"))


def test_rebase_keeps_pending_timers_in_step():
    from lockctl.codes import T_AUTOLOCK
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)  # auto-lock due at 5000
    r.core.rebase(1500)
    r.timers.rebase(1500)  # the runner's own table moves with it
    assert r.core.now == 500 and r.core.next_deadline() == 3500
    r.now = 500
    r.advance(3499)
    assert r.drives() == []
    r.advance(3500)
    assert r.drives() == [(3500, -1)]
    raises(LockError, r.core.rebase, -1)
    r.core.rebase(10 ** 6)  # longer than anything happened: the next event at 0 is still in order
    assert r.core.now < 0
    r.core.handle(0, EV_BUTTON)
