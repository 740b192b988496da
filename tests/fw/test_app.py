# The firmware shell with the real drivers on fake pins: board composition, boot, bounce, moves,
# stall, persistence, signals, the reader port. Runs on both runtimes (the loop: test_app_loop.py,
# faults: test_app_faults.py).
from apprig import Rig, LOCK, UNLOCK, CARD
from fakes import FakePWM
from fwcheck import raises
from lockshell.app import BRAKE_MS
from lockctl.codes import EV_CALIBRATE, EV_CONFIG, EV_CREDENTIAL, UNLOCKING, KIND_FELICA

MP_HEAP = "96wK"  # the whole firmware shell: App + core + every driver (tests/conftest.py)


def test_boot_writes_nothing_but_zero_to_the_motor():
    for pos in (LOCK, 2000, UNLOCK):
        for door in (False, True):
            r = Rig(pos=pos, door_open=door, config={"relock_on_boot": False})
            r.run_to(30000)
            assert max(r.a.history + r.b.history) == 0
            # with relock_on_boot (the default) only a closed door at the unlock end relocks, and
            # not before the relock grace
            r = Rig(pos=pos, door_open=door)
            r.run_to(9995)
            assert max(r.a.history + r.b.history) == 0
            r.run_to(10000)
            assert r.legs() == ((0, 65535) if (pos == UNLOCK and not door) else (0, 0)), (pos, door)


def test_bouncing_door_gives_one_event_each_way():
    r = Rig(pos=UNLOCK, config={"auto_lock": False})
    # a reed switch bouncing for 25 ms on opening and 40 ms on closing
    for t, level in ((100, 1), (103, 0), (109, 1), (114, 0), (118, 1), (125, 1)):
        r.run_to(t, 1)
        r.door_pin.set(level)
    r.run_to(1000, 1)
    for t, level in ((2000, 0), (2004, 1), (2011, 0), (2020, 1), (2026, 0), (2040, 0)):
        r.run_to(t, 1)
        r.door_pin.set(level)
    r.run_to(3000, 1)
    # last edges at 118 and 2026, seen by the next 1 ms poll, stable 30 ms later
    assert r.lines() == ["0 BOOT unlocked", "149 DOOR_OPEN", "2057 DOOR_CLOSE"]


def test_button_unlock_drives_then_brakes_then_coasts():
    r = Rig(config={"auto_lock": False})
    r.button_pin.set(0)
    r.run_to(100)
    assert r.legs() == (65535, 0)  # driving toward unlock
    r.button_pin.set(1)
    r.set_pos(2000)
    r.run_to(400)
    r.set_pos(UNLOCK)
    r.run_to(405)
    assert r.legs() == (65535, 65535)  # braked
    assert r.app.next_deadline() == 405 + BRAKE_MS  # a runner that sleeps until then releases it
    r.run_to(405 + BRAKE_MS)
    assert r.legs() == (0, 0)  # released so the knob turns freely by hand
    assert r.lines() == ["0 BOOT locked", "405 UNLOCK button"]
    assert not r.app.busy()


def test_stall_current_triggers_retry_and_jam():
    r = Rig(config={"auto_lock": False})
    r.app.submit(0, EV_CREDENTIAL, (CARD, "04A1B2C3"))
    r.current.value = 60000  # blocked from the start
    r.run_to(3000)
    assert r.lines() == ["0 BOOT locked", "210 RETRY stall alice", "620 JAM unlock alice"]
    assert r.legs() == (0, 0) and not r.app.core.motor


def test_calibration_and_settings_are_persisted_and_restored():
    r = Rig(cal=None, pos=1800)
    r.app.submit(0, EV_CALIBRATE, "manual")
    r.set_pos(700)
    r.run_to(100)
    r.app.submit(100, EV_CALIBRATE, "mark")
    r.set_pos(3100)
    r.run_to(200)
    r.app.submit(200, EV_CALIBRATE, "mark")
    r.app.submit(300, EV_CONFIG, {"button_unlock": False})
    assert r.store.calibration == (700, 3100)
    assert r.store.config["button_unlock"] is False
    # a reboot with the same store comes up calibrated, with the setting, and does not move
    cfg, cal = r.store.load()
    r2 = Rig(cal=cal, pos=3100, config=cfg)
    assert r2.lines() == ["0 BOOT unlocked"]
    assert r2.app.core.cfg["button_unlock"] is False


