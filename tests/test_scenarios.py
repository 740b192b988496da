"""Scenario files (sim/scenario.py, docs/scenarios.md): parsing, errors with file:line, the runner,
and every shipped sim/scenarios/*.scn."""
import glob
import os

import pytest

import doorkit  # noqa: F401
from doorkit.sim import scenario
from doorkit.sim.scenario import ScenarioError, parse, parse_duration, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = sorted(glob.glob(os.path.join(ROOT, "sim", "scenarios", "*.scn")))


def test_the_shipped_scenarios_are_there():
    names = [os.path.basename(p) for p in SCENARIOS]
    assert "demo.scn" in names and len(names) >= 6


@pytest.mark.parametrize("path", SCENARIOS, ids=os.path.basename)
def test_shipped_scenario_matches_its_expect_block(path):
    scn = scenario.load(path)
    assert scn.expect, "%s has no expect block" % path
    res = run(scn)
    assert res.ok, res.report()


@pytest.mark.parametrize("path", SCENARIOS, ids=os.path.basename)
def test_shipped_scenario_same_log_when_polled_every_millisecond(path):
    scn = scenario.load(path)
    assert run(scn, mode="fixed", fine_ms=1).log == run(scn).log


def test_demo_runs_and_narrates():
    # the exact log is demo.scn's own expect block (checked by the shipped-scenario tests)
    res = run(scenario.load(os.path.join(ROOT, "sim", "scenarios", "demo.scn")))
    assert res.ok and len(res.log) == 22
    assert "# 55000 the door is forced open: the strike plate breaks" in res.output
    assert res.output[1] == "# 0 Power on: calibrated, bolt thrown, door closed."


MINI = """\
seed 1
calibrated yes
key felica 01 alice
at 1s card felica 01
at +2s door open
at 6000 door close
run until 12s
expect
  0 BOOT locked
  1540 UNLOCK felica alice
  3050 DOOR_OPEN
  6083 DOOR_CLOSE
  9563 LOCK auto
"""


def test_parse_a_small_scenario():
    scn = parse(MINI, "mini.scn")
    assert scn.seed == 1 and scn.calibration == "ends" and scn.keys == [("felica", "01", "alice")]
    assert [(a.t, a.verb, a.args, a.line) for a in scn.actions] == [
        (1000, "card", ("felica", "01"), 4), (3000, "door", ("open",), 5), (6000, "door", ("close",), 6)]
    assert scn.until == 12000
    assert scn.expect[0] == (9, "0 BOOT locked") and len(scn.expect) == 5
    assert run(scn).ok


def test_expect_mismatch_names_the_line_and_shows_a_diff():
    text = MINI.replace("3050 DOOR_OPEN", "3051 DOOR_OPEN")
    res = run(parse(text, "mini.scn"))
    assert not res.ok
    assert res.first_bad == (2, 11, "3051 DOOR_OPEN", "3050 DOOR_OPEN")
    rep = res.report()
    assert rep.startswith("mini.scn:11: the log differs from expect at log line 3")
    assert "-3051 DOOR_OPEN" in rep and "+3050 DOOR_OPEN" in rep


def test_expect_missing_and_extra_lines():
    res = run(parse(MINI.replace("  9563 LOCK auto\n", ""), "m.scn"))
    assert not res.ok and res.first_bad == (4, None, None, "9563 LOCK auto")
    assert res.report().startswith("m.scn:8: ")  # the expect line itself
    res = run(parse(MINI + "  9999 LOCK auto\n", "m.scn"))
    assert not res.ok and res.first_bad == (5, 14, "9999 LOCK auto", None)


def test_no_expect_block_just_runs():
    res = run(parse("calibrated yes\nat 1s button\nrun until 3s\n"))
    assert res.ok and res.log == ["0 BOOT locked", "1580 UNLOCK button"]  # 40 ms bounce + settle, 81 deg


def test_comments_blank_lines_and_say():
    text = ("# header\n\ncalibrated yes   # trailing comment\n"
            "at 0 say Hello there # not part of it\nat 500 say\nrun until 1s\n"
            "expect\n  # a comment in the block\n\n  0 BOOT locked\n")
    res = run(parse(text))
    assert res.ok
    assert res.output == ["0 BOOT locked", "# 0 Hello there", "#"]


def test_verbose_echoes_actions():
    res = run(parse("calibrated yes\nat 1s jam moves=2\nat 1s door open\nrun until 2s\n"), verbose=True)
    assert res.output == ["0 BOOT locked", "# 1000 > jam moves=2", "# 1000 > door open",
                          "# 1000 the bolt is thrown: the door does not open"]


