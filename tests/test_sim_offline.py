"""Offline decisions on the virtual door (sim/board.py VirtualDoor on its simulated flash): PINs on
the virtual keypad, the keypad entry timeout, a draining battery, weekly windows in virtual time,
a power cut (RTC lost, the event log kept), and the exact fast-forward with keypad and battery."""
import datetime

import doorkit  # noqa: F401
from doorkit.sim.board import VirtualDoor

from lockctl.codes import LOG_DENIED, LOG_BOOT, KIND_PIN, LOCKED, UNLOCKED

# 2024-01-01 was a Monday; 00:00 UTC is 09:00 in Japan (the lock's default utc_offset_min = 540)
MON_UTC = int(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
JST = 9 * 3600


def jst(day, hh, mm, ss=0):
    """Unix seconds of day (0 = Monday 2024-01-01) hh:mm:ss in Japan."""
    return MON_UTC + day * 86400 + hh * 3600 + mm * 60 + ss - JST


KEYS = [("pin", "4711", "bob"), ("felica", "01", "alice"),
        ("felica", "02", "carol", {"days": "mon-fri", "window": "09:00-18:00"})]


def door(**kw):
    kw.setdefault("keys", KEYS)
    return VirtualDoor(seed=2, calibration="ends", **kw)


def no_digits(d, *pins):
    for line in d.lines():
        for p in pins:
            assert p not in line, line
    for r in d.records:
        if r[1] == LOG_DENIED and r[3][0] == KIND_PIN:
            assert r[3] == (KIND_PIN, ""), r
    for r in d.storage.log.records():
        for p in pins:
            assert p not in repr(r[5:]), r


def test_a_pin_typed_on_the_keypad_unlocks_with_the_users_name_and_a_wrong_one_is_denied():
    d = door()
    d.advance(500)
    end = d.keypad_type("4711#")
    d.run_until(end + 2000)
    assert d.core.state == UNLOCKED
    lines = d.lines()
    assert lines[1].endswith(" UNLOCK pin bob"), lines
    t_unlock = int(lines[1].split()[0])
    assert end - 150 < t_unlock <= end + 1000  # the '#' (pressed 120 ms before end), then the bolt moves
    end = d.keypad_type("1234#")
    d.run_until(end + 2000)
    assert d.lines()[-1].endswith(" DENIED unknown pin")
    assert d.core.state == UNLOCKED and d.core.pin_fails == 1
    no_digits(d, "4711", "1234")
    # the keypad's own counts: two entries handed to the core
    assert d.board.keypad.submitted == 2 and d.board.keypad.keys_seen == 10


def test_five_wrong_pins_lock_the_keypad_out_for_30_s():
    d = door()
    t = 500
    d.advance(t)
    for i in range(5):
        d.run_until(d.keypad_type("0000#") + 500)
    assert d.lines()[-1].endswith(" PIN_LOCKOUT 30") and d.status()["pin_locked_out"]
    d.run_until(d.keypad_type("4711#") + 500)
    assert d.lines()[-1].endswith(" DENIED pin-lockout pin") and d.core.state == LOCKED
    d.advance(30000)
    d.run_until(d.keypad_type("4711#") + 2000)
    assert d.lines()[-1].endswith(" UNLOCK pin bob") and d.core.pin_fails == 0
    no_digits(d, "0000", "4711")


def test_a_half_typed_pin_times_out():
    d = door()
    d.advance(500)
    end = d.keypad_type("47")
    d.run_until(end + 9000)
    assert d.board.keypad.pending == 2  # 10 s after the last key; not yet
    d.run_until(end + 11000)
    assert d.board.keypad.pending == 0 and d.board.keypad.timeouts == 1
    # what is typed next starts a new entry: "11#" alone is too short (refused: a wrong PIN)
    end = d.keypad_type("11#")
    d.run_until(end + 1000)
    assert d.lines()[1:] == ["%s DENIED unknown pin" % d.lines()[1].split()[0]] and d.core.state == LOCKED
    # a whole PIN typed within the time still opens
    d.run_until(d.keypad_type("4711#") + 2000)
    assert d.lines()[-1].endswith(" UNLOCK pin bob")
    # a PIN left without '#' times out: the '#' after it submits nothing
    d.advance(20000)  # (relocked)
    n = len(d.lines())
    d.run_until(d.keypad_type("4711") + 10500)
    d.run_until(d.keypad_type("#") + 1000)
    assert d.lines()[n:] == [] and d.board.keypad.timeouts == 2


def fast_battery(d, per_hour=300):
    d.battery.drain_mv_per_hour = per_hour  # 4100 mV: low (3500) after 2 h, critical (3300) after 2 h 40 min


def test_a_draining_battery_goes_low_then_critical_and_then_only_unlocking_is_served():
    d = door()
    fast_battery(d)
    d.advance(5 * 3600 * 1000)
    bat = [l for l in d.lines() if " BATTERY " in l]
    assert [b.split()[2] for b in bat] == ["low", "critical"], bat
    t_low, t_crit = (int(b.split()[0]) for b in bat)
    # the level of an hourly average (four readings 15 min apart) that ends after the crossing
    assert 2 * 3600000 <= t_low <= 3 * 3600000 + 60000 and 2 * 3600000 + 40 * 60000 <= t_crit <= 4 * 3600000 + 60000
    assert d.status()["battery"] == "critical" and d.core.state == LOCKED
    # the button still unlocks (egress); the relock and the auto-lock after the door closes are refused
    n = len(d.lines())
    d.press_button()
    d.advance(15000)
    d.open_door()
    d.advance(2000)
    d.close_door()
    d.advance(10000)
    got = [" ".join(l.split()[1:]) for l in d.lines()[n:]]
    assert got == ["UNLOCK button", "REFUSED battery", "DOOR_OPEN", "DOOR_CLOSE", "REFUSED battery"], got
    assert d.core.state == UNLOCKED and d.world.angle >= d.world.unlock_deg - 10
    # a card still opens (already open: the access is recorded)
    d.card("felica", "01")
    assert d.lines()[-1].endswith(" UNLOCK felica alice")


def test_motor_use_drains_the_virtual_battery():
    d = door()
    d.battery.drain_mv_per_hour = 0
    d.battery.drain_mv_per_motor_s = 100
    for i in range(3):
        d.card("felica", "01")
        d.advance(15000)  # unlock, relock
    assert d.world.moves == 6
    assert 1500 < d.battery.motor_ms < 6 * 1500  # every move counted, none beyond the jam bound
    assert d.battery.rest_mv() == round(4100 - 100 * d.battery.motor_ms / 1000)


def test_a_weekly_window_in_virtual_time():
    d = door()
    d.set_clock(jst(0, 8, 59, 59))  # Monday 08:59:59 in Japan
    d.card("felica", "02")
    d.advance(1000)  # 09:00:00
    d.card("felica", "02")
    d.advance(2000)  # (the UNLOCK is logged when the bolt is back)
    assert [" ".join(l.split()[1:]) for l in d.lines()[-2:]] == [
        "DENIED off-schedule felica:02", "UNLOCK felica carol"]
    # 17:59:59 opens, 18:00:00 does not (end exclusive)
    d.advance((9 * 3600 - 3) * 1000)
    d.card("felica", "02")
    d.advance(1000)
    d.card("felica", "02")
    assert [" ".join(l.split()[1:]) for l in d.lines()[-2:]] == [
        "UNLOCK felica carol", "DENIED off-schedule felica:02"]
    assert d.core.local_time() == jst(0, 18, 0) + JST
    # Saturday 10:00: inside the hours, not the days
    d.set_clock(jst(5, 10, 0))
    d.card("felica", "02")
    assert d.lines()[-1].endswith(" DENIED off-schedule felica:02")
    # records after the clock is set are stored in wall-clock seconds
    recs = list(d.storage.log.records())
    assert recs[-1][2] is True and recs[-1][3] == jst(5, 10, 0)


def test_a_power_cut_loses_the_rtc_and_keeps_the_event_log():
    d = door(clock=jst(1, 10, 0))  # the board's RTC set: Tuesday 10:00
    d.card("felica", "02")
    d.advance(15000)
    d.run_until(d.keypad_type("0000#") + 500)
    before = list(d.storage.log.records())
    n = len(d.records)
    assert [r[4:] for r in before] == [r[1:] for r in d.records]  # every record of the session
    d.power_cut()
    assert d.core.wall_time() is None and d.status()["clock"] is None
    d.card("felica", "02")
    d.card("felica", "01")
    d.advance(2000)
    assert [" ".join(l.split()[1:]) for l in d.lines()[n:]] == [
        "BOOT locked #2", "DENIED clock-unset felica:02", "UNLOCK felica alice"]
    after = list(d.storage.log.records())
    assert after[:len(before)] == before  # nothing lost, nothing changed
    seqs = [r[0] for r in after]
    assert seqs == sorted(set(seqs)) and seqs[len(before)] > before[-1][0]
    assert [r[1] for r in after] == [1] * len(before) + [2] * 3
    assert after[len(before)][4] == LOG_BOOT and after[len(before)][5] == (LOCKED, 2)
    # the time it is stored with: wall clock before the cut (the RTC had it), ms since boot after
    assert all(r[2] for r in before) and not any(r[2] for r in after[len(before):])
    assert d.core.pin_fails == 1  # the wrong PIN survived the cut too
    # a clock set again: time-limited credentials are judged again
    d.set_clock(jst(1, 11, 0))
    d.card("felica", "02")
    d.advance(2000)
    assert d.lines()[-1].endswith(" UNLOCK felica carol")


def _offline_session(mode):
    d = VirtualDoor(seed=5, calibration="ends", keys=KEYS, mode=mode, fine_ms=1)
    fast_battery(d)
    d.advance(700)
    d.run_until(d.keypad_type("4711#") + 1500)
    d.advance(12000)
    d.run_until(d.keypad_type("12#") + 300)
    d.run_until(d.keypad_type("0000#") + 300)
    d.keypad_type("47")  # half typed: times out
    d.advance(20000)
    d.press_button()
    d.advance(4000)
    d.open_door()
    d.advance(3000)
    d.close_door()
    d.advance(2 * 3600 * 1000)
    d.run_until(d.keypad_type("4711#") + 2000)
    d.advance(3600 * 1000)  # low at 3 h (an hourly average), critical at 4 h
    d.run_until(d.keypad_type("4711#") + 2000)
    d.advance(3600 * 1000)
    d.press_button()
    d.advance(15000)
    d.open_door()
    d.advance(1500)
    d.close_door()
    d.advance(8000)
    d.run_until(d.keypad_type("4711#") + 2000)
    d.advance(3600 * 1000)
    return d


def test_the_fast_forward_is_exact_with_the_keypad_and_the_battery():
    exact = _offline_session("exact")
    fixed = _offline_session("fixed")
    assert exact.lines() == fixed.lines()
    text = "\n".join(exact.lines())
    for what in ("UNLOCK pin bob", "DENIED unknown pin", "BATTERY low", "BATTERY critical", "REFUSED battery",
                 "UNLOCK button"):
        assert what in text, (what, text)
    assert exact.board.keypad.timeouts == fixed.board.keypad.timeouts == 1
    assert exact.battery.motor_ms == fixed.battery.motor_ms > 0
    assert exact.polls < fixed.polls
