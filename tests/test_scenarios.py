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
  0 BOOT locked #1
  1540 UNLOCK felica alice
  3050 DOOR_OPEN
  6083 DOOR_CLOSE
  9563 LOCK auto
"""


def test_parse_a_small_scenario():
    scn = parse(MINI, "mini.scn")
    assert scn.seed == 1 and scn.calibration == "ends" and scn.keys == [("felica", "01", "alice", {})]
    assert [(a.t, a.verb, a.args, a.line) for a in scn.actions] == [
        (1000, "card", ("felica", "01"), 4), (3000, "door", ("open",), 5), (6000, "door", ("close",), 6)]
    assert scn.until == 12000
    assert scn.expect[0] == (9, "0 BOOT locked #1") and len(scn.expect) == 5
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
    assert res.ok and res.log == ["0 BOOT locked #1", "1580 UNLOCK button"]  # 40 ms bounce + settle, 81 deg


def test_comments_blank_lines_and_say():
    text = ("# header\n\ncalibrated yes   # trailing comment\n"
            "at 0 say Hello there # not part of it\nat 500 say\nrun until 1s\n"
            "expect\n  # a comment in the block\n\n  0 BOOT locked #1\n")
    res = run(parse(text))
    assert res.ok
    assert res.output == ["0 BOOT locked #1", "# 0 Hello there", "#"]


def test_verbose_echoes_actions():
    res = run(parse("calibrated yes\nat 1s jam moves=2\nat 1s door open\nrun until 2s\n"), verbose=True)
    assert res.output == ["0 BOOT locked #1", "# 1000 > jam moves=2", "# 1000 > door open",
                          "# 1000 the bolt is thrown: the door does not open"]


def test_setup_lines_reach_the_door():
    text = ("seed 9\nworld speed=300 unlock_deg=100 door_bounce=0-0\nbolt unlocked\ndoor open\n"
            "set auto_lock_ms=500 held_open_ms=0\ncalibrated 800,3800\nrun until 0\n")
    scn = parse(text)
    assert scn.world == {"speed_dps": 300.0, "unlock_deg": 100.0, "door_bounce": (0, 0)}
    assert scn.config == {"auto_lock_ms": 500, "held_open_ms": 0}
    res = run(scn)
    assert res.door.world.angle == 100.0 and res.door.world.door_open
    assert res.log == ["0 BOOT unlocked #1"]
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
at 0 enroll pin 4711 dave days=sat,sun window=22:00-06:00 from=2026-01-01 uses=3
at 0 clock set 2026-12-04T09:00+09:00
at 0 pin 4711
at 0 keypad 12*4711#
at 0 battery 3400
at 0 power cut
run until +1min
"""
    scn = parse(text)
    assert [(a.verb, a.args) for a in scn.actions] == [
        ("door", ("open",)), ("door", ("close",)), ("door", ("force",)), ("door", ("force",)),
        ("button", (150,)), ("button", (300,)), ("turn", ("lock", 600)), ("turn", ("unlock", 1500)),
        ("turn", (42.5, 200)), ("jam", (None, 1)), ("jam", (40.0, 3)), ("jam", (None, None)), ("unjam", ()),
        ("card", ("iso14443a", "04A2")), ("remote", ("unlock", "bob")),
        ("set", ({"auto_lock": False, "jam_ms": 900},)), ("calibrate", ("manual",)),
        ("enroll", ("iso14443a", "99", "carol", {})), ("revoke", ("iso14443a", "99")), ("reboot", ()), ("repair", ()),
        ("say", ("hi",)),
        ("enroll", ("pin", "4711", "dave", {"days": "sat,sun", "window": "22:00-06:00", "start": "2026-01-01",
                                            "uses": "3"})),
        ("clock", (1796342400,)), ("keypad", ("4711#",)), ("keypad", ("12*4711#",)), ("battery", (3400,)),
        ("power", ())]
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
    ("expect\n0 BOOT locked #1\n", 1, "'run until <time>' must come before 'expect'"),
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
    ("key felica 01\nrun until 1s\n", 1, "expected 'key <kind> <ident> <user>"),
    ("key felica 0G x\nrun until 1s\n", 1, "key felica 0G: not hex"),
    ("key pin 12 x\nrun until 1s\n", 1, "key pin 12: a PIN is 4 to 8 digits"),
    ("key pin 1234 x days=funday\nrun until 1s\n", 1, "days are mon..sun"),
    ("key pin 1234 x window=9-5\nrun until 1s\n", 1, "a window is HH:MM-HH:MM"),
    ("key pin 1234 x color=red\nrun until 1s\n", 1, "key option 'color=red'"),
    ("clock tomorrow\nrun until 1s\n", 1, "a clock time is ISO 8601 with its zone"),
    ("clock 2026-12-02T09:00\nrun until 1s\n", 1, "a clock time is ISO 8601 with its zone"),
    ("at 1s pin 12ab\nrun until 1s\n", 1, "expected 'pin <digits>'"),
    ("at 1s keypad 12x\nrun until 1s\n", 1, "expected 'keypad <keys>'"),
    ("at 1s power off\nrun until 1s\n", 1, "expected 'power cut'"),
    ("at 1s battery lots\nrun until 1s\n", 1, "battery"),
    ("at 1s clock unset\nrun until 1s\n", 1, "'clock unset' is a setup line"),
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
    ("at 1s enroll a b\nrun until 1s\n", 1, "expected 'enroll <kind> <ident> <user>"),
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


