# Scenario tests of the lock core through its public API, asserting the exact event log.
# Runs on CPython and on the MicroPython unix port.
from corekit import Rig, LOCK_POS, UNLOCK_POS, MID_POS
from fwcheck import raises
from lockctl.core import LockError
from lockctl.keys import KeyList
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_REMOTE, EV_SENSOR,
    A_DRIVE, A_STOP, T_AUTOLOCK, T_MOTION, LOCKED, UNLOCKED, JAMMED, UNLOCKING, KIND_ISO14443A, KIND_FELICA,
)

CARD = KIND_ISO14443A
FELICA = KIND_FELICA
KEYS = ((CARD, "04A1B2C3", "alice"), (FELICA, "0102030405060708", "bob"))


def keys():
    return KeyList(KEYS)


def test_boot_never_moves_and_only_a_closed_unlocked_door_relocks_later():
    n = 0
    for cal in (None, (LOCK_POS, UNLOCK_POS), (UNLOCK_POS, LOCK_POS)):
        for pos in (None, LOCK_POS, MID_POS, UNLOCK_POS, 0, 4095):
            for door_open in (False, True):
                for auto in (True, False):
                    for on_boot in (True, False):
                        r = Rig({"auto_lock": auto, "relock_on_boot": on_boot}, cal=cal, pos=pos,
                                door_open=door_open)
                        assert r.drives() == [] and r.core.deadline(T_MOTION) is None
                        # closed, calibrated, clearly at the unlock end, auto-lock and relock_on_boot
                        # on: relocked after the normal grace; nothing else ever moves untouched
                        relock = (cal is not None and pos == cal[1] and not door_open and auto and on_boot)
                        want = 10000 if relock else None
                        assert r.core.deadline(T_AUTOLOCK) == want, (cal, pos, door_open, auto, on_boot)
                        r.advance(24 * 3600 * 1000)
                        # (no position arrives in this rig: the relock then times out and retries)
                        assert r.drives()[:1] == ([(10000, -1)] if relock else []), (cal, pos, door_open, auto)
                        assert r.log[0].startswith("0 BOOT ")
                        n += 1
    assert n == 144


def test_boot_relock_of_a_door_found_unlocked_is_logged_as_such():
    r = Rig(pos=UNLOCK_POS)
    r.advance(10000)
    r.ev(10400, EV_POSITION, LOCK_POS)
    assert r.log == ["0 BOOT unlocked", "10400 LOCK boot"]
    # someone opening the door first: the usual auto-lock after the close instead
    r2 = Rig(pos=UNLOCK_POS)
    r2.ev(4000, EV_DOOR, True)
    r2.ev(6000, EV_DOOR, False)
    r2.advance(9000)
    assert r2.drives() == [(9000, -1)] and r2.core.deadline(T_AUTOLOCK) is None
    # a knob between the ends (perhaps left there by a jam) or a jam at boot: nothing moves
    r3 = Rig(pos=MID_POS + 600)
    r3.advance(10 ** 6)
    assert r3.drives() == [] and r3.core.state == UNLOCKED


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
    r.ev(1000, EV_CREDENTIAL, (CARD, "04A1B2C3"))
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
        "1550 UNLOCK iso14443a alice",
        "4000 DOOR_OPEN",
        "9000 DOOR_CLOSE",
        "12600 LOCK auto",
    ]
    assert r.core.state == LOCKED and r.motor == 0


def test_relock_after_grace_when_door_never_opened():
    r = Rig(keys=keys())
    r.ev(0, EV_CREDENTIAL, (FELICA, "0102030405060708"))
    r.ev(500, EV_POSITION, UNLOCK_POS)
    r.advance(10499)
    assert len(r.drives()) == 1
    r.advance(10500)
    assert r.drives()[-1] == (10500, -1)
    r.ev(11000, EV_POSITION, LOCK_POS)
    assert r.log == ["0 BOOT locked", "500 UNLOCK felica bob", "11000 LOCK relock"]


