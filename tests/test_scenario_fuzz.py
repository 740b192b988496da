"""Scenario files as a careless (or hostile) user writes them: whatever the text or bytes, parse()
either gives a Scenario or raises ScenarioError naming file:line, running a parsed scenario either
finishes or raises ScenarioError, and `doorkit sim --script` exits 0, 1 or 2 without a traceback."""
import math
import os
import subprocess
import sys

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings, strategies as st

import doorkit  # noqa: F401
from doorkit.sim import scenario
from doorkit.sim.scenario import ScenarioError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# values a user might type where a number, a time or a name belongs
JUNK = ["nan", "inf", "-inf", "-1", "0", "1", "45", "90", "999", "1e400", "1e3", "99999999999999999999",
        "", "1_0", "\u0663", "0.5", "-0", "+5", "1.5s", "100000d", "366d", "367d", "x", "=", "on", "off",
        "locked", "unlocked", "yes", "no", "800,3500", "5,5", "-3,4", "20-60", "60-20", "1-99999",
        "mifare", "suica", "phone", "hold", "auto", "dead", "alive", "lock", "unlock", "bob"]
SETUP = ["seed {}", "calibrated {}", "bolt {}", "door {}", "nfc {}", "key {} {} {}", "set auto_lock_ms={}",
         "set {}={}", "set auto_lock={} relock_ms={}", "set min_span={}"]
SETUP += ["world %s={}" % k for k in scenario.WORLD_KEYS] + ["world speed={}", "world {}={}"]
ACTIONS = ["door {}", "force door {}", "button {}", "button", "turn {}", "turn {} {}", "jam", "jam at={}",
           "jam moves={}", "jam {}", "jam at={} moves={}", "jam hold moves={}", "unjam", "unjam {}",
           "card {} {}", "tap {}", "tap {} {}", "reader {}", "remote {} {}", "set auto_lock={}",
           "set jam_ms={}", "set min_span={}", "calibrate {}", "enroll {} {} {}", "revoke {} {}", "reboot",
           "repair", "say {}", "{}"]

# lines that make sense, so that a good share of the generated files get as far as running
SETUP_OK = ["seed 3", "bolt 30", "bolt unlocked", "door open", "nfc on", "set auto_lock_ms=500", "world speed=300",
            "world noise=3", "key iso14443a DEADBEEF alice", "key felica 01 bob", "world door_bounce=0-5",
            "set min_span=2000", "world unlock_deg=100 bolt_deg=50", "calibrated 800,3500"]
ACTIONS_OK = ["door open", "door close", "force door open", "button", "button 50", "turn lock", "turn unlock 300",
              "turn 40", "jam", "jam at=40", "jam hold", "jam moves=2", "unjam", "card felica 01",
              "card iso14443a DEADBEEF", "tap mifare", "tap suica 200", "tap phone", "reader dead", "reader alive",
              "remote unlock bob", "remote lock bob", "set auto_lock=off", "set min_span=5000", "set jam_ms=300",
              "calibrate auto", "calibrate manual", "calibrate mark", "calibrate cancel", "enroll felica 02 carol",
              "revoke felica 01", "reboot", "repair", "say hi"]


def line(draw, good, templates):
    if draw(st.integers(0, 9)) < 7:
        return draw(st.sampled_from(good))
    return fill(draw(st.sampled_from(templates)), draw)


def fill(template, draw):
    return template.format(*[draw(st.sampled_from(JUNK)) for _ in range(template.count("{}"))])


@st.composite
def scenario_text(draw):
    lines = []
    lines = draw(st.lists(st.sampled_from(SETUP_OK + ["calibrated yes", "nfc on"] * 3), unique=True, max_size=5))
    for _ in range(draw(st.integers(0, 2)) // 2):
        lines.insert(draw(st.integers(0, len(lines))), fill(draw(st.sampled_from(SETUP)), draw))
    t = 0
    for _ in range(draw(st.integers(0, 5))):
        t += draw(st.integers(0, 3000))
        when = draw(st.sampled_from(["%d" % t, "%d" % t, "+0", "+%dms" % draw(st.integers(0, 999)), fill("{}", draw)]))
        lines.append("at %s %s" % (when, line(draw, ACTIONS_OK, ACTIONS)))
    if draw(st.integers(0, 9)):
        lines.append("run until %s" % draw(st.sampled_from(["+2s", "%d" % (t + 1000), fill("{}", draw)])))
    if draw(st.booleans()):
        lines += ["expect", "  0 BOOT locked #1"]
    # now and then a line of anything at all, anywhere
    if draw(st.integers(0, 3)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


def check_parse_and_run(text):
    try:
        scn = scenario.parse(text, "fz.scn")
    except ScenarioError as e:
        assert str(e).startswith("fz.scn:") and e.line is not None and e.line >= 1
        assert "\n" not in str(e)
        return None
    assert scn.until is not None and 0 <= scn.until <= scenario.MAX_MS
    for a in scn.actions:
        assert 0 <= a.t <= scn.until
        if a.verb == "turn" and not isinstance(a.args[0], str):
            assert math.isfinite(a.args[0]) and scn.stops[0] <= a.args[0] <= scn.stops[1]
    if scn.until <= 20000:
        try:
            res = scenario.run(scn)
        except ScenarioError as e:  # an action the lock refused at run time
            assert e.line is not None and "refused" in e.msg
            return None
        assert res.log and res.log[0].split()[1] == "BOOT"
        return res
    return scn


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_text())
def test_any_scenario_text_parses_or_names_its_line(text):
    check_parse_and_run(text)


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_load_or_name_their_line(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fz") / "b.scn"
    p.write_bytes(data)
    try:
        scenario.load(str(p))
    except ScenarioError as e:
        assert str(e).startswith(str(p) + ":") and "\n" not in str(e)


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_names_its_line(text):
    check_parse_and_run(text)


def doorkit_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "doorkit")
    if not os.path.exists(exe):
        pytest.fail("the doorkit console script is not installed next to %s" % sys.executable)
    return exe


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=scenario_text(), junk=st.binary(max_size=40), as_bytes=st.booleans())
def test_the_cli_exits_0_1_or_2_without_a_traceback(tmp_path, text, junk, as_bytes):
    p = tmp_path / "cli.scn"
    p.write_bytes(junk + text.encode("utf-8") if as_bytes else text.encode("utf-8"))
    try:
        scn = scenario.load(str(p))
        if scn.until > 20000:
            return  # parses; running a long scenario is not what this test is about
    except ScenarioError:
        pass
    r = subprocess.run([doorkit_exe(), "sim", "--script", str(p)], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode in (0, 1, 2), r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    if r.returncode == 2:
        assert r.stderr.startswith("doorkit sim: %s" % p), r.stderr