def test_a_bundle_file_is_installed_and_a_forged_one_refused(tmp_path):
    from doorkit.keybook import KeyBook
    from sim.board import SECRET, DOOR_ID
    book = KeyBook(SECRET, DOOR_ID)
    book.add("felica", "0B", "zoe")
    (tmp_path / "good.dkb").write_bytes(book.bundle())
    (tmp_path / "forged.dkb").write_bytes(KeyBook(b"x" * 32, DOOR_ID).bundle())
    (tmp_path / "s.scn").write_text("calibrated yes\nat 1s bundle forged.dkb\nat 2s bundle good.dkb\n"
                                    "at 3s card felica 0B\nat 5s bundle good.dkb\nrun until 8s\n")
    res = run(scenario.load(str(tmp_path / "s.scn")))
    assert [x.split(" ", 1)[1] for x in res.log[:5]] == [
        "BOOT locked #1", "BUNDLE_REFUSED bad-signature", "BUNDLE v1 1", "UNLOCK felica 1", "BUNDLE_REFUSED old-version"]
    with pytest.raises(ScenarioError) as ei:
        run(parse("at 1s bundle /nonexistent.dkb\nrun until 2s\n", "b.scn"))
    assert str(ei.value).startswith("b.scn:1: bundle /nonexistent.dkb: cannot read")


def test_enrolling_twice_at_run_time_is_refused():
    text = "key felica 0B c\nat 1s enroll felica 0b d\nrun until 2s\n"
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
  0 BOOT locked #1
  1000 DENIED unknown iso14443a:99
  2000 BUNDLE v1 1
  2540 UNLOCK iso14443a carol
  5480 LOCK remote carol
  8000 BUNDLE v2 0
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