def test_auto_lock_off_never_locks():
    r = Rig({"auto_lock": False}, keys=keys())
    r.ev(0, EV_CREDENTIAL, (CARD, "04A1B2C3"))
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


def _auto_lock_under_way():
    """Someone went through; the auto-lock started at 5000 and the bolt is part way out at 5150."""
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)
    r.advance(5000)
    r.ev(5150, EV_POSITION, 2300)
    return r


def test_door_pulled_open_as_the_bolt_goes_out_retracts_it_so_the_door_can_close():
    r = _auto_lock_under_way()
    acts = r.ev(5200, EV_DOOR, True)  # someone pulls the door
    assert acts[0] == (A_STOP,)  # stop first, as always
    assert acts[-1] == (A_DRIVE, 1)  # then pull the bolt back: never throw it with the door open
    assert r.core.state == UNLOCKING and r.core.deadline(T_MOTION) == 6700
    r.ev(5500, EV_POSITION, UNLOCK_POS)  # back at the unlock end: nothing logged for that
    assert r.motor == 0 and r.core.state == UNLOCKED and r.core.deadline(T_AUTOLOCK) is None
    r.ev(7000, EV_DOOR, False)  # the door closes: auto-lock follows
    r.advance(10000)
    r.ev(10400, EV_POSITION, LOCK_POS)
    assert r.log == ["0 BOOT unlocked", "1000 DOOR_OPEN", "2000 DOOR_CLOSE", "5200 DOOR_OPEN", "5200 ABORT door-open",
                     "7000 DOOR_CLOSE", "10400 LOCK auto"]
    assert [d for _, d in r.drives()] == [-1, 1, -1]


def test_retraction_finishing_after_the_door_closed_arms_the_auto_lock():
    r = _auto_lock_under_way()
    r.ev(5200, EV_DOOR, True)
    r.ev(5300, EV_DOOR, False)  # shut again at once, while the bolt is still coming back
    r.ev(5500, EV_POSITION, UNLOCK_POS)
    assert r.core.deadline(T_AUTOLOCK) == 8500  # auto_lock_ms after the retraction ended
    r.ev(5600, EV_BUTTON)  # someone leaving: the button works as usual
    assert r.log[-1] == "5600 UNLOCK button" and r.core.deadline(T_AUTOLOCK) == 15600


def test_button_during_a_retraction_with_the_door_open_takes_it_over():
    r = _auto_lock_under_way()
    r.ev(5200, EV_DOOR, True)
    r.ev(5300, EV_BUTTON)  # not refused for the open door: the bolt is on its way back anyway
    r.ev(5500, EV_POSITION, UNLOCK_POS)
    assert r.log[-2:] == ["5200 ABORT door-open", "5500 UNLOCK button"]


def test_a_retraction_that_stalls_with_the_door_open_retries_without_backing_off():
    r = _auto_lock_under_way()
    r.ev(5200, EV_DOOR, True)
    r.ev(5400, EV_STALL)  # the retraction is blocked: the retry goes straight on, no back-off
    r.ev(5600, EV_STALL)
    assert [d for _, d in r.drives()] == [-1, 1, 1]
    assert r.log[-2:] == ["5400 RETRY stall", "5600 JAM unlock"]
    assert r.core.state == JAMMED and r.core.alarm


