# The firmware shell with the real drivers on fake pins: board composition, boot, bounce, moves,
# stall, persistence, the asyncio loop and fault handling. Runs on both runtimes.
import asyncio

from fakes import FakePin, FakePWM, FakeADC
from fwcheck import raises
from lockshell.app import App, run, BRAKE_MS
from lockshell.board import Board
from lockshell.store import MemoryStore
from lockctl.keys import KeyList
from lockctl.record import format_record
from lockctl.codes import EV_CALIBRATE, EV_CONFIG, EV_CREDENTIAL, UNLOCKING
from drivers.debounce import Debounced
from drivers.motor import HBridgeMotor
from drivers.position import PotPosition

LOCK, UNLOCK = 1000, 3000  # 12-bit positions


class Rig:
    def __init__(self, cal=(LOCK, UNLOCK), pos=LOCK, door_open=False, config=None):
        self.a, self.b = FakePWM(), FakePWM()
        self.adc = FakeADC(pos << 4)
        self.current = FakeADC(0)
        self.door_pin = FakePin(1 if door_open else 0)  # 1 = magnet away = open
        self.button_pin = FakePin(1)  # pull-up: 1 = released
        board = Board(HBridgeMotor(self.a, self.b, current_adc=self.current), PotPosition(self.adc),
                      Debounced(self.door_pin, 0), Debounced(self.button_pin, 0, active_low=True), None)
        self.store = MemoryStore(config, cal)
        self.app = App(board, self.store, KeyList([("card", "04A1B2C3", "alice")]))
        self.app.start(0)
        self.t = 0

    def set_pos(self, p):
        self.adc.value = p << 4

    def run_to(self, t, step=5):
        while self.t < t:
            self.t += step
            self.app.poll(self.t)

    def lines(self):
        return [format_record(r) for r in self.app.log]

    def legs(self):
        return self.a.duty, self.b.duty


def test_boot_writes_nothing_but_zero_to_the_motor():
    for pos in (LOCK, 2000, UNLOCK):
        for door in (False, True):
            r = Rig(pos=pos, door_open=door)
            r.run_to(30000)
            assert max(r.a.history + r.b.history) == 0


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
    r.app.submit(0, EV_CREDENTIAL, ("card", "04A1B2C3"))
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


def test_bad_stored_calibration_boots_uncalibrated():
    r = Rig(cal=(1000, 1010))
    assert r.lines() == ["0 BOOT uncalibrated"]


def test_bad_submit_raises_and_changes_nothing():
    r = Rig()
    raises(ValueError, r.app.submit, 10, EV_CONFIG, {"auto_lock_ms": -5})
    raises(ValueError, r.app.submit, 10, EV_CALIBRATE, "sideways")
    assert r.lines() == ["0 BOOT locked"] and r.store.writes == 0


def test_asyncio_loop_with_injected_clock_and_fault_handling():
    r = Rig(config={"auto_lock": False})
    clock = [0]

    def ticks_ms():
        return clock[0] & 0x3FFFFFFF  # wraps like the board's ticks

    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    async def sleep_ms(ms):
        clock[0] += ms
        await asyncio.sleep(0)

    clock[0] = 0x3FFFFFFF - 500  # start just before the tick counter wraps
    app = r.app
    app.core = None  # run() boots it again from the store
    app.log = []
    r.button_pin.set(0)
    # rebase every 300 ms here (every 6.2 days on the board): the log keeps absolute times and the
    # debouncer and jam timer run on across each rebase
    asyncio.run(run(app, ticks_ms, ticks_diff, sleep_ms, 10, 200, 300))
    assert app._epoch == 1800 and app.core.now < 300
    # press seen at 0, stable at 30 -> drive; the bolt never arrives: the 1.5 s jam bound expires at
    # 1530, long after the tick counter wrapped at about 500
    assert [format_record(x) for x in app.log] == ["0 BOOT locked", "1530 RETRY timeout"]
    assert app.core.motor == 1
    # a fault inside the core brakes the motor and the loop keeps serving
    def boom(*a):
        raise RuntimeError("injected")
    app.core.handle = boom
    r.set_pos(UNLOCK)
    raises(RuntimeError, app.poll, app.core.now + 10)
    assert app.faults == 1 and r.legs() == (65535, 65535)


def test_alarm_sound_resumes_after_another_pattern():
    from drivers.indicator import Indicator
    r = Rig(config={"held_open_ms": 1000})
    buzzer = FakePWM()
    r.app.board.indicator = Indicator(None, buzzer)
    r.door_pin.set(1)  # forced open while locked: alarm
    r.run_to(200)
    assert r.app.core.alarm
    r.app.submit(200, EV_CREDENTIAL, ("card", "BAD"))  # denied beep replaces the alarm pattern
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

    def poll(self, now):
        return self.events.pop(now, None)

    def next_deadline(self):
        if self.busy:
            return None
        return min(self.events) if self.events else None


def test_reader_events_become_credentials_and_reader_status():
    r = Rig(config={"auto_lock": False})
    rd = ScriptedReader({100: ("card", "card", "04A1B2C3"), 200: ("down", -3), 300: ("up",),
                         400: ("card", "felica", "0102")})
    r.app.reader = rd
    assert r.app.next_deadline() == 100  # the App sleeps no longer than the reader needs
    rd.busy = True
    assert r.app.busy()  # a reader command in flight: keep polling finely
    rd.busy = False
    r.run_to(500)
    assert r.lines() == ["0 BOOT locked", "200 READER_DOWN -3", "300 READER_UP",
                         "400 DENIED unknown felica:0102"]
    assert r.app.core.state == UNLOCKING  # for alice's card at 100 (the knob has not moved)
    assert r.app.board.motor.direction == 1


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
