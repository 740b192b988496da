"""Hypothesis property tests of the lock core (CPython): random sequences of door, button,
manual-turn, motor, credential, remote, timer, settings and calibration events never make the core
throw the bolt while the door is open, never leave the motor running past its bound, never raise;
and a stuck bolt gets exactly two attempts per request before it is reported jammed."""
from hypothesis import given, settings, strategies as st, HealthCheck

from conftest import examples
from corekit import Rig, check_invariants, LOCK_POS, UNLOCK_POS
from lockctl.keys import KeyList
from lockctl.codes import (
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE, EV_CONFIG, EV_CALIBRATE, EV_SENSOR,
    A_DRIVE, A_LOG, LOG_RETRY, LOG_JAM, LOG_UNLOCK, TOWARD_UNLOCK, KIND_ISO14443A, KIND_PHONE, R_BAD_MAC,
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
    st.tuples(st.just(EV_CREDENTIAL), st.sampled_from([(KIND_ISO14443A, "04A1B2C3"), (KIND_ISO14443A, "FFFF"),
                                                       (KIND_PHONE, "p1"), (KIND_PHONE, "p1", R_BAD_MAC)])),
    st.tuples(st.just(EV_REMOTE), st.tuples(st.sampled_from(["lock", "unlock"]), st.sampled_from(["m1", None]))),
    st.tuples(st.just(EV_TIMER), st.none()),
    st.tuples(st.just(EV_CONFIG), st.fixed_dictionaries({}, optional={
        "auto_lock": st.booleans(), "button_unlock": st.booleans(), "auto_lock_ms": st.integers(0, 20000),
        "jam_ms": st.integers(200, 3000), "backoff_ms": st.integers(0, 500), "held_open_ms": st.integers(0, 90000),
        "relock_on_boot": st.booleans(), "manual_cal_ms": st.integers(10000, 60000)})),
    st.tuples(st.just(EV_CALIBRATE), st.sampled_from(["auto", "manual", "mark", "cancel"])),
    st.tuples(st.just(EV_SENSOR), st.tuples(st.just(EV_DOOR), st.booleans())),
)
steps = st.lists(st.tuples(st.integers(0, 30000), events), max_size=60)
starts = st.tuples(st.sampled_from([None, (LOCK_POS, UNLOCK_POS), (UNLOCK_POS, LOCK_POS)]),
                   st.one_of(st.none(), positions), st.booleans())


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(starts, steps)
def test_random_event_sequences_keep_the_safety_invariants(start, seq):
    cal, pos, door_open = start
    r = Rig(cal=cal, pos=pos, door_open=door_open, keys=KeyList([(KIND_ISO14443A, "04A1B2C3", "alice")]))
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


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(
    [(EV_DOOR, True), (EV_DOOR, False), (EV_BUTTON, None), (EV_STALL, None)])), max_size=80),
    st.sampled_from([0, 200]))
def test_a_stuck_bolt_gets_two_attempts_per_request_then_jams(seq, backoff_ms):
    """With the bolt stuck at the lock end (no position ever arrives) every button request drives at
    most twice toward unlock (the first attempt and one retry) and a move that fails both is JAM."""
    r = Rig(config={"backoff_ms": backoff_ms})
    t = 0
    for dt, (kind, arg) in seq:
        t += dt
        r.ev(t, kind, arg)
        check_invariants(r)
    r.advance(t + 10 ** 7)
    assert r.motor == 0
    attempts = None  # forward drives in the current move
    retries = 0
    jams = 0
    for kind, acts in r.batches:
        for a in acts:
            if a[0] == A_DRIVE and a[1] == TOWARD_UNLOCK:
                if kind == EV_BUTTON:  # a request starts a move (the bolt is stuck, so never there)
                    attempts, retries = 1, 0
                else:  # the retry after a stall or a time-out (back-off end)
                    assert kind in (EV_TIMER, EV_STALL), kind
                    assert attempts is not None
                    attempts += 1
                assert attempts <= 2, "a third attempt in one move"
            elif a[0] == A_LOG and a[1][1] == LOG_RETRY:
                retries += 1
                assert retries == 1 and attempts == 1
            elif a[0] == A_LOG and a[1][1] == LOG_JAM:
                assert attempts == 2 and retries == 1, "jammed after %s attempts" % attempts
                jams += 1
                attempts = None
            elif a[0] == A_LOG and a[1][1] == LOG_UNLOCK:
                attempts = None  # the door opened: the unlock counts as done
    # every button press on the closed door that started a move and was left alone ended in a JAM
    if any(k == EV_BUTTON for k, acts in r.batches if any(a[0] == A_DRIVE for a in acts)):
        assert jams or any(a[0] == A_LOG and a[1][1] == LOG_UNLOCK for _, acts in r.batches for a in acts)
