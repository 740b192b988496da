# The whole firmware offline (issue 7), over the flash store (rig: offlinerig.py): every record of
# a session in the event log (wall time once the clock is set, ms since boot before), use counts and
# wrong PINs across reboots, bundle installs and refusals with their reason, boot counts. Records are
# compared as (t, code, arg, who) tuples (see offlinerig.py on the heap).
from offlinerig import Door, creds, bundle, expected, on_flash, U, CARD, PIN, PROFILES, UNLOCK
from keykit import full, delta, rec, ALWAYS, SECRET, DOOR
from lockctl import bundle as B
from lockctl.codes import (EV_CREDENTIAL, EV_CONFIG, EV_BATTERY, BATT_LOW, F_CORE, LOG_BOOT, LOG_DENIED,
                           LOG_UNLOCK, LOG_BUNDLE, LOG_BUNDLE_REFUSED, LOG_CONFIG, LOG_CLOCK_SET, LOG_BATTERY,
                           LOG_DOOR_OPEN, LOG_DOOR_CLOSE, LOG_PIN_LOCKOUT, LOCKED, UNLOCKED, R_UNKNOWN,
                           R_CLOCK_UNSET, R_USED_UP, R_PIN_LOCKOUT, R_BAD_SIGNATURE, R_WRONG_DOOR, R_OLD_VERSION,
                           R_BASE_MISMATCH, R_CORRUPT, R_NO_ROOM, R_FORMAT)
import gc

MP_HEAP = "96wK"  # the whole firmware shell: App + core + key store + event log (tests/conftest.py)
HELD_OPEN_MS = 5  # its setting id (CONFIG records)


def opened(t, user, kind=CARD):
    return (t, LOG_UNLOCK, kind, user)


def denied(t, reason, ident, kind=CARD):
    return (t, LOG_DENIED, reason, (kind, ident))


