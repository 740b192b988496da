# Offline decisions of the core (issue 7): the wall clock and local time, credential validity
# against it, use counts consumed before an unlock, the PIN back-off, battery levels, bad clock and
# battery events, BOOT's boot count, rebase. Through the public API with a small keys double that
# judges validity with the real lockctl/schedule.py (the key store itself: test_keystore.py).
from corekit import Rig, LOCK_POS, UNLOCK_POS
from fwcheck import raises
from lockctl.core import LockCore, LockError
from lockctl import schedule as S
from lockctl.record import utc_text
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_CREDENTIAL, EV_REMOTE, EV_CONFIG, EV_CLOCK, EV_BATTERY, EV_TIMER,
    A_LOG, A_SAVE, A_INDICATE, IND_ALARM, IND_BATTERY, TOWARD_LOCK,
    KIND_ISO14443A, KIND_PIN, R_UNKNOWN, R_USED_UP, R_CLOCK_UNSET, R_PIN_LOCKOUT, R_STORE, LOG_DENIED, LOG_PIN_LOCKOUT, LOG_BOOT, LOG_CLOCK_SET,
    BATT_OK, BATT_LOW, BATT_CRITICAL, LOCKED, UNLOCKED,
)

CARD = KIND_ISO14443A
PIN = KIND_PIN
WEEKDAYS = 0x1F  # Monday .. Friday
MON = 1704067200  # 2024-01-01 00:00 UTC, a Monday (09:00 in Japan)
H = 3600


class Keys:
    """check / consume / key_for as the core uses them; validity from lockctl/schedule.py."""

    def __init__(self):
        self.creds = {}
        self.uses = {}
        self.consume_ok = True
        self.asked = []  # (kind, ident, local) of every check

    def add(self, kind, ident, user, frm=S.NO_START, until=S.NO_END, profile=(S.P_ALWAYS, 0, 0, 0), uses=0):
        self.creds[(kind, ident)] = (user, frm, until, profile, S.use_limit(profile[0], uses))

    def check(self, kind, ident, local):
        self.asked.append((kind, ident, local))
        c = self.creds.get((kind, ident))
        if c is None:
            return None, R_UNKNOWN
        why = S.check(local, c[1], c[2], c[3], True)
        if why is not None:
            return None, why
        if c[4] and self.uses.get((kind, ident), 0) >= c[4]:
            return None, R_USED_UP
        return c[0], None

    def consume(self, kind, ident):
        if not self.consume_ok:
            return False
        self.uses[(kind, ident)] = self.uses.get((kind, ident), 0) + 1
        return True

    def key_for(self, phone_id):
        return None


def keys():
    k = Keys()
    k.add(CARD, "A1", "always")
    k.add(CARD, "B2", "until", until=S.days_from_civil(2030, 1, 1))
    k.add(CARD, "C3", "office", profile=(S.P_WEEKLY, WEEKDAYS, 9 * 60, 18 * 60))
    k.add(PIN, "4711", "bob")
    return k


def unlocked_rig(config=None, k=None):
    c = {"auto_lock": False}
    if config:
        c.update(config)
    return Rig(config=c, keys=k or keys(), pos=UNLOCK_POS)


def lines_since(r, n):
    return r.log[n:]


def test_clock_unset_denies_time_limited_credentials_and_always_ones_open():
    r = unlocked_rig()
    assert r.core.wall_time() is None and r.core.local_time() is None
    r.ev(1000, EV_CREDENTIAL, (CARD, "A1"))
    r.ev(2000, EV_CREDENTIAL, (CARD, "B2"))
    r.ev(3000, EV_CREDENTIAL, (CARD, "C3"))
    assert r.log[1:] == ["1000 UNLOCK iso14443a always", "2000 DENIED clock-unset iso14443a:B2",
                         "3000 DENIED clock-unset iso14443a:C3"]
    assert [a[2] for a in r.core.keys.asked] == [None, None, None]  # the core said: no local time