def test_setup_lines_reach_the_door():
    text = ("seed 9\nworld speed=300 unlock_deg=100 door_bounce=0-0\nbolt unlocked\ndoor open\n"
            "set auto_lock_ms=500 held_open_ms=0\ncalibrated 800,3800\nrun until 0\n")
    scn = parse(text)
    assert scn.world == {"speed_dps": 300.0, "unlock_deg": 100.0, "door_bounce": (0, 0)}
    assert scn.config == {"auto_lock_ms": 500, "held_open_ms": 0}
    res = run(scn)
    assert res.door.world.angle == 100.0 and res.door.world.door_open
    assert res.log == ["0 BOOT unlocked"]
    assert res.door.core.cfg["auto_lock_ms"] == 500


def test_all_actions_parse():
    text = """calibrated no
at 0 door open
at 0 door close
at 0 force door open
at 0 door force
at 0 button
at 0 button 300ms
at 0 turn lock
at 0 turn unlock 1.5s
at 0 turn 42.5 200
at 0 jam
at 0 jam at=40 moves=3
at 0 jam hold
at 0 unjam
at 0 card iso14443a 04A2
at 0 remote unlock bob
at 0 set auto_lock=off jam_ms=900
at 0 calibrate manual
at 0 enroll iso14443a 99 carol
at 0 revoke iso14443a 99
at 0 reboot
at 0 repair
at 0 say hi
run until +1min
"""
    scn = parse(text)
    assert [(a.verb, a.args) for a in scn.actions] == [
        ("door", ("open",)), ("door", ("close",)), ("door", ("force",)), ("door", ("force",)),
        ("button", (150,)), ("button", (300,)), ("turn", ("lock", 600)), ("turn", ("unlock", 1500)),
        ("turn", (42.5, 200)), ("jam", (None, 1)), ("jam", (40.0, 3)), ("jam", (None, None)), ("unjam", ()),
        ("card", ("iso14443a", "04A2")), ("remote", ("unlock", "bob")),
        ("set", ({"auto_lock": False, "jam_ms": 900},)), ("calibrate", ("manual",)),
        ("enroll", ("iso14443a", "99", "carol")), ("revoke", ("iso14443a", "99")), ("reboot", ()), ("repair", ()),
        ("say", ("hi",))]
    assert scn.until == 60000
    run(scn)  # and they all run


@pytest.mark.parametrize("text,ms", [("1500", 1500), ("1500ms", 1500), ("1.5s", 1500), ("2min", 120000),
                                     ("1h", 3600000), ("1d", 86400000), ("0", 0)])
