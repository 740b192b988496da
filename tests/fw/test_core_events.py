# Events the core must refuse or ignore, timers, the reader and rebase: the exact log, through the
# public API (split from test_core_motion.py to keep each module within the 96k test heap).
from corekit import Rig, LOCK_POS, UNLOCK_POS
from fwcheck import raises
from lockctl.core import LockCore, LockError
from lockctl.keys import KeyList
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE, EV_CONFIG, EV_CALIBRATE,
    EV_READER, EV_SENSOR,
    A_DRIVE, A_STOP, T_AUTOLOCK, T_MOTION, UNLOCKING, LOCKING,
    UNCALIBRATED, KIND_ISO14443A, KIND_FELICA, KIND_PHONE, R_BAD_MAC, R_NO_ANSWER,
)
from lockctl.record import STATE_NAMES

CARD = KIND_ISO14443A
FELICA = KIND_FELICA
KEYS = ((CARD, "04A1B2C3", "alice"), (FELICA, "0102030405060708", "bob"))


def keys():
    return KeyList(KEYS)



def test_uncalibrated_refuses_to_drive():
    r = Rig(cal=None, keys=keys())
    r.ev(1000, EV_BUTTON)
    r.ev(2000, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r.ev(3000, EV_REMOTE, ("unlock", "admin"))
    r.ev(4000, EV_POSITION, 1234)
    r.ev(5000, EV_DOOR, True)
    r.ev(6000, EV_DOOR, False)
    r.advance(10 ** 6)
    assert r.drives() == []
    assert r.core.state == UNCALIBRATED
    assert r.log == ["0 BOOT uncalibrated", "1000 REFUSED uncalibrated", "2000 REFUSED uncalibrated alice",
                     "3000 REFUSED uncalibrated admin", "5000 DOOR_OPEN", "6000 DOOR_CLOSE"]


def _snapshot(core):
    return (core.mode, core.state, core.now, sorted(core.cfg.items()), core.pos, core.door_open, core.motor,
            core.alarm, core.cal, core.next_deadline(), core.deadline(T_AUTOLOCK), core.deadline(T_MOTION))


def test_bad_events_raise_lock_error_and_change_nothing():
    for start in ("locked", "unlocked", "unlocking", "door-open"):
        r = Rig(keys=keys(), pos=UNLOCK_POS if start == "unlocked" else LOCK_POS)
        if start == "unlocking":
            r.ev(5, EV_BUTTON)
        elif start == "door-open":
            r.ev(5, EV_DOOR, True)
        else:
            r.ev(5, EV_POSITION, r.core.pos)  # changes nothing, but the core's time is now 5
        before = _snapshot(r.core)
        n = len(r.actions)
        bad = [
            (10, 99, None),  # unknown kind
            (10, 0, None),
            (10, "door", True),
            (10, None, None),
            (10, 3.0, 1500),  # a float kind is not EV_POSITION
            (10, True, None),
            (10, EV_POSITION, "12"),
            (10, EV_POSITION, None),
            (10, EV_POSITION, 12.0),
            (10, EV_DOOR, "closed"),  # only True / False: nothing taken by truthiness
            (10, EV_DOOR, None),
            (10, EV_DOOR, 2),
            (10, EV_DOOR, []),
            (10, EV_DOOR, 1),
            (10, EV_CREDENTIAL, "card"),
            (10, EV_CREDENTIAL, ("card", ["A1"])),  # unhashable: refused before the key list sees it
            (10, EV_CREDENTIAL, (CARD, ["A1"])),
            (10, EV_CREDENTIAL, (CARD, "")),
            (10, EV_CREDENTIAL, (99, "A1")),
            (10, EV_CREDENTIAL, (CARD, "A1", "bad-mac")),
            (10, EV_CREDENTIAL, (CARD, "A1", 999)),
            (10, EV_CREDENTIAL, [CARD, "A1"]),
            (10, EV_REMOTE, ("open", "x")),
            (10, EV_REMOTE, ("unlock", ["x"])),
            (10, EV_REMOTE, ["unlock", "x"]),
            (10, EV_TIMER, "autolock"),
            (10, EV_TIMER, T_AUTOLOCK),
            (10, EV_CONFIG, None),
            (10, EV_CONFIG, {"bogus": 1}),
            (10, EV_CONFIG, {"jam_ms": 5}),
            (10, EV_CONFIG, {"auto_lock": 1}),
            (10, EV_CONFIG, {1: True}),
            (10, EV_CALIBRATE, ["auto"]),
            (10, EV_CALIBRATE, "sideways"),
            (10, EV_READER, 1),
            (10, EV_READER, None),
            (10, EV_BUTTON, "junk"),  # events that take no argument take none
            (10, EV_STALL, 0),
            (10, EV_TIMER, 0),
            ("10", EV_BUTTON, None),
            (10.0, EV_BUTTON, None),
            (None, EV_BUTTON, None),
            (4, EV_BUTTON, None),  # time went backwards
        ]
        for t, kind, arg in bad:
            e = raises(LockError, r.core.handle, t, kind, arg)
            assert str(e), (t, kind, arg)
            assert _snapshot(r.core) == before, (start, t, kind, arg)
        assert len(r.actions) == n
    c = LockCore()
    raises(LockError, c.handle, 0, EV_BUTTON)  # before boot
    raises(LockError, LockCore, None, (100, 120))  # span below min_span
    raises(LockError, LockCore, None, (100, "x"))
    raises(LockError, LockCore, None, 100)
    raises(LockError, LockCore, {"jam_ms": 5})
    raises(LockError, LockCore, {"bogus": 1})
    raises(LockError, LockCore(None, (LOCK_POS, UNLOCK_POS)).boot, 0, LOCK_POS, "closed")


def test_timer_events_fire_only_what_is_due():
    r = Rig()
    assert r.core.next_deadline() is None
    assert r.core.handle(100, EV_TIMER) == ()  # nothing armed: nothing happens
    assert r.drives() == [] and r.log == ["0 BOOT locked"]
    r2 = Rig(pos=UNLOCK_POS)
    r2.ev(1000, EV_DOOR, True)
    r2.ev(2000, EV_DOOR, False)  # auto-lock armed for 5000
    assert r2.core.next_deadline() == 5000 and r2.core.deadline(T_AUTOLOCK) == 5000
    assert r2.core.handle(4000, EV_TIMER) == ()  # early: nothing is due yet
    assert r2.core.motor == 0 and r2.core.deadline(T_AUTOLOCK) == 5000
    acts = r2.core.handle(5000, EV_TIMER)
    assert (A_DRIVE, -1) in acts and r2.core.deadline(T_AUTOLOCK) is None
    assert r2.core.deadline(T_MOTION) == 6500


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
    r.ev(100, EV_CREDENTIAL, (KIND_PHONE, "A1B2", R_BAD_MAC))
    r.ev(200, EV_CREDENTIAL, (CARD, "04A1B2C3", R_NO_ANSWER))  # refused even if enrolled
    assert r.drives() == []
    assert r.log == ["0 BOOT locked", "100 DENIED bad-mac phone:A1B2", "200 DENIED no-answer iso14443a:04A1B2C3"]
    raises(LockError, r.core.handle, 300, EV_CREDENTIAL, (KIND_PHONE, "A1B2", "bad-mac"))
    raises(LockError, r.core.handle, 300, EV_CREDENTIAL, (KIND_PHONE, "A1B2", 5, "y"))


def test_rebase_keeps_pending_timers_in_step():
    r = Rig(pos=UNLOCK_POS)
    r.ev(1000, EV_DOOR, True)
    r.ev(2000, EV_DOOR, False)  # auto-lock due at 5000
    r.core.rebase(1500)  # the core's timers move with its clock: there is no other table
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


def test_a_door_sensor_failing_during_an_unlock_back_off_retries_toward_unlock_at_once():
    r = Rig({"auto_lock": False})
    r.ev(0, EV_BUTTON)
    r.advance(1500)  # the first attempt timed out: backing off toward the lock end
    assert r.motor == -1
    acts = r.ev(1550, EV_SENSOR, (EV_DOOR, False))
    assert acts == [(A_STOP,), (A_DRIVE, 1)] and r.motor == 1  # never throwing the bolt blind