def test_bad_stored_calibration_boots_uncalibrated_and_says_so():
    r = Rig(cal=(1000, 1010))
    assert r.lines() == ["0 FAULT store -", "0 BOOT uncalibrated"]


def test_a_stored_setting_that_no_longer_validates_drops_only_itself():
    # (a firmware update that narrows a range must not throw away the calibration or the rest)
    r = Rig(config={"relock_ms": 500, "auto_lock_ms": 4000, "bogus": 1})
    assert r.lines() == ["0 FAULT store -", "0 BOOT locked"]
    assert r.app.core.cfg["auto_lock_ms"] == 4000 and r.app.core.cfg["relock_ms"] == 10000
    assert r.app.core.cal == (LOCK, UNLOCK)


def test_bad_submit_raises_and_changes_nothing():
    r = Rig()
    raises(ValueError, r.app.submit, 10, EV_CONFIG, {"auto_lock_ms": -5})
    raises(ValueError, r.app.submit, 10, EV_CALIBRATE, "sideways")
    assert r.lines() == ["0 BOOT locked"] and r.store.writes == 0


def test_alarm_sound_resumes_after_another_pattern():
    from drivers.indicator import Indicator
    buzzer = FakePWM()
    r = Rig(config={"held_open_ms": 1000}, indicator=Indicator(None, buzzer))
    r.door_pin.set(1)  # forced open while locked: alarm
    r.run_to(200)
    assert r.app.core.alarm
    r.app.submit(200, EV_CREDENTIAL, (CARD, "BAD"))  # denied beep plays over the alarm pattern
    r.run_to(5000)
    n = len(buzzer.history)
    r.run_to(8000)
    assert len(buzzer.history) > n  # still sounding
    r.door_pin.set(0)
    r.run_to(8200)
    assert not r.app.core.alarm
    r.run_to(9000)
    n = len(buzzer.history)
    r.run_to(12000)
    assert len(buzzer.history) == n and buzzer.duty == 0  # silent after the door closed


class ScriptedReader:
    """Stands in for NfcReader: events at given times, a command 'running' while busy is set."""

    def __init__(self, events):
        self.events = events  # {t: event}
        self.busy = False
        self.down = False
        self.error = 0

    def poll(self, now):
        return self.events.pop(now, None)

    def next_deadline(self):
        if self.busy:
            return None
        return min(self.events) if self.events else None


def test_reader_events_become_credentials_and_reader_status():
    rd = ScriptedReader({100: ("card", CARD, "04A1B2C3"), 200: ("down", -3), 300: ("up",),
                         400: ("card", KIND_FELICA, "0102")})
    r = Rig(config={"auto_lock": False}, reader=rd)
    assert r.app.next_deadline() == 100  # the App sleeps no longer than the reader needs
    rd.busy = True
    assert r.app.busy()  # a reader command in flight: keep polling finely
    rd.busy = False
    r.run_to(500)
    assert r.lines() == ["0 BOOT locked", "200 READER_DOWN -3", "300 READER_UP",
                         "400 DENIED unknown felica:0102"]
    assert r.app.core.state == UNLOCKING  # for alice's card at 100 (the knob has not moved)
    assert r.app.board.motor.direction == 1


def test_poll_next_deadline_and_busy_allocate_nothing_at_rest():
    # the whole firmware at rest with its card reader polling (no card): no garbage, no GC ever
    from fakes import alloc_bytes
    from pn532fakes import FakeChip, FakeUart, chip_frame
    from drivers import pn532 as P
    from lockshell.nfc import NfcReader
    chip = FakeChip({0x14: chip_frame(0x15), 0x02: chip_frame(0x03, b"\x32\x01\x06\x07"), 0x32: chip_frame(0x33),
                     0x4A: chip_frame(0x4B, b"\x00"), 0x16: chip_frame(0x17, b"\x00")}, record=False)
    r = Rig(reader=NfcReader(P.PN532(P.HsuLink(FakeUart(chip, record=False)))))
    app = r.app
    t = [0]
    while t[0] < 2000:  # the reader's start-up
        app.poll(t[0])
        t[0] += 10

    def loop():
        for _ in range(300):
            app.poll(t[0])
            app.next_deadline()
            app.busy()
            t[0] += 10

    used = alloc_bytes(loop)
    assert used is None or used == 0, used
    assert app.board.reader.polls > 10 and r.lines() == ["0 BOOT locked"]