def test_a_door_sensor_that_cannot_be_read_keeps_the_bolt_from_being_thrown():
    r = _auto_lock_under_way()
    acts = r.ev(5200, EV_SENSOR, (EV_DOOR, False))  # the reed switch input fails mid-lock
    assert acts[0] == (A_STOP,) and acts[-1] == (A_DRIVE, 1)  # stop, pull the bolt back
    r.ev(5500, EV_POSITION, UNLOCK_POS)
    assert r.log[-1] == "5200 ABORT door-sensor" and r.core.state == UNLOCKED
    r.advance(60000)
    assert [d for _, d in r.drives()] == [-1, 1]  # no auto-lock while the door may be open
    r.ev(61000, EV_REMOTE, ("lock", "admin"))
    assert r.log[-1] == "61000 REFUSED door-sensor admin"
    r.ev(62000, EV_BUTTON)  # unlocking is never refused for it
    assert r.log[-1] == "62000 UNLOCK button"
    r.ev(63000, EV_SENSOR, (EV_DOOR, True))  # it reads again: the door is shut, auto-lock follows
    r.advance(66000)
    assert r.drives()[-1] == (66000, -1) and r.core.door_known
    raises(LockError, r.core.handle, 67000, EV_SENSOR, (EV_DOOR, None))
    raises(LockError, r.core.handle, 67000, EV_SENSOR, (EV_POSITION, True))