def test_clock_set_logs_and_schedules_use_local_time_jst_by_default():
    r = unlocked_rig()
    u = MON + 8 * H + 59 * 60  # Monday 17:59:00 in Japan (08:59 UTC)
    acts = r.ev(1000, EV_CLOCK, u)
    assert [a for a in acts if a[0] == A_LOG] == [(A_LOG, (1000, LOG_CLOCK_SET, (u, 1000), None))]
    assert r.log[-1] == "1000 CLOCK_SET %s@1000" % utc_text(u)
    assert r.core.wall_time() == u
    assert r.core.local_time() == u + 540 * 60
    r.ev(60999, EV_CREDENTIAL, (CARD, "C3"))  # 17:59:59 local: inside
    r.ev(61000, EV_CREDENTIAL, (CARD, "C3"))  # 18:00:00 local: the window's end is exclusive
    r.ev(61001, EV_CREDENTIAL, (CARD, "B2"))  # the period alone: open
    assert lines_since(r, 2) == ["60999 UNLOCK iso14443a office", "61000 DENIED off-schedule iso14443a:C3",
                                 "61001 UNLOCK iso14443a until"]
    assert r.core.keys.asked[0][2] == u + 59 + 540 * 60 and r.core.keys.asked[1][2] == u + 60 + 540 * 60
    # the other edge: Tuesday 08:59:59 local is outside, 09:00:00 inside
    r = unlocked_rig()
    r.ev(0, EV_CLOCK, MON + 86400 - 1)  # Tuesday 08:59:59 in Japan
    r.ev(500, EV_CREDENTIAL, (CARD, "C3"))
    r.ev(1000, EV_CREDENTIAL, (CARD, "C3"))
    assert r.log[2:] == ["500 DENIED off-schedule iso14443a:C3", "1000 UNLOCK iso14443a office"]
    # Friday 18:30 in Japan is 09:30 UTC: inside the window in UTC, outside in local time
    r = unlocked_rig()
    r.ev(0, EV_CLOCK, MON + 4 * 86400 + 9 * H + 30 * 60)
    r.ev(10, EV_CREDENTIAL, (CARD, "C3"))
    # Saturday 10:00 in Japan: inside the hours, not the days
    r.ev(20, EV_CLOCK, MON + 5 * 86400 + H)
    r.ev(30, EV_CREDENTIAL, (CARD, "C3"))
    assert [l for l in r.log if "C3" in l] == ["10 DENIED off-schedule iso14443a:C3", "30 DENIED off-schedule iso14443a:C3"]


def test_utc_offset_and_dst_rule_changes_move_the_local_time():
    july = S.days_from_civil(2024, 7, 1) * 86400  # a Monday, 00:00 UTC
    r = unlocked_rig({"utc_offset_min": 60})  # Central Europe, no DST rule yet
    r.ev(0, EV_CLOCK, july + 7 * H + 30 * 60)  # 07:30 UTC: 08:30 CET, 09:30 CEST
    assert r.core.local_time() == july + 8 * H + 30 * 60
    r.ev(100, EV_CREDENTIAL, (CARD, "C3"))
    r.ev(200, EV_CONFIG, {"dst_rule": 1})
    assert r.core.local_time() == july + 9 * H + 30 * 60
    r.ev(300, EV_CREDENTIAL, (CARD, "C3"))
    # back to Japan's offset: 16:30 local, inside
    r.ev(400, EV_CONFIG, {"dst_rule": 0, "utc_offset_min": 540})
    r.ev(500, EV_CREDENTIAL, (CARD, "C3"))
    # and far west: 21:30 the day before (Sunday): outside
    r.ev(600, EV_CONFIG, {"utc_offset_min": -600})
    r.ev(700, EV_CREDENTIAL, (CARD, "C3"))
    assert [l for l in r.log if "C3" in l or "office" in l] == [
        "100 DENIED off-schedule iso14443a:C3", "300 UNLOCK iso14443a office", "500 UNLOCK iso14443a office",
        "700 DENIED off-schedule iso14443a:C3"]