def test_every_record_of_a_session_lands_in_the_event_log():
    d = Door(pos=UNLOCK, config={"held_open_ms": 60000})
    d.card(1000, "A1B2C3D4")
    d.card(2000, "DEADBEEF")
    d.card(2500, "0000", PIN)
    d.app.feed(d.step(3000), EV_CONFIG, {"held_open_ms": 0})
    d.app.set_clock(d.step(4000), U)
    d.card(5500, "A1B2C3D4")
    d.app.feed(d.step(6000), EV_BATTERY, (BATT_LOW, 3400))
    # three hours with nothing for the core, then a bundle: logged at its own time
    t = 6000 + 3 * 3600 * 1000
    v, why = d.app.install_bundle(d.step(t), [full(creds() + [rec(CARD, "11223344", 5)], 2, PROFILES)])
    assert (v, why) == (2, None), d.app.last_fault
    d.door_pin.level = 1
    d.run_to(t + 2000)
    d.door_pin.level = 0
    d.run_to(t + 4000)
    assert d.app.log == [
        (0, LOG_BOOT, (UNLOCKED, 1), None), (10, LOG_BUNDLE, (1, 4), None), opened(1000, 1),
        denied(2000, R_UNKNOWN, "DEADBEEF"), denied(2500, R_UNKNOWN, "", PIN),
        (3000, LOG_CONFIG, (HELD_OPEN_MS, 0), None), (4000, LOG_CLOCK_SET, (U, 4000), None), opened(5500, 1),
        (6000, LOG_BATTERY, (BATT_LOW, 3400), None), (t, LOG_BUNDLE, (2, 5), None),
        (t + 35, LOG_DOOR_OPEN, None, None), (t + 2035, LOG_DOOR_CLOSE, None, None)], d.app.log
    want = expected(d.app.log)
    assert on_flash(d) == want
    assert want[-3][:2] == (True, U + (t - 4000) // 1000)  # the BUNDLE: three hours after the set
    assert want[1][:2] == (False, 10) and want[7][:2] == (True, U + 1)
    # the next boot: the same records still there, then this boot's, numbered on
    seqs = [r[0] for r in d.storage.log.records()]
    d.reboot()
    d.card(700, "11223344")
    got = list(d.storage.log.records())
    assert [r[0] for r in got[:len(seqs)]] == seqs and [r[1] for r in got] == [1] * len(seqs) + [2, 2], (seqs, got)
    assert got[len(seqs)][0] > seqs[-1]
    assert on_flash(d, 2) == expected(d.app.log) and d.app.log == [(0, LOG_BOOT, (UNLOCKED, 2), None), opened(700, 5)]


def test_the_clock_from_the_rtc_at_boot_and_a_rebuilt_core_keep_wall_time():
    d = Door(pos=UNLOCK, rtc=True)
    d.app.set_clock(d.step(1000), U)
    d.reboot()
    assert d.app.core.wall_time() == U + (d.world - 1000) // 1000
    d.run_to(3000)
    assert d.app.wall_at(3000) == U + (d.world - 1000 + 3000) // 1000
    d.card(4000, "0E0E0E0E")  # time-limited: open, the RTC kept the time
    assert on_flash(d, 2) == expected(d.app.log, (0, U + (d.world - 1000) // 1000))
    # without an RTC a fault's rebuilt core keeps the clock the old one had
    d = None
    d = Door(pos=UNLOCK)
    d.app.set_clock(d.step(1000), U)
    d.run_to(5000)
    d.app.fault(d.step(61000), F_CORE, EV_CREDENTIAL, ValueError("test"))
    assert d.app.core.wall_time() == U + 60
    assert d.card(62000, "0E0E0E0E") == opened(62000, 2)
    assert on_flash(d) == expected(d.app.log)


def test_use_counts_survive_reboots():
    d = Door(pos=UNLOCK, rtc=True)
    assert d.card(100, "0E0E0E0E") == denied(100, R_CLOCK_UNSET, "0E0E0E0E")
    d.app.set_clock(d.step(200), U)
    assert [d.card(300, "0F0F0F0F"), d.card(400, "0F0F0F0F"), d.card(500, "0F0F0F0F")] == [
        opened(300, 3), opened(400, 3), denied(500, R_USED_UP, "0F0F0F0F")]
    assert d.card(600, "0E0E0E0E") == opened(600, 2)
    d.reboot()
    assert [d.card(100, "0E0E0E0E"), d.card(200, "0E0E0E0E"), d.card(300, "0F0F0F0F")] == [
        opened(100, 2), denied(200, R_USED_UP, "0E0E0E0E"), denied(300, R_USED_UP, "0F0F0F0F")]
    d.reboot()
    assert [d.card(100, "0E0E0E0E"), d.card(200, "0F0F0F0F"), d.card(300, "A1B2C3D4")] == [
        denied(100, R_USED_UP, "0E0E0E0E"), denied(200, R_USED_UP, "0F0F0F0F"), opened(300, 1)]
    # a new bundle version keeps the counts (keyed by the credential)
    assert d.app.install_bundle(d.step(400), [bundle(2)]) == (2, None)
    assert d.card(500, "0F0F0F0F") == denied(500, R_USED_UP, "0F0F0F0F")
    # the RTC lost: time-limited ones cannot be judged, counted "always" ones are still spent
    d.rtc.base = None
    d.reboot()
    assert [d.card(100, "0E0E0E0E"), d.card(200, "0F0F0F0F")] == [
        denied(100, R_CLOCK_UNSET, "0E0E0E0E"), denied(200, R_USED_UP, "0F0F0F0F")]


def test_wrong_pins_survive_a_reboot():
    d = Door(pos=UNLOCK)
    for i in range(4):
        d.card(100 * (i + 1), "0000", PIN)
    d.reboot()
    assert d.app.core.pin_fails == 4 and not d.app.core.pin_locked_out()
    assert d.card(100, "1234", PIN) == (100, LOG_PIN_LOCKOUT, 30, None)
    assert d.app.log[-2] == denied(100, R_UNKNOWN, "", PIN)
    d.reboot()  # the lockout is not ended by a reboot
    assert d.card(100, "4711", PIN) == denied(100, R_PIN_LOCKOUT, "", PIN)
    assert d.card(30000, "4711", PIN) == opened(30000, 4, PIN)
    d.reboot()
    assert d.app.core.pin_fails == 0
    for log in d.logs:
        for r in log:
            assert "4711" not in repr(r) and "1234" not in repr(r[2:]) and "0000" not in repr(r[2:]), r
    for r in d.storage.log.records():
        if r[4] == LOG_DENIED and r[6][0] == PIN:
            assert r[6] == (PIN, ""), r


def _all_open(d, t):
    """Every credential of creds() answers as it did: A1 opens, the PIN opens, the counted ones are
    still granted by the store (checked without using them up)."""
    assert d.card(t, "A1B2C3D4") == opened(t, 1), (d.app.log[-3:], d.storage.faults)
    assert d.card(t + 1, "4711", PIN) == opened(t + 1, 4, PIN), d.app.log[-3:]
    ks = d.storage.keys
    assert ks.version == 1 and len(ks) == 4
    assert ks.check(CARD, "0F0F0F0F", None) == (3, None)
    assert ks.check(CARD, "0E0E0E0E", U) == (2, None)


def _last(d, t):
    # the record before a refusal at t: the BUNDLE at 10, or the last _all_open's PIN
    return (10, LOG_BUNDLE, (1, 4), None) if t == 1000 else opened(t - 1000 + 11, 4, PIN)


def test_bundles_refused_with_their_reason_leave_every_credential_working():
    d = Door(pos=UNLOCK)
    more = creds() + [rec(CARD, "11223344", 5)]
    bad_body = bytearray(full(more, 2, PROFILES))
    bad_body[-3] ^= 0x40
    flipped_header = bytearray(full(more, 2, PROFILES))
    flipped_header[60] ^= 1  # inside the signed part (the body hash)
    big = [rec(CARD, "11223344", 5)] * 766  # (the same record: the header alone is refused)
    cases = (
        (full(more, 2, PROFILES, secret=b"x" * 32), R_BAD_SIGNATURE),
        (bytes(flipped_header), R_BAD_SIGNATURE),
        (full(more, 2, PROFILES, door=b"door-2"), R_WRONG_DOOR),
        (full(more, 1, PROFILES), R_OLD_VERSION),
        (delta([(B.OP_ADD, rec(CARD, "11223344", 5))], 3, 2, PROFILES), R_BASE_MISMATCH),
        (bytes(bad_body), R_CORRUPT),  # streamed into the spare slot, refused at the end
        (full(more, 2, PROFILES)[:-7], R_CORRUPT),  # truncated
        (full(more, 2, PROFILES) + b"\x00", R_CORRUPT),  # longer than it says
        (delta([(B.OP_REMOVE, rec(CARD, "55667788", 9))], 2, 1, PROFILES), R_CORRUPT),  # not on the lock
        (B.chunks(SECRET, DOOR, B.FULL, 2, 0, [ALWAYS], big), R_NO_ROOM),
        (b"DKB0" + full(more, 2, PROFILES)[4:], R_FORMAT),
        (full(more, 2, PROFILES)[:50], R_CORRUPT),  # not even a header
    )
    t = 1000
    for data, reason in cases:
        chunks = data if type(data) is not bytes else [data[i:i + 300] for i in range(0, len(data), 300)]
        gc.collect()  # (the installer's 4 KB: a refusal for want of memory would be another reason)
        assert d.app.install_bundle(d.step(t), chunks) == (None, reason), (reason, d.app.last_fault)
        assert d.app.log[-2:] == [_last(d, t), (t, LOG_BUNDLE_REFUSED, reason, None)], (reason, d.app.log[-2:])
        _all_open(d, t + 10)
        t += 1000
    assert d.card(t, "11223344") == denied(t, R_UNKNOWN, "11223344")
    d.reboot()
    _all_open(d, 100)
    assert on_flash(d, 1)[-16:] == expected(d.logs[0])  # (the last 16: the App's RAM log)
    # and a good one still installs on top
    cases = big = bad_body = flipped_header = data = chunks = None
    gc.collect()  # (the installer's 4 KB in one piece: the cases above let go first)
    assert d.app.install_bundle(d.step(200), [full(more, 2, PROFILES)]) == (2, None), d.app.last_fault
    assert d.app.log[-1] == (200, LOG_BUNDLE, (2, 5), None) and d.card(300, "11223344") == opened(300, 5)


def test_the_boot_count_counts_every_start():
    d = Door(keys=False)
    d.reboot()
    d.reboot()
    assert [log[0] for log in d.logs] == [(0, LOG_BOOT, (LOCKED, n), None) for n in (1, 2, 3)]
    assert [(r[1], r[5]) for r in d.storage.log.records() if r[4] == LOG_BOOT] == [
        (1, (LOCKED, 1)), (2, (LOCKED, 2)), (3, (LOCKED, 3))]
    assert d.storage.boots == 3


