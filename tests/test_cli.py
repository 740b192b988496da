"""The `doorkit` command (host/doorkit/cli.py), run as the venv's console script."""
import os
import select
import subprocess
import sys
import time

import pytest

import doorkit  # noqa: F401
from doorkit import cli, simui

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "sim", "scenarios", "demo.scn")


def doorkit_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "doorkit")
    if not os.path.exists(exe):
        pytest.fail("the doorkit console script is not installed next to %s: run make .venv/.installed-stamp"
                    % sys.executable)
    return exe


def sh(*args, stdin=subprocess.DEVNULL, timeout=60):
    return subprocess.run([doorkit_exe()] + list(args), capture_output=True, text=True, stdin=stdin,
                          timeout=timeout, cwd=ROOT)


def test_demo_script_exits_0_and_prints_the_log():
    p = sh("sim", "--script", DEMO)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "0 BOOT locked #1"
    assert "1540 UNLOCK felica alice" in lines
    assert "# 3000 She opens the door, walks through and shuts it behind her." in lines
    assert lines[-1] == "58064 DOOR_CLOSE"
    assert "ok, 22 log lines as expected" in p.stderr


def test_log_only_prints_exactly_the_log():
    p = sh("sim", "--script", DEMO, "--log-only")
    assert p.returncode == 0
    log = p.stdout.splitlines()
    assert len(log) == 22 and not any(x.startswith("#") for x in log)
    with open(DEMO) as f:
        text = f.read()
    expected = [x.strip() for x in text.split("\nexpect\n", 1)[1].splitlines() if x.strip()]
    assert log == expected


def test_step_mode_gives_the_same_log():
    a = sh("sim", "--script", DEMO, "--log-only")
    b = sh("sim", "--script", DEMO, "--log-only", "--step", "1")
    assert b.returncode == 0 and a.stdout == b.stdout


def test_failed_expectation_exits_1_with_file_line(tmp_path):
    with open(DEMO) as f:
        text = f.read().replace("  9563 LOCK auto", "  9000 LOCK auto")
    p = tmp_path / "wrong.scn"
    p.write_text(text)
    line = text.splitlines().index("  9000 LOCK auto") + 1
    r = sh("sim", "--script", str(p))
    assert r.returncode == 1
    assert "9563 LOCK auto" in r.stdout  # the log is still printed
    assert "doorkit sim: %s:%d: the log differs from expect at log line 5" % (p, line) in r.stderr
    assert "expected: 9000 LOCK auto" in r.stderr and "actual:   9563 LOCK auto" in r.stderr


def test_bad_file_exits_2_with_file_line(tmp_path):
    p = tmp_path / "bad.scn"
    p.write_text("calibrated yes\nat 1s door wiggle\nrun until 2s\n")
    r = sh("sim", "--script", str(p))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("doorkit sim: %s:2: expected 'door open'" % p)


def test_missing_file_exits_2():
    r = sh("sim", "--script", "/nonexistent/nothing.scn")
    assert r.returncode == 2
    assert "doorkit sim: /nonexistent/nothing.scn: cannot read" in r.stderr


def test_no_expect_block_exits_0(tmp_path):
    p = tmp_path / "free.scn"
    p.write_text("calibrated yes\nat 1s button\nrun until 3s\n")
    r = sh("sim", "--script", str(p))
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["0 BOOT locked #1", "1580 UNLOCK button"]
    assert "no expect block" in r.stderr


def test_interactive_without_a_tty_exits_2_at_once():
    r = sh("sim", timeout=30)  # (the timeout is a safety net for a hang, not a measurement)
    assert r.returncode == 2
    assert "needs a terminal" in r.stderr and "stdin is not a TTY" in r.stderr
    assert "--script" in r.stderr
    r = sh("sim", stdin=subprocess.PIPE, timeout=30)  # a pipe that never closes must not hang either
    assert r.returncode == 2


def test_no_command_says_so_in_one_line_and_exits_2():
    from doorkit import commands
    names = ["sim"] + [n for n in commands.COMMANDS if commands.load(n) is not None]  # (the ones written so far)
    r = sh()
    assert r.returncode == 2 and r.stderr == "doorkit: give a command (%s); doorkit --help says more\n" % ", ".join(names)