def test_clock_from_boot_and_unset_again():
    c = LockCore({"auto_lock": False}, (LOCK_POS, UNLOCK_POS), keys())
    acts = c.boot(5000, UNLOCK_POS, False, wall=MON + 2 * H)  # the RTC kept time: no CLOCK_SET record
    assert [a[1][1] for a in acts if a[0] == A_LOG] == [LOG_BOOT]
    assert c.wall_time() == MON + 2 * H
    c.handle(6500, EV_TIMER)
    assert c.wall_time() == MON + 2 * H + 1  # whole seconds since the reading
    out = c.handle(7000, EV_CREDENTIAL, (CARD, "C3"))  # Monday 11:00 JST
    assert [a[1][1] for a in out if a[0] == A_LOG] == [3]  # UNLOCK
    assert c.handle(8000, EV_CLOCK, None) == ()  # unset: nothing logged
    assert c.wall_time() is None
    out = c.handle(9000, EV_CREDENTIAL, (CARD, "C3"))
    assert out[0] == (A_LOG, (9000, LOG_DENIED, R_CLOCK_UNSET, (CARD, "C3")))
    # an RTC that never kept time (a reading before 2000) is an unset clock
    c = LockCore(None, (LOCK_POS, UNLOCK_POS), keys())
    c.boot(0, LOCK_POS, False, wall=12345)
    assert c.wall_time() is None
    assert c.handle(10, EV_CLOCK, 12345) == () and c.wall_time() is None


def _pin(r, t, digits):
    return r.ev(t, EV_CREDENTIAL, (PIN, digits))


def _saves(r):
    return [a[2] for (t, a) in r.actions if a[0] == A_SAVE and a[1] == "pin_fails"]


def test_wrong_pins_lock_the_keypad_out_with_doubling_and_a_correct_pin_resets():
    r = unlocked_rig()
    for i in range(5):
        _pin(r, 1000 * (i + 1), "0000")
    assert r.log[1:] == ["1000 DENIED unknown pin", "2000 DENIED unknown pin", "3000 DENIED unknown pin",
                         "4000 DENIED unknown pin", "5000 DENIED unknown pin", "5000 PIN_LOCKOUT 30"]
    assert _saves(r) == [1, 2, 3, 4, 5]
    assert r.core.alarm and (A_INDICATE, IND_ALARM) in [a for (t, a) in r.actions if t == 5000]
    assert r.core.pin_locked_out() and r.core.pin_fails == 5
    # during the lockout: not looked up, not counted, also the right PIN and a refused entry
    n_asked = len(r.core.keys.asked)
    _pin(r, 6000, "4711")
    _pin(r, 7000, "0000")
    r.ev(8000, EV_CREDENTIAL, (PIN, "", R_UNKNOWN))  # too short for the keypad: it still was an entry
    _pin(r, 34999, "0000")
    assert r.log[7:] == ["6000 DENIED pin-lockout pin", "7000 DENIED pin-lockout pin",
                         "8000 DENIED pin-lockout pin", "34999 DENIED pin-lockout pin"]
    assert len(r.core.keys.asked) == n_asked and r.core.pin_fails == 5 and _saves(r) == [1, 2, 3, 4, 5]
    # the lockout ends 30 s after it began; the next wrong PIN locks out for twice as long
    assert r.core.handle(35000, EV_TIMER) == () and not r.core.pin_locked_out()
    _pin(r, 35000, "0000")
    assert r.log[-2:] == ["35000 DENIED unknown pin", "35000 PIN_LOCKOUT 60"] and r.core.pin_fails == 6
    _pin(r, 94999, "4711")
    assert r.log[-1] == "94999 DENIED pin-lockout pin"
    _pin(r, 95000, "1234")
    assert r.log[-1] == "95000 PIN_LOCKOUT 120"
    # a correct PIN after the lockout opens and ends the run
    _pin(r, 215000, "4711")
    assert r.log[-1] == "215000 UNLOCK pin bob" and r.core.pin_fails == 0 and _saves(r)[-1] == 0
    for i in range(4):
        _pin(r, 216000 + i, "9999")
    assert not r.core.pin_locked_out() and "PIN_LOCKOUT" not in r.log[-1]
    _pin(r, 217000, "9999")
    assert r.log[-1] == "217000 PIN_LOCKOUT 30"
    # nowhere in the log or the actions: the digits
    for t, a in r.actions:
        if a[0] == A_LOG:
            rec = a[1]
            if rec[1] == LOG_DENIED and rec[3][0] == PIN:
                assert rec[3] == (PIN, ""), rec
            for digits in ("4711", "0000", "1234", "9999"):
                assert digits not in repr(rec[2:]), rec


