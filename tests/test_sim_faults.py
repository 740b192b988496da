"""Fail secure on the virtual board: a fault injected into each of the core's event handlers (half
done, then raising) while the bolt is at rest or moving. The physical bolt (the simulated world's
knob angle) stops where it is and stays there, FAULT is logged, the rebuilt core agrees with the
sensors, the button still lets people out, and a reboot comes up in the same state."""
import pytest

from doorkit.sim.board import VirtualDoor
from lockctl.codes import EV_CREDENTIAL, EV_REMOTE, EV_CONFIG, EV_CALIBRATE, EV_READER, KIND_ISO14443A
from lockctl.record import state_name

KEYS = [("iso14443a", "04A1B2C3", "alice")]
HANDLERS = ["_on_position", "_on_timer", "_on_door_open", "_on_door_close", "_on_button", "_on_stall",
            "_on_credential", "_on_remote", "_on_config", "_on_reader", "_on_calibrate"]


def _triggers(d):
    """handler -> (bolt at start, what to do first, the event that runs the handler)"""
    return {
        "_on_position": ("locked", lambda: d.card("iso14443a", "04A1B2C3"), lambda: d.advance(150)),
        "_on_timer": ("unlocked", lambda: (d.open_door(), d.advance(2000), d.close_door()), lambda: d.advance(3200)),
        "_on_door_open": ("unlocked", lambda: (d.open_door(), d.advance(1000), d.close_door(), d.advance(3100)),
                          lambda: (d.open_door(), d.advance(300))),
        "_on_door_close": ("unlocked", lambda: (d.open_door(), d.advance(500)), lambda: (d.close_door(), d.advance(300))),
        "_on_button": ("locked", None, lambda: (d.press_button(), d.advance(300))),
        "_on_stall": ("locked", lambda: (d.jam(), d.card("iso14443a", "04A1B2C3")), lambda: d.advance(400)),
        "_on_credential": ("locked", None, lambda: d.submit(EV_CREDENTIAL, (KIND_ISO14443A, "04A1B2C3"))),
        "_on_remote": ("locked", None, lambda: d.submit(EV_REMOTE, ("unlock", "admin"))),
        "_on_config": ("locked", None, lambda: d.submit(EV_CONFIG, {"auto_lock_ms": 5000})),
        "_on_reader": ("locked", None, lambda: d.submit(EV_READER, -3)),
        "_on_calibrate": ("locked", None, lambda: d.submit(EV_CALIBRATE, "auto")),
    }


@pytest.mark.parametrize("name", HANDLERS)
def test_fault_in_a_handler_leaves_the_bolt_where_it_is(name):
    probe = VirtualDoor(seed=1, calibration="ends", keys=KEYS)
    bolt = _triggers(probe)[name][0]
    d = VirtualDoor(seed=1, calibration="ends", keys=KEYS, bolt=bolt, config={"relock_on_boot": False})
    setup, trigger = _triggers(d)[name][1:]
    d.advance(500)
    if setup is not None:
        setup()
        d.advance(20)
    core = d.app.core
    original = getattr(core, name)

    def broken(*args):
        original(*args)
        raise RuntimeError("injected")
    setattr(core, name, broken)
    n = len(d.records)
    trigger()
    lines = d.lines(n)
    assert d.app.faults == 1 and any(" FAULT core " in s for s in lines), lines
    assert [s.split()[1] for s in lines].count("BOOT") == 1
    # the bolt stops (at most a few ms of coasting while the fault is seen) and stays put
    d.advance(BRAKE_SETTLE)
    angle = d.world.angle
    n = len(d.records)
    d.advance(9500)  # nothing moves by itself; a closed door that is not locked relocks after
    assert d.world.angle == angle and d.world.direction == 0, (name, angle, d.world.angle)  # relock_ms
    d.advance(10000)
    later = [s.split()[1:3] for s in d.lines(n)]
    if d.world.angle != angle:
        assert ["LOCK", "relock"] in later and d.world.bolt_thrown(), (name, later)
    # the rebuilt core agrees with the sensors: what a reboot finds, it already says
    state = state_name(d.app.core.state)
    if d.world.door_open:
        d.close_door()
        d.advance(500)
        state = state_name(d.app.core.state)
    d.reboot()
    assert d.lines()[-1].endswith("BOOT %s #2" % state), (name, d.lines()[-3:], state)
    # and the button still lets people out
    d.press_button()
    d.advance(3000)
    assert d.lines()[-1].endswith("UNLOCK button") and d.world.angle > d.world.bolt / 1e6, d.lines()[-3:]


BRAKE_SETTLE = 200