def test_durations(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "s", "-5", "1.2345s", "3x", "1e3"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


BAD = [
    ("calibrated yes\nat 1s fly away\nrun until 2s\n", 2, "unknown action 'fly'"),
    ("calibrated yes\nat soon button\nrun until 2s\n", 2, "not a time"),
    ("at 2s button\nat 1s button\nrun until 2s\n", 2, "before the previous action at 2000"),
    ("at 1s button\nseed 3\nrun until 2s\n", 2, "setup line 'seed' after the first 'at' line"),
    ("at 1s button\n", 1, "missing 'run until <time>' line"),
    ("run until 1s\nat 2s button\n", 2, "only 'expect' may follow 'run until'"),
    ("at 5s button\nrun until 1s\n", 2, "before the last action"),
    ("run for 1s\n", 1, "expected 'run until <time>'"),
    ("expect\n0 BOOT locked\n", 1, "'run until <time>' must come before 'expect'"),
    ("run until 1s\nexpect now\n", 2, "'expect' stands alone"),
    ("colour blue\nrun until 1s\n", 1, "unknown setup line 'colour'"),
    ("seed x\nrun until 1s\n", 1, "expected 'seed <integer>'"),
    ("set auto_lock=maybe\nrun until 1s\n", 1, "auto_lock must be on or off"),
    ("set auto_lock_ms=-4\nrun until 1s\n", 1, "auto_lock_ms must be in 0..600000"),
    ("set colour=blue\nrun until 1s\n", 1, "unknown setting: colour"),
    ("set auto_lock_ms\nrun until 1s\n", 1, "expected key=value"),
    ("world warp=9\nrun until 1s\n", 1, "unknown world setting 'warp'"),
    ("world speed=fast\nrun until 1s\n", 1, "bad value for speed_dps"),
    ("world door_bounce=60-20\nrun until 1s\n", 1, "expected lo-hi ms"),
    ("world lock_deg=90 unlock_deg=10\nrun until 1s\n", 1, "unlock_deg must be above lock_deg"),
    ("bolt sideways\nrun until 1s\n", 1, "bolt must be locked, unlocked or an angle"),
    ("door ajar\nrun until 1s\n", 1, "expected 'door open' or 'door closed'"),
    ("calibrated maybe\nrun until 1s\n", 1, "calibrated takes yes, no or <lock>,<unlock>"),
    ("key felica 01\nrun until 1s\n", 1, "expected 'key <kind> <ident> <user>'"),
    ("key felica 01 a\nkey felica 01 b\nrun until 1s\n", 2, "already enrolled"),
    ("at 1s door wobble\nrun until 1s\n", 1, "expected 'door open', 'door close'"),
    ("at 1s force window open\nrun until 1s\n", 1, "expected 'force door open'"),
    ("at 1s button 1 2\nrun until 1s\n", 1, "expected 'button [<press duration>]'"),
    ("at 1s button 0\nrun until 1s\n", 1, "at least 1 ms"),
    ("at 1s turn left\nrun until 1s\n", 1, "turn to lock, unlock or an angle"),
    ("at 1s turn\nrun until 1s\n", 1, "expected 'turn lock|unlock|<degrees> [<duration>]'"),
    ("at 1s jam moves=0\nrun until 1s\n", 1, "bad value in 'moves=0'"),
    ("at 1s jam tight\nrun until 1s\n", 1, "jam takes at=<degrees>, moves=<n> and/or hold"),
    ("at 1s jam at=x\nrun until 1s\n", 1, "bad value in 'at=x'"),
    ("at 1s unjam now\nrun until 1s\n", 1, "'unjam' takes no arguments"),
    ("at 1s card felica\nrun until 1s\n", 1, "expected 'card <kind> <ident>'"),
    ("at 1s remote open bob\nrun until 1s\n", 1, "expected 'remote lock|unlock <user>'"),
    ("at 1s set\nrun until 1s\n", 1, "set needs at least one key=value"),
    ("at 1s set relock_ms=5\nrun until 1s\n", 1, "relock_ms must be in 1000..3600000"),
    ("at 1s calibrate twice\nrun until 1s\n", 1, "expected 'calibrate auto|manual|mark|cancel'"),
    ("at 1s enroll a b\nrun until 1s\n", 1, "expected 'enroll <kind> <ident> <user>'"),
    ("at 1s revoke a\nrun until 1s\n", 1, "expected 'revoke <kind> <ident>'"),
    ("at 1s\nrun until 1s\n", 1, "expected 'at <time> <action>'"),
]


@pytest.mark.parametrize("text,line,msg", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_scenarios_name_file_and_line(text, line, msg):
    with pytest.raises(ScenarioError) as ei:
        parse(text, "bad.scn")
    e = ei.value
    assert (e.path, e.line) == ("bad.scn", line)
    assert str(e).startswith("bad.scn:%d: " % line)
    assert msg in str(e), str(e)


def test_an_action_the_lock_refuses_at_run_time_names_its_line():
    text = "calibrated yes\nat 1s set min_span=5000\nrun until 2s\n"  # above the 2700 span
    with pytest.raises(ScenarioError) as ei:
        run(parse(text, "rt.scn"))
    assert str(ei.value).startswith("rt.scn:2: at 1000, set min_span=5000: refused: min_span above")


def test_enrolling_twice_at_run_time_is_refused():
    text = "key felica b c\nat 1s enroll felica b d\nrun until 2s\n"
    with pytest.raises(ScenarioError) as ei:
        run(parse(text, "k.scn"))
    assert "k.scn:2:" in str(ei.value) and "already registered" in str(ei.value)


def test_enroll_and_revoke_change_who_gets_in():
    text = """calibrated yes
at 1s card iso14443a 99
at 2s enroll iso14443a 99 carol
at 2s card iso14443a 99
at 5s remote lock carol
at 8s revoke iso14443a 99
at 8s card iso14443a 99
run until 10s
expect
  0 BOOT locked
  1000 DENIED unknown iso14443a:99
  2540 UNLOCK iso14443a carol
  5480 LOCK remote carol
  8000 DENIED unknown iso14443a:99
"""
    res = run(parse(text))
    assert res.ok, res.report()


def test_load_reports_a_missing_file():
    with pytest.raises(ScenarioError) as ei:
        scenario.load("/nonexistent/x.scn")
    assert str(ei.value).startswith("/nonexistent/x.scn: cannot read")


def test_seed_changes_the_bounce_and_so_the_timestamps():
    text = "seed %d\ncalibrated yes\nbolt unlocked\nat 1s door open\nrun until 2s\n"
    logs = {tuple(run(parse(text % s)).log) for s in range(6)}
    assert len(logs) > 1
    assert run(parse(text % 1)).log == run(parse(text % 1)).log