def test_lockout_doubling_is_capped_at_an_hour():
    r = unlocked_rig({"pin_tries": 3, "pin_lockout_s": 1000})
    t = 0
    got = []
    for i in range(6):
        t += 1
        _pin(r, t, "0000")
        if "PIN_LOCKOUT" in r.log[-1]:
            got.append(int(r.log[-1].split()[-1]))
            t += got[-1] * 1000  # wait it out
    assert got == [1000, 2000, 3600, 3600], got


def test_a_lockout_survives_a_reboot_through_the_saved_count():
    c = LockCore({"auto_lock": False}, (LOCK_POS, UNLOCK_POS), keys(), pin_fails=5)
    c.boot(0, UNLOCK_POS, False)
    assert c.pin_locked_out() and c.pin_fails == 5
    out = c.handle(1000, EV_CREDENTIAL, (PIN, "4711"))
    assert out[0] == (A_LOG, (1000, LOG_DENIED, R_PIN_LOCKOUT, (PIN, "")))
    assert c.handle(29999, EV_TIMER) == () and c.pin_locked_out()
    c.handle(30000, EV_TIMER)
    assert not c.pin_locked_out()
    out = c.handle(30000, EV_CREDENTIAL, (PIN, "0000"))
    assert (A_SAVE, "pin_fails", 6) in out
    assert (A_LOG, (30000, LOG_PIN_LOCKOUT, 60, None)) in out
    # four saved: one more wrong PIN is the fifth
    c = LockCore(None, (LOCK_POS, UNLOCK_POS), keys(), pin_fails=4)
    c.boot(0, LOCK_POS, False)
    assert not c.pin_locked_out()
    out = c.handle(10, EV_CREDENTIAL, (PIN, "0000"))
    assert (A_LOG, (10, LOG_PIN_LOCKOUT, 30, None)) in out


def test_a_store_that_cannot_answer_neither_counts_nor_resets_wrong_pins():
    class Broken(Keys):
        def check(self, kind, ident, local):
            return None, R_STORE  # the block this PIN would be in is unreadable
    r = unlocked_rig(k=Broken())
    good = keys()
    for i in range(4):
        r.core.keys = good
        _pin(r, 10 + 2 * i, "0000")
        r.core.keys = Broken()
        _pin(r, 11 + 2 * i, "0000")  # an attacker's guesses landing in a bad block
    assert r.core.pin_fails == 4 and r.log[-1] == "17 DENIED store pin"
    r.core.keys = good
    _pin(r, 200, "0000")
    assert r.log[-1] == "200 PIN_LOCKOUT 30"


def test_a_use_that_cannot_be_recorded_does_not_open():
    k = keys()
    k.add(CARD, "D4", "twice", uses=2)
    r = Rig(config={"auto_lock": False}, keys=k, pos=LOCK_POS)
    k.consume_ok = False
    r.ev(100, EV_CREDENTIAL, (CARD, "D4"))
    r.ev(200, EV_CREDENTIAL, (CARD, "A1"))  # the always card too (consume is asked for every grant)
    assert r.log[1:] == ["100 DENIED use-tally iso14443a:D4", "200 DENIED use-tally iso14443a:A1"]
    assert r.drives() == [] and r.core.state == LOCKED
    k.consume_ok = True
    r.ev(300, EV_CREDENTIAL, (CARD, "D4"))
    r.ev(400, EV_POSITION, UNLOCK_POS)
    r.ev(500, EV_CREDENTIAL, (CARD, "D4"))
    r.ev(600, EV_CREDENTIAL, (CARD, "D4"))
    assert r.log[3:] == ["400 UNLOCK iso14443a twice", "500 UNLOCK iso14443a twice",
                         "600 DENIED used-up iso14443a:D4"]