def test_door_opening_during_unlock_counts_as_unlocked():
    r = Rig(keys=keys())
    r.ev(0, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    acts = r.ev(300, EV_DOOR, True)
    assert acts[0] == (A_STOP,)
    assert r.log == ["0 BOOT locked", "300 DOOR_OPEN", "300 UNLOCK iso14443a alice"]
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
        r = Rig({"button_unlock": False, "relock_on_boot": False}, pos=pos)
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
    r.ev(1000, EV_CREDENTIAL, (CARD, "04A1B2C3"))
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


def test_arrival_is_entering_the_target_zone():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.ev(1500, EV_POSITION, UNLOCK_POS - 250)  # outside the 10 % zone (tolerance 200): still going
    assert r.core.state == UNLOCKING and r.motor == 1
    r.ev(1600, EV_POSITION, UNLOCK_POS - 150)
    assert r.core.state == UNLOCKED
    r2 = Rig({"auto_lock": False, "zone_pct": 20})
    r2.ev(1000, EV_BUTTON)
    r2.ev(1200, EV_POSITION, UNLOCK_POS - 300)  # in the 20 % zone: arrival
    assert r2.core.state == UNLOCKED and r2.log[-1] == "1200 UNLOCK button"


def test_a_retry_that_finds_the_knob_at_the_target_arrives_and_is_no_jam():
    # the first attempt times out; during the back-off a hand takes the knob to the unlock end, so
    # the retry starts already there: that is arrival at once, not a drive into the end stop and
    # never a jam (a drive always arrives the moment the knob is in its target's zone, so a stall
    # can never come "at the target")
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.advance(2500)  # jam_ms: the first attempt failed, backing off
    assert r.log[-1] == "2500 RETRY timeout" and r.motor == -1
    r.ev(2600, EV_POSITION, UNLOCK_POS)  # backing off: the position is only recorded
    r.advance(2700)  # the back-off ends with the knob in the unlock zone
    assert r.log[-1] == "2700 UNLOCK button" and r.core.state == UNLOCKED and not r.core.alarm
    assert r.motor == 0 and [d for _, d in r.drives()] == [1, -1]
    # the same stall away from the target end is the second failure: jammed
    r2 = Rig({"auto_lock": False})
    r2.ev(1000, EV_BUTTON)
    r2.advance(2700)
    r2.ev(2800, EV_STALL)
    assert r2.log[-1] == "2800 JAM unlock" and r2.core.state == JAMMED


def test_everyone_granted_the_same_unlock_is_recorded():
    r = Rig({"auto_lock": False}, keys=KeyList(KEYS + ((CARD, "0B0B0B0B", "bob"),)))
    r.ev(1000, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r.ev(1100, EV_CREDENTIAL, (CARD, "0B0B0B0B"))  # bob taps while the bolt is on its way
    r.ev(1150, EV_REMOTE, ("unlock", "admin"))
    r.ev(1200, EV_BUTTON)  # the button's press adds no user: nothing more to record
    r.ev(1500, EV_POSITION, UNLOCK_POS)
    assert r.log[1:] == ["1500 UNLOCK iso14443a alice", "1500 UNLOCK iso14443a bob", "1500 UNLOCK remote admin"]
    assert len(r.drives()) == 1


def test_forcing_the_door_of_a_lock_jammed_at_the_lock_end_is_forced_open():
    r = Rig({"auto_lock": False})
    r.ev(1000, EV_BUTTON)
    r.advance(5000)  # unlock jammed: the bolt stays thrown at the lock end
    assert r.core.state == JAMMED
    r.ev(6000, EV_DOOR, True)
    assert r.log[-2:] == ["6000 DOOR_OPEN", "6000 FORCED_OPEN"] and r.core.alarm


def test_a_partly_thrown_bolt_forced_open_is_forced_open():
    r = Rig({"auto_lock": False}, pos=UNLOCK_POS, keys=keys())
    r.ev(1000, EV_REMOTE, ("lock", "admin"))
    r.ev(1200, EV_POSITION, MID_POS - 300)  # more than half out when it jams
    r.advance(5000)
    assert r.core.state == JAMMED
    r.ev(6000, EV_DOOR, True)
    assert r.log[-1] == "6000 FORCED_OPEN"
    # a bolt left nearer the unlock end holds nothing: opening that door is not forced
    r2 = Rig({"auto_lock": False}, pos=UNLOCK_POS)
    r2.ev(1000, EV_REMOTE, ("lock", "admin"))
    r2.ev(1200, EV_POSITION, MID_POS + 300)
    r2.advance(5000)
    r2.ev(6000, EV_DOOR, True)
    assert r2.log[-1] == "6000 DOOR_OPEN"


def test_a_jam_is_cleared_only_by_a_move_that_ran():
    # a card fails to retract the bolt (JAM unlock); the door is forced open and shut; nothing
    # moves afterwards, so the jam and its alarm stay: no auto-lock "finds" the bolt home
    r = Rig(keys=keys())
    r.ev(1000, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r.advance(5000)
    assert r.log[-1] == "4200 JAM unlock alice"
    r.ev(6000, EV_DOOR, True)
    r.ev(8000, EV_DOOR, False)
    r.advance(60000)
    assert r.log[-3:] == ["6000 DOOR_OPEN", "6000 FORCED_OPEN", "8000 DOOR_CLOSE"]
    assert r.core.state == JAMMED and r.core.alarm and len(r.drives()) == 3
    # a remote lock finds the bolt at the lock end: recorded, nothing moves, the jam stands
    r.ev(61000, EV_REMOTE, ("lock", "admin"))
    assert r.log[-1] == "61000 LOCK remote admin" and r.core.state == JAMMED and r.core.alarm
    # a real move clears it
    r.ev(62000, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r.ev(62400, EV_POSITION, UNLOCK_POS)
    assert r.log[-2:] == ["62400 JAM_CLEAR", "62400 UNLOCK iso14443a alice"] and not r.core.alarm


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
    r.ev(1000, EV_CREDENTIAL, (CARD, "DEADBEEF"))
    r.ev(2000, EV_CREDENTIAL, (FELICA, "0102030405060708"))
    r.ev(2500, EV_POSITION, UNLOCK_POS)
    r.ev(3000, EV_CREDENTIAL, (CARD, "04A1B2C3"))  # already unlocked: recorded, nothing moves
    assert r.drives() == [(2000, 1)]
    assert r.log == ["0 BOOT locked", "1000 DENIED unknown iso14443a:DEADBEEF", "2500 UNLOCK felica bob",
                     "3000 UNLOCK iso14443a alice"]
    r2 = Rig()  # no key list at all
    r2.ev(10, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    assert r2.log[-1] == "10 DENIED no-keys iso14443a:04A1B2C3" and r2.drives() == []


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
    r.ev(5200, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r.ev(5400, EV_POSITION, UNLOCK_POS)
    assert r.log[-2:] == ["5200 ABORT reversed", "5400 UNLOCK iso14443a alice"]
    assert r.drive_spans[:2] == [(-1, 5000, 5200), (1, 5200, 5400)]