# ---------------------------------------------------------------- nonsense a file may say (issue 6)
NONSENSE = [
    ("world speed_dps=0\nrun until 1s\n", 1, "bad value for speed_dps: '0' is not a number in 1..100000"),
    ("world speed_dps=-150\nrun until 1s\n", 1, "bad value for speed_dps: '-150'"),
    ("world speed_dps=nan\nrun until 1s\n", 1, "bad value for speed_dps: 'nan'"),
    ("world speed=inf\nrun until 1s\n", 1, "bad value for speed_dps: 'inf'"),
    ("world speed=1e3\nrun until 1s\n", 1, "bad value for speed_dps: '1e3'"),
    ("world noise=-1\nrun until 1s\n", 1, "bad value for noise: '-1' is not an integer in 0..4095"),
    ("world i_noise=-1\nrun until 1s\n", 1, "bad value for i_noise"),
    ("world i_stall=70000\nrun until 1s\n", 1, "bad value for i_stall: '70000' is not an integer in 0..65535"),
    ("world door_gap=0\nrun until 1s\n", 1, "bad value for door_gap: '0' is not an integer in 1..10000"),
    ("world inrush_ms=-5\nrun until 1s\n", 1, "bad value for inrush_ms"),
    ("world noise=1_0\nrun until 1s\n", 1, "bad value for noise: '1_0'"),
    ("world noise=\u0663\nrun until 1s\n", 1, "bad value for noise"),
    ("world button_bounce=1-99999999999\nrun until 1s\n", 1, "bad value for button_bounce"),
    ("world pot_per_deg=0\nrun until 1s\n", 1, "the pot would read the same at every angle"),
    ("world i_stall=10000\nrun until 1s\n", 1, "i_free 15000 must be below i_stall 10000"),
    ("world i_free=60000\nrun until 1s\n", 1, "i_free 60000 must be below i_stall 60000"),
    ("world lock_deg=nan\nrun until 1s\n", 1, "bad value for lock_deg: 'nan'"),
    ("world unlock_deg=1e400\nrun until 1s\n", 1, "bad value for unlock_deg"),
    ("world unlock_deg=30\nrun until 1s\n", 1, "bolt_deg 45 must lie above lock_deg 0 and at most at unlock_deg 30"),
    ("world lock_deg=50\nworld unlock_deg=40 bolt_deg=45\nrun until 1s\n", 2, "unlock_deg must be above lock_deg"),
    ("world noise=1\nworld noise=2\nrun until 1s\n", 2, "world noise is given twice (first at line 1)"),
    ("world speed=100 speed_dps=200\nrun until 1s\n", 1, "world speed_dps is given twice"),
    ("bolt nan\nrun until 1s\n", 1, "bolt must be locked, unlocked or an angle in degrees, not 'nan'"),
    ("bolt 999\nrun until 1s\n", 1, "bolt 999 is outside the end stops (lock_deg 0 .. unlock_deg 90)"),
    ("bolt 95\nworld unlock_deg=100\nrun until 1s\n", None, "ok"),
    ("bolt -1\nrun until 1s\n", 1, "bolt -1 is outside the end stops"),
    ("seed 1\nseed 2\nrun until 1s\n", 2, "'seed' is given twice (first at line 1)"),
    ("seed 1e3\nrun until 1s\n", 1, "expected 'seed <integer>'"),
    ("seed 99999999999999999999999\nrun until 1s\n", 1, "is not an integer in"),
    ("door open\ndoor closed\nrun until 1s\n", 2, "'door' is given twice"),
    ("calibrated 5,5\nrun until 1s\n", 1, "5,5 is only 0 apart, below min_span 100"),
    ("set min_span=3000\ncalibrated yes\nrun until 1s\n", 2, "(800, 3500) are only 2700 apart, below min_span 3000"),
    ("world pot_per_deg=0.5\ncalibrated yes\nrun until 1s\n", 2, "below min_span"),
    ("calibrated 5000,1\nrun until 1s\n", 1, "pot readings are 12-bit, 0..4095"),
    ("calibrated -3,4000\nrun until 1s\n", 1, "calibrated takes yes, no or <lock>,<unlock>"),
    ("set auto_lock_ms=1_000\nrun until 1s\n", 1, "auto_lock_ms must be an integer, not '1_000'"),
    ("set auto_lock_ms=+5\nrun until 1s\n", 1, "auto_lock_ms must be an integer, not '+5'"),
    ("set auto_lock_ms=5 auto_lock_ms=6\nrun until 1s\n", 1, "auto_lock_ms is given twice on this line"),
    ("set auto_lock_ms=5\nset auto_lock_ms=6\nrun until 1s\n", 2, "auto_lock_ms is set twice (first at line 1)"),
    ("at 1s turn 999\nrun until 2s\n", 1, "turn 999 is outside the end stops (lock_deg 0 .. unlock_deg 90)"),
    ("world unlock_deg=100\nat 1s turn 95\nrun until 2s\n", None, "ok"),
    ("at 1s turn nan\nrun until 2s\n", 1, "turn to lock, unlock or an angle in degrees, not 'nan'"),
    ("at 1s turn inf\nrun until 2s\n", 1, "turn to lock, unlock or an angle in degrees, not 'inf'"),
    ("at 1s turn lock 0\nrun until 2s\n", 1, "a hand turns the knob over 1 ms at least"),
    ("at 1s jam at=999\nrun until 2s\n", 1, "jam at=999 is outside the end stops"),
    ("at 1s jam at=1e400\nrun until 2s\n", 1, "bad value in 'at=1e400'"),
    ("at 1s jam hold moves=2\nrun until 2s\n", 1, "'hold' (until unjam) and moves=<n> contradict"),
    ("at 1s jam at=10 at=20\nrun until 2s\n", 1, "at is given twice"),
    ("at 1s jam moves=99999999999\nrun until 2s\n", 1, "bad value in 'moves=99999999999'"),
    ("at 1s revoke felica 01\nrun until 2s\n", 1, "revoke felica 01: no such key is enrolled at this point"),
    ("key felica 01 a\nat 1s revoke felica 01\nat 2s revoke felica 01\nrun until 3s\n", 3, "no such key is enrolled"),
    ("key felica 01 a\nat 1s revoke felica 01\nat 2s enroll felica 01 b\nat 3s revoke felica 01\nrun until 4s\n",
     None, "ok"),
    ("key felica 01 a\nat 1s enroll felica 01 b\nrun until 2s\n", 2, "key felica 01 is already registered (to a, line 1)"),
    ("at 1s enroll felica 01 b\nat 2s enroll felica 01 c\nrun until 3s\n", 2, "already registered (to b, line 1)"),
    ("at 1e400 button\nrun until 2s\n", 1, "not a time: '1e400'"),
    ("at 1s button\nrun until 100000d\n", 2, "time '100000d' is beyond the simulator's limit of 366d"),
    ("at 366d button\nrun until +1s\n", 2, "+1s after 31622400000 ms is beyond the simulator's limit of 366d"),
    ("at %s.5s button\nrun until 2s\n" % ("9" * 400), 1, "is beyond the simulator's limit of 366d"),
    ("at 1%s button\nrun until 2s\n" % ("0" * 5000), 1, "is beyond the simulator's limit of 366d"),
    ("at 1s button 400d\nrun until 2s\n", 1, "beyond the simulator's limit"),
    ("at \u0663s button\nrun until 2s\n", 1, "not a time"),
    ("run until 1s\x00\n", 1, "control character U+0000 at column 13"),
    ("seed 1\nrun until 1s\nexpect\n  0 BOOT\x07 locked\n", 4, "control character U+0007"),
    ("seed 1\x0bseed 2\nrun until 1s\n", 1, "control character U+000B"),
    ("seed 1\x0c\nrun until 1s\n", 1, "control character U+000C"),
    ("seed 1\u0085seed 2\nrun until 1s\n", 1, "control character U+0085"),
]