def test_battery_low_then_critical_refuses_locking_but_serves_unlocking():
    r = Rig(keys=keys(), pos=LOCK_POS)  # auto_lock on
    acts = r.ev(100, EV_BATTERY, (BATT_LOW, 3450))
    assert r.log[-1] == "100 BATTERY low 3450mV" and (A_INDICATE, IND_BATTERY) in acts
    assert r.ev(150, EV_BATTERY, (BATT_LOW, 3440)) == ()  # same level: nothing
    r.ev(200, EV_BATTERY, (BATT_CRITICAL, 3250))
    assert r.log[-1] == "200 BATTERY critical 3250mV" and r.core.battery == BATT_CRITICAL
    n = len(r.log)
    # a card unlocks ...
    r.ev(1000, EV_CREDENTIAL, (CARD, "A1"))
    r.ev(1400, EV_POSITION, UNLOCK_POS)
    # ... the relock after 10 s is refused, so is a remote lock
    r.advance(11400)
    r.ev(12000, EV_REMOTE, ("lock", "admin"))
    # the door opens and closes: no auto-lock 3 s later
    r.ev(13000, EV_DOOR, True)
    r.ev(14000, EV_DOOR, False)
    r.advance(30000)
    assert r.log[n:] == ["1400 UNLOCK iso14443a always", "11400 REFUSED battery", "12000 REFUSED battery admin",
                         "13000 DOOR_OPEN", "14000 DOOR_CLOSE", "17000 REFUSED battery"]
    assert [d for d in r.drives() if d[1] == TOWARD_LOCK] == [] and r.core.state == UNLOCKED
    # the knob turned by hand still locks (the motor is not needed) and the button unlocks
    r.ev(31000, EV_POSITION, LOCK_POS)
    r.ev(32000, EV_BUTTON)
    r.ev(32300, EV_POSITION, UNLOCK_POS)
    r.ev(33000, EV_POSITION, LOCK_POS)
    r.ev(34000, EV_REMOTE, ("unlock", "admin"))
    r.ev(34300, EV_POSITION, UNLOCK_POS)
    assert r.log[n + 6:] == ["31000 MANUAL_LOCK", "32300 UNLOCK button", "33000 MANUAL_LOCK", "34300 UNLOCK remote admin"]
    # the relock after those: refused as well
    r.advance(44300)
    assert r.log[-1] == "44300 REFUSED battery"
    # back to ok: the door (closed, unlocked) locks again after the auto-lock delay, remote locks work
    r.ev(50000, EV_BATTERY, (BATT_OK, 3700))
    assert r.log[-1] == "50000 BATTERY ok 3700mV"
    r.advance(53000)
    assert r.drives()[-1] == (53000, TOWARD_LOCK)
    r.ev(53500, EV_POSITION, LOCK_POS)
    assert r.log[-1] == "53500 LOCK auto" and r.core.state == LOCKED
    r.ev(54000, EV_REMOTE, ("unlock", "admin"))
    r.ev(54300, EV_POSITION, UNLOCK_POS)
    r.ev(55000, EV_REMOTE, ("lock", "admin"))
    r.ev(55300, EV_POSITION, LOCK_POS)
    assert r.log[-2:] == ["54300 UNLOCK remote admin", "55300 LOCK remote admin"]


def test_battery_low_still_locks():
    r = Rig(keys=keys(), pos=UNLOCK_POS)
    r.ev(100, EV_BATTERY, (BATT_LOW, 3400))
    r.ev(200, EV_REMOTE, ("lock", "admin"))
    assert r.drives() == [(200, TOWARD_LOCK)]


