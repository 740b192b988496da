"""Hypothesis property tests of the lock core (CPython): random sequences of door, button,
manual-turn, motor, credential, remote, timer, settings and calibration events never make the core
drive the bolt while the door is open, never leave the motor running past its bound, never raise."""
from hypothesis import given, settings, strategies as st, HealthCheck

from corekit import Rig, check_invariants, LOCK_POS, UNLOCK_POS
from lockctl.keys import KeyList
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_REACHED, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE,
    EV_CONFIG, EV_CALIBRATE, A_DRIVE,
)

positions = st.one_of(
    st.sampled_from([LOCK_POS, UNLOCK_POS, 2000]),
    st.integers(LOCK_POS - 300, LOCK_POS + 300),
    st.integers(UNLOCK_POS - 300, UNLOCK_POS + 300),
    st.integers(0, 4095),
)
events = st.one_of(
    st.tuples(st.just(EV_POSITION), positions),
    st.tuples(st.just(EV_DOOR), st.booleans()),
    st.tuples(st.just(EV_BUTTON), st.none()),
    st.tuples(st.just(EV_STALL), st.none()),
    st.tuples(st.just(EV_REACHED), st.none()),
    st.tuples(st.just(EV_CREDENTIAL), st.sampled_from([("card", "04A1B2C3"), ("card", "FFFF"), ("phone", "p1")])),
    st.tuples(st.just(EV_REMOTE), st.tuples(st.sampled_from(["lock", "unlock"]), st.sampled_from(["m1", None]))),
    st.tuples(st.just(EV_TIMER), st.integers(0, 6)),
    st.tuples(st.just(EV_CONFIG), st.fixed_dictionaries({}, optional={
        "auto_lock": st.booleans(), "button_unlock": st.booleans(), "auto_lock_ms": st.integers(0, 20000),
        "jam_ms": st.integers(200, 3000), "backoff_ms": st.integers(0, 500), "held_open_ms": st.integers(0, 90000)})),
    st.tuples(st.just(EV_CALIBRATE), st.sampled_from(["auto", "manual", "mark", "cancel"])),
)
steps = st.lists(st.tuples(st.integers(0, 30000), events), max_size=60)
starts = st.tuples(st.sampled_from([None, (LOCK_POS, UNLOCK_POS), (UNLOCK_POS, LOCK_POS)]),
                   st.one_of(st.none(), positions), st.booleans())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(starts, steps)
def test_random_event_sequences_keep_the_safety_invariants(start, seq):
    cal, pos, door_open = start
    r = Rig(cal=cal, pos=pos, door_open=door_open, keys=KeyList([("card", "04A1B2C3", "alice")]))
    assert r.drives() == []  # boot never moves
    t = 0
    for dt, (kind, arg) in seq:
        t += dt
        r.ev(t, kind, arg)  # must not raise
        check_invariants(r)
    # let every pending timer run out: the motor ends stopped, within its bound
    r.advance(t + 10 ** 7)
    check_invariants(r)
    assert r.motor == 0
    for (t_, a) in r.actions:
        if a[0] == A_DRIVE:
            assert t_ >= 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(
    [(EV_DOOR, True), (EV_DOOR, False), (EV_BUTTON, None), (EV_STALL, None)])), max_size=80))
def test_jams_always_resolve_within_two_attempts(seq):
    """With the bolt stuck (no position ever arrives) every move ends in at most two bounded attempts."""
    r = Rig()
    t = 0
    for dt, (kind, arg) in seq:
        t += dt
        r.ev(t, kind, arg)
        check_invariants(r)
    r.advance(t + 10 ** 7)
    assert r.motor == 0
    spans = r.drive_spans
    forward = [s for s in spans if s[2] - s[1] > r.core.cfg["backoff_ms"]]
    assert all(s[2] - s[1] <= r.core.cfg["jam_ms"] for s in forward)