def test_a_file_name_with_control_characters_stays_on_one_line():
    r = sh("sim", "--script", "a\nb\x1b[31m")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "\x1b" not in r.stderr
    assert r.stderr == "doorkit sim: a\\nb\\x1b[31m: cannot read: No such file or directory\n"
    r = sh("sim", "--log-only", "--log-only", "--script", DEMO)
    assert r.returncode == 2 and "--log-only is given twice" in r.stderr
    r = sh("--version")
    assert r.returncode == 0 and r.stdout.strip() == "doorkit " + doorkit.__version__


def test_main_in_process(capsys):
    assert cli.main(["sim", "--script", DEMO, "--log-only"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "1540 UNLOCK felica alice"


# ---------------------------------------------------------------- interactive door
def test_session_keys_drive_the_door():
    s = simui.Session(seed=1)
    assert s.key("1")  # alice's card
    s.advance(2000)
    assert s.door.status()["state"] == "unlocked"
    s.key("o")
    s.advance(1000)
    s.key("c")
    s.advance(5000)
    assert list(s.lines)[-1].endswith("LOCK auto")
    s.key("2")
    s.advance(1500)
    assert "DENIED unknown iso14443a:C0FFEE42" in list(s.lines)[-1]
    s.key("a")
    assert s.door.core.cfg["auto_lock"] is False and s.message == "auto-lock off"
    s.key("p")
    s.key("b")
    s.advance(500)
    assert list(s.lines)[-1].endswith("REFUSED button-off")
    s.key("u")
    s.advance(1000)
    assert list(s.lines)[-1].endswith("MANUAL_UNLOCK")
    s.key("j")
    assert s.door.world.jammed
    s.key("L")
    s.advance(3000)
    assert list(s.lines)[-1].endswith("JAM lock bob")
    s.key("j")
    s.key("l")
    s.advance(1000)
    assert [x.split(" ", 1)[1] for x in list(s.lines)[-2:]] == ["JAM_CLEAR", "MANUAL_LOCK"]
    s.key("F")
    s.advance(500)
    assert "FORCED_OPEN" in list(s.lines)[-1]
    s.key("+")
    assert s.speed == 2.0
    s.key("C")  # door open: calibration refused
    s.advance(10)
    assert list(s.lines)[-1].endswith("REFUSED door-open")
    s.key("R")
    assert s.message == "rebooted"
    assert s.key("q") is False
    screen = "\n".join(s.screen(120))
    assert "virtual door" in screen and "OPEN" in screen


def test_session_taps_each_card_kind_on_the_reader():
    s = simui.Session(seed=1)
    s.advance(1000)
    screen = "\n".join(s.screen(120))
    assert " reader  UP" in screen and "in the field: -" in screen
    expect = {"1": "UNLOCK iso14443a alice", "2": "DENIED unknown iso14443a:C0FFEE42",
              "3": "UNLOCK iso14443a carol", "4": "UNLOCK iso14443a dave", "5": "UNLOCK felica bob",
              "6": "UNLOCK phone erin"}  # erin's phone answers the door's challenge with its key
    for k in "123456":
        n = len(s.lines)
        assert s.key(k)
        assert "on the reader for 1 s" in s.message
        if k == "5":
            assert "in the field: suica" in "\n".join(s.screen(120))
        s.advance(12000)  # decided, and relocked if it unlocked
        new = [x.split(" ", 1)[1] for x in list(s.lines)[n:]]
        assert new and new[0].startswith(expect[k]), (k, new)
    s.key("d")
    assert s.message == "the reader goes silent"
    s.advance(5000)
    assert list(s.lines)[-1].split(" ", 1)[1] == "READER_DOWN -1"
    assert " reader  DOWN (silent)" in "\n".join(s.screen(120))
    s.key("d")
    s.advance(8000)
    assert list(s.lines)[-1].split(" ", 1)[1] == "READER_UP"
    assert " reader  UP" in "\n".join(s.screen(120))
    assert any("6 erin's phone" in h for h in simui.HELP) and any("d reader dead/alive" in h for h in simui.HELP)


def test_session_screen_fits_the_width():
    s = simui.Session()
    assert all(len(x) < 60 for x in s.screen(60))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty test written for Linux")
def test_interactive_door_in_a_pty_quits_with_q():
    from ptyio import run_door
    rc, text = run_door(doorkit_exe(), 40, 120, [(b"1", b"UNLOCK"), (b"q", None)], b"virtual", ROOT)
    # (1: alice's card; the motor takes ~0.55 s of real time to unlock)
    assert rc == 0 and "virtual" in text and "UNLOCK" in text


# ---------------------------------------------------------------- bad arguments, streaming, Ctrl-C (issue 6)
BAD_ARGS = [
    (["sim", "--speed", "nan"], "argument --speed: must be a number in 0.0625..64"),
    (["sim", "--speed", "inf"], "argument --speed: must be a number"),
    (["sim", "--speed", "0"], "argument --speed: must be a number"),
    (["sim", "--speed", "-2"], "argument --speed: must be a number"),
    (["sim", "--speed", "100"], "argument --speed: must be a number"),
    (["sim", "--speed", "1e1"], "argument --speed: must be a number"),
    (["sim", "--step", "0"], "argument --step: must be a whole number of ms in 1..100, not '0'"),
    (["sim", "--step", "-5"], "argument --step: must be a whole number of ms in 1..100, not '-5'"),
    (["sim", "--step", "101"], "argument --step: must be a whole number of ms in 1..100"),
    (["sim", "--step", "2.5"], "argument --step: must be a whole number of ms"),
    (["sim", "--step", "nan"], "argument --step: must be a whole number of ms"),
    (["sim", "--seed", "1e3"], "argument --seed: must be an integer"),
    (["sim", "--seed", "1_0"], "argument --seed: must be an integer"),
    (["sim", "--seed", "\u0663"], "argument --seed: must be an integer"),
    (["sim", "--seed", "9" * 30], "argument --seed: must be an integer"),
    (["sim", "--seed"], "argument --seed: expected one argument"),
    (["sim", "--script", ""], "--script needs a file name"),
    (["sim", "--script", DEMO, "--speed", "2"], "--speed is for the interactive door"),
    (["sim", "--script", DEMO, "--log-only", "-v"], "--log-only leaves out the '#' lines that -v adds"),
    (["sim", "--script", DEMO, "--script", DEMO], "--script is given twice"),
    (["sim", "--script", DEMO, "--seed", "1", "--seed", "2"], "--seed is given twice"),
    (["sim", "--step", "5"], "--step goes with --script FILE"),
    (["sim", "--log-only"], "--log-only goes with --script FILE"),
    (["sim", "-v"], "-v goes with --script FILE"),
    (["sim", "--scr", DEMO], "unrecognized arguments: --scr"),
    (["sim", "extra"], "unrecognized arguments: extra"),
    (["simulate"], "invalid choice: 'simulate'"),
]


@pytest.mark.parametrize("args,msg", BAD_ARGS, ids=[" ".join(a[0][1:])[:30] or a[0][0] for a in BAD_ARGS])
def test_bad_arguments_get_one_line_and_exit_2(args, msg):
    r = sh(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and msg in r.stderr, r.stderr
    assert "--help" in r.stderr and "Traceback" not in r.stderr


def test_script_output_without_a_terminal_has_no_progress_line():
    r = sh("sim", "--script", DEMO)
    assert r.returncode == 0 and "\r" not in r.stderr and "\r" not in r.stdout
    assert r.stderr.splitlines() == ["%s: ok, 22 log lines as expected" % DEMO]


LONG = """\
nfc on
calibrated yes
key iso14443a DEADBEEF alice
at 1s tap mifare
at 300d tap mifare
run until 366d
"""


def test_records_stream_as_they_happen_and_ctrl_c_prints_the_log_so_far_and_exits_130(tmp_path):
    import signal
    p = tmp_path / "long.scn"
    p.write_text(LONG)  # a reader polling for a year: hours of work
    proc = subprocess.Popen([doorkit_exe(), "sim", "--script", str(p)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        got = b""
        end = time.monotonic() + 60  # a safety net for a broken build, not a measurement
        while b"LOCK relock\n" not in got and time.monotonic() < end:
            r, _, _ = select.select([proc.stdout], [], [], 0.1)
            if r:
                got += os.read(proc.stdout.fileno(), 65536)
        assert proc.poll() is None, "the run ended early"
        assert got.decode().splitlines()[:3] == ["0 BOOT locked #1", "1566 UNLOCK iso14443a alice", "12046 LOCK relock"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert (got + out).decode().splitlines() == ["0 BOOT locked #1", "1566 UNLOCK iso14443a alice", "12046 LOCK relock"]
    err = err.decode()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("doorkit sim: %s: interrupted at " % p) and "ms of 31622400000 (virtual); 3 log lines so far" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty test written for Linux")
def test_progress_line_on_a_terminal_only_on_stderr():
    from ptyio import Pty
    t = Pty()
    proc = subprocess.Popen([doorkit_exe(), "sim", "--script", DEMO], stdout=subprocess.PIPE, stderr=t.slave,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    t.child_started()
    try:
        out, _ = proc.communicate(timeout=60)
        t.drain(0.5)
    finally:
        t.close()
    assert proc.returncode == 0
    assert b"\r" not in out and out.decode().splitlines()[0] == "0 BOOT locked #1"
    text = t.text()
    assert "\rdoorkit sim: " in text and " virtual (" in text and " log lines" in text
    last = text.replace("\r\n", "\n").split("\r")[-1]  # the progress line is wiped before the verdict
    assert last.strip() == "%s: ok, 22 log lines as expected" % DEMO


def test_a_closed_output_pipe_exits_141_quietly():
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.Popen([doorkit_exe(), "sim", "--script", DEMO], stdout=w, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    os.close(w)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141 and err == b""


def test_a_refusal_at_run_time_comes_after_the_log_so_far(tmp_path):
    p = tmp_path / "rt.scn"
    p.write_text("calibrated yes\nat 1s button\nat 3s set min_span=5000\nrun until 5s\n")
    r = sh("sim", "--script", str(p))
    assert r.returncode == 2
    assert r.stdout.splitlines() == ["0 BOOT locked #1", "1580 UNLOCK button"]
    assert r.stderr == "doorkit sim: %s:3: at 3000, set min_span=5000: refused: min_span above the current " \
                       "calibration span\n" % p


def test_an_internal_error_is_one_line_and_exit_3(monkeypatch, capsys):
    from doorkit.sim import scenario

    def broken(path):
        raise RuntimeError("something inside broke\nsecond line")
    monkeypatch.setattr(scenario, "load", broken)
    monkeypatch.delenv("DOORKIT_TRACEBACK", raising=False)
    assert cli.main(["sim", "--script", DEMO]) == 3
    err = capsys.readouterr().err
    assert err == ("doorkit: internal error (RuntimeError: something inside broke); please report it "
                   "(DOORKIT_TRACEBACK=1 shows where)\n")


def test_progress_rewrites_one_line_at_most_every_period_and_clears_it():
    import io

    class Res:
        log = ["a", "b"]
    clock = [0.0]
    s = io.StringIO()
    bar = cli.Progress(s, clock=lambda: clock[0], every=0.2)
    bar.update(1500, 30000, Res)
    assert s.getvalue() == "\rdoorkit sim: 1.5 s of 30.0 s virtual (5%), 2 log lines"
    clock[0] = 0.1
    bar.update(2000, 30000, Res)  # too soon: not shown
    assert s.getvalue().count("\r") == 1
    clock[0] = 0.3
    bar.update(7200000, 4 * 86400000, Res)
    assert s.getvalue().endswith("\rdoorkit sim: 2.00 h of 4.00 d virtual (2%), 2 log lines")
    n = len(s.getvalue())
    width = len("doorkit sim: 2.00 h of 4.00 d virtual (2%), 2 log lines")
    bar.clear()
    assert s.getvalue()[n:] == "\r" + " " * width + "\r"
    bar.clear()  # nothing shown: nothing written
    assert s.getvalue()[n:].count("\r") == 2
    clock[0] = 0.4
    bar.update(7200000, 4 * 86400000, Res)
    clock[0] = 0.7
    bar.update(3000, 30000, Res)  # a shorter line than the one before is padded over it
    short = "doorkit sim: 3.0 s of 30.0 s virtual (10%), 2 log lines"
    assert s.getvalue().split("\r")[-1] == short + " " * (width - len(short))