@pytest.mark.parametrize("text,line,msg", NONSENSE, ids=[b[2][:40] for b in NONSENSE])
def test_nonsense_is_refused_at_parse_time_with_file_and_line(text, line, msg):
    if line is None:  # the sensible neighbour of a refusal: accepted, and it runs
        scn = parse(text, "n.scn")
        assert run(scn).log[0].split()[1] == "BOOT"
        return
    with pytest.raises(ScenarioError) as ei:
        parse(text, "n.scn")
    e = ei.value
    assert (e.path, e.line) == ("n.scn", line), str(e)
    assert msg in e.msg, str(e)
    assert "\n" not in str(e)


def test_line_numbers_count_newlines_only():
    # form feeds and unicode line separators do not start a line (an editor would not either)
    with pytest.raises(ScenarioError) as ei:
        parse("seed 1\u2028\ncolour blue\nrun until 1s\n", "n.scn")
    assert ei.value.line == 2 and "unknown setup line 'colour'" in ei.value.msg
    scn = parse("seed 1\r\ncalibrated yes\r\nat 1s button\r\nrun until 2s\r\n")  # CRLF is fine
    assert scn.actions[0].line == 3 and scn.until == 2000
    assert parse("\ufeffseed 4\nrun until 0\n").seed == 4  # a UTF-8 byte order mark is skipped


