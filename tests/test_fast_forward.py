"""The virtual board's exact fast-forward gives the same log as polling every millisecond, on random
scenarios full of what makes it hard: hands on the knob (during moves, back-offs and calibrations),
forced doors, jams, calibrations marked mid-turn, reboots, settings changes. (The shipped scenarios
are compared in test_scenarios.py; worlds with ADC noise are not exact by design: the noise a reading
gets depends on how often the ADC is read, docs/scenarios.md.)"""
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import examples
import doorkit  # noqa: F401
from doorkit.sim import scenario

times = st.integers(0, 400)
actions = st.one_of(
    st.sampled_from(["door open", "door close", "force door open", "button", "repair", "unjam", "reboot",
                     "card felica 01", "card felica 02", "remote lock bob", "remote unlock bob",
                     "calibrate auto", "calibrate manual", "calibrate mark", "calibrate cancel",
                     "set auto_lock=off", "set auto_lock=on", "set backoff_ms=0", "jam hold", "jam",
                     "jam moves=2"]),
    st.builds(lambda where, ms: "turn %s %d" % (where, ms),
              st.sampled_from(["lock", "unlock", "20", "40", "50", "70"]), st.integers(1, 1500)),
    st.builds(lambda at: "jam at=%d" % at, st.integers(5, 85)),
    st.builds(lambda ms: "button %d" % ms, st.integers(40, 800)),
)
setups = st.tuples(st.sampled_from(["yes", "no"]), st.sampled_from(["locked", "unlocked", "30", "60"]),
                   st.sampled_from(["open", "closed"]), st.sampled_from([40, 150]))


def _text(setup, steps):
    cal, bolt, door, speed = setup
    lines = ["seed 3", "calibrated %s" % cal, "bolt %s" % bolt, "door %s" % door, "world speed=%d" % speed,
             "key felica 01 alice"]
    t = 0
    for dt, act in steps:
        t += dt
        lines.append("at %d %s" % (t, act))
    lines.append("run until %d" % (t + 15000))
    return "\n".join(lines) + "\n"


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups, st.lists(st.tuples(times, actions), min_size=1, max_size=14))
def test_exact_fast_forward_equals_polling_every_ms(setup, steps):
    text = _text(setup, steps)
    try:
        scn = scenario.parse(text, "random.scn")
    except scenario.ScenarioError:
        return  # a combination the parser refuses (e.g. a turn beyond the end stops)
    try:
        exact = scenario.run(scn)
    except scenario.ScenarioError:
        return  # an action the lock refuses at run time: both modes refuse it the same way
    fixed = scenario.run(scn, mode="fixed", fine_ms=1)
    assert exact.log == fixed.log, text