def _snap(core):
    return (core.mode, core.now, core.wall_time(), core.local_time(), core.battery, core.alarm, core.next_deadline(),
            core.pin_fails, core.pin_locked_out())


def test_bad_clock_and_battery_events_raise_and_change_nothing():
    r = unlocked_rig()
    r.ev(10, EV_CLOCK, MON)
    r.ev(20, EV_BATTERY, (BATT_LOW, 3400))
    before = _snap(r.core)
    n = len(r.actions)
    for kind, arg in ((EV_CLOCK, "1704067200"), (EV_CLOCK, -1), (EV_CLOCK, 1 << 32), (EV_CLOCK, 1.7e9),
                      (EV_CLOCK, True), (EV_CLOCK, (MON,)), (EV_BATTERY, None), (EV_BATTERY, BATT_LOW),
                      (EV_BATTERY, (3, 3000)), (EV_BATTERY, (-1, 3000)), (EV_BATTERY, (BATT_OK,)),
                      (EV_BATTERY, (BATT_OK, -1)), (EV_BATTERY, (BATT_OK, "3000")), (EV_BATTERY, (True, 3000)),
                      (EV_BATTERY, [BATT_CRITICAL, 3000]), (EV_BATTERY, (BATT_CRITICAL, 3000.0)),
                      (EV_BATTERY, (BATT_CRITICAL, 3000, 1))):
        e = raises(LockError, r.core.handle, 30, kind, arg)
        assert str(e), (kind, arg)
        assert _snap(r.core) == before, (kind, arg)
    assert len(r.actions) == n
    raises(LockError, LockCore(None, (LOCK_POS, UNLOCK_POS)).boot, 0, LOCK_POS, False, None, 0, "now")
    raises(LockError, LockCore(None, (LOCK_POS, UNLOCK_POS)).boot, 0, LOCK_POS, False, None, 0, -5)


def test_boot_record_carries_state_and_boot_count():
    for pos, state in ((LOCK_POS, LOCKED), (UNLOCK_POS, UNLOCKED)):
        c = LockCore({"relock_on_boot": False}, (LOCK_POS, UNLOCK_POS))
        acts = c.boot(0, pos, False, boots=7)
        assert acts == [(A_LOG, (0, LOG_BOOT, (state, 7), None))]
    c = LockCore()
    assert c.boot(0, None, False)[0] == (A_LOG, (0, LOG_BOOT, (0, 0), None))  # none kept: 0
    c = LockCore()
    assert c.boot(0, None, False, boots=-3)[0][1][2] == (0, 0)


def test_rebase_keeps_the_wall_clock_and_the_pin_lockout_in_step():
    r = unlocked_rig()
    r.ev(1000, EV_CLOCK, MON + 8 * H + 59 * 60)  # Monday 17:59 JST
    for i in range(5):
        _pin(r, 2000 + i, "0000")
    assert r.core.pin_locked_out()  # until 2004 + 30000
    r.advance(20000)
    wall = r.core.wall_time()
    r.core.rebase(15000)
    r.now -= 15000
    assert r.core.wall_time() == wall and r.core.pin_locked_out()
    _pin(r, 17003, "4711")  # 32003 before the rebase: still locked out
    assert r.log[-1] == "17003 DENIED pin-lockout pin"
    _pin(r, 17004, "4711")  # 32004: over; 17:59:31 JST: bob's PIN has no schedule
    assert r.log[-1] == "17004 UNLOCK pin bob"
    r.ev(17005, EV_CREDENTIAL, (CARD, "C3"))
    r.ev(46000, EV_CREDENTIAL, (CARD, "C3"))  # 61000 before the rebase: 18:00:00 JST
    assert r.log[-2:] == ["17005 UNLOCK iso14443a office", "46000 DENIED off-schedule iso14443a:C3"]
    assert r.core.local_time() == MON + 8 * H + 59 * 60 + 60 + 540 * 60