@pytest.mark.parametrize("data,line,msg", [
    (b"\xff\xfe\x00b\x00i\x00n", 1, "not UTF-8 text: byte 0xff at column 1"),
    (b"seed 1\ncalibrated yes\n# caf\xe9\nrun until 1s\n", 3, "not UTF-8 text: byte 0xe9 at column 6"),
    (b"seed 1\x00\nrun until 1s\n", 1, "control character U+0000 at column 7"),
    (bytes(range(256)), 2, "not UTF-8 text: byte 0x80 at column 118"),
])
def test_binary_and_non_utf8_files_name_the_line(tmp_path, data, line, msg):
    p = tmp_path / "b.scn"
    p.write_bytes(data)
    with pytest.raises(ScenarioError) as ei:
        scenario.load(str(p))
    assert ei.value.line == line and msg in ei.value.msg, str(ei.value)


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path):
    p = tmp_path / "big.scn"
    with open(p, "wb") as f:
        f.truncate(scenario.MAX_FILE_BYTES + 10)
    with pytest.raises(ScenarioError) as ei:
        scenario.load(str(p))
    assert "larger than 16 MiB" in str(ei.value)
    with pytest.raises(ScenarioError) as ei:
        scenario.load(str(tmp_path))
    assert "cannot read" in str(ei.value)


def test_time_limits_and_exact_ms():
    assert parse_duration("366d") == scenario.MAX_MS
    with pytest.raises(ValueError):
        parse_duration("367d")
    assert parse_duration("0.001s") == 1 and parse_duration("1.50000s") == 1500
    with pytest.raises(ValueError):
        parse_duration("0.0001s")
    for ms in (0, 1, 999, 1000, 1500, 60000, 90000, 3600000, 86400000, 123456789):
        assert parse_duration(scenario.fmt_ms(ms)) == ms


@pytest.mark.parametrize("path", SCENARIOS, ids=os.path.basename)
def test_running_in_slices_gives_the_same_log_and_output(path):
    # the CLI runs in slices to show its progress line; slicing must not change a thing
    scn = scenario.load(path)
    whole = run(scn)
    for chunk in (1, 7, 333, 10000):
        if chunk == 1 and scn.until > 200000:
            continue
        sliced = scenario.finish(scenario.start(scn), chunk_ms=chunk)
        assert sliced.log == whole.log and sliced.output == whole.output, chunk
    # adaptive slices on a clock that says every slice took long (so they shrink) or no time (so they grow)
    for step in (1.0, 0.0):
        t = [0.0]

        def clock():
            t[0] += step
            return t[0]
        seen = []
        res = scenario.finish(scenario.start(scn), progress=lambda now, until, r: seen.append(now), clock=clock)
        assert res.log == whole.log and res.ok
        assert seen == sorted(seen) and seen[-1] == scn.until and len(seen) > 1


def test_output_streams_in_order_as_it_happens():
    seen = []
    res = run(parse(MINI.replace("at 1s card", "at 1s say here she comes\nat 1s card")),
              on_output=lambda line, is_log: seen.append((line, is_log)))
    assert [s for s, _ in seen] == res.output
    assert [s for s, is_log in seen if is_log] == res.log
    assert ("# 1000 here she comes", False) in seen
