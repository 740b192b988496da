"""`doorkit calibrate` and `doorkit enroll --reader door:PORT` against a real virtual board (the
unix-port interpreter running the firmware from a flash image, the simulated world behind its
machine shim): the calibration runs on the board and lands in its /lock.json, after which the
firmware's button unlocks the bolt; a card tapped on the door's own reader is enrolled."""
import io
import subprocess
import sys
import threading
import time

import pytest

from doorkit import cli
from doorkit import provision as P
from doorkit.errors import EXIT_CONFLICT, EXIT_DATA, EXIT_MISMATCH, EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from doorkit.link import open_link
from doorkit.vboard_client import Control
from sim.vboard.supervisor import VirtualBoard

BOUND_S = 60  # bounded waits (never asserted: a slow machine only waits longer)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    d = tmp_path_factory.mktemp("vbcal")
    secret = d / "secret"
    secret.write_text("ab" * 32)
    img = d / "flash.img"
    assert cli.main(["image", "--format", "raw", "--door-id", "door-cal", "--secret-file", str(secret),
                     "--out", str(img)]) == EXIT_OK
    vb = VirtualBoard(str(img), listen=("127.0.0.1", 0)).start()
    try:
        port = "socket://%s:%d" % tuple(vb.listen_addr)
        ctl = Control("%s:%d" % tuple(vb.control_addr))
        yield port, ctl, d
        ctl.close()
    finally:
        vb.stop()


def _settle(ctl):
    """Poll the world until the motor has stopped and the knob stays put; -> the angles seen."""
    seen = []
    end = time.monotonic() + BOUND_S
    still = 0
    while time.monotonic() < end:
        st = ctl.status()
        seen.append(st["angle"])
        still = still + 1 if (not st["motor_running"] and len(seen) > 1 and seen[-1] == seen[-2]) else 0
        if still >= 5:
            break
        time.sleep(0.1)
    return seen


def _stored_calibration(port):
    with open_link(port) as ln:
        return ln.eval("__import__('json').load(open('/lock.json')).get('calibration')")


def _press_and_watch(ctl):
    ctl.button(200)
    return _settle(ctl)


def test_auto_calibration_is_stored_and_the_button_then_unlocks(board):
    port, ctl, _ = board
    world = ctl.status()["calibration"]  # the world's end stops, as the pot reads them
    ctl.advance(1000)
    assert max(_press_and_watch(ctl)) < 5  # uncalibrated: the button moves nothing
    proc = subprocess.run([sys.executable, "-m", "doorkit.cli", "calibrate", "--port", port],
                          capture_output=True, text=True, timeout=BOUND_S + 60)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout.startswith("calibrated: locked at ")
    cal = _stored_calibration(port)
    assert cal is not None and abs(cal[0] - world[0]) <= 8 and abs(cal[1] - world[1]) <= 8, (cal, world)
    assert "locked at %d, unlocked at %d" % tuple(cal) in proc.stdout
    assert ctl.status()["angle"] < 5  # the last sweep left the bolt thrown
    seen = _press_and_watch(ctl)  # main.py runs again: the button unlocks now
    assert max(seen) > 75, seen  # into the unlock end's zone (zone_pct of the span): the bolt is back


def test_manual_calibration_asks_at_each_end(board, monkeypatch, capsys):
    port, ctl, _ = board
    steps = []

    class Installer(io.StringIO):  # stdin: turns the knob before each Enter
        def readline(self):
            steps.append(ctl.turn("lock" if not steps else 60, ms=0))  # (the world moves on at the next read)
            return "\n"

    monkeypatch.setattr(sys, "stdin", Installer())
    code = cli.main(["calibrate", "--port", port, "--manual"])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert len(steps) == 2 and "LOCKED" in err and "UNLOCKED" in err
    world = ctl.status()["calibration"]
    cal = _stored_calibration(port)
    assert abs(cal[0] - world[0]) <= 8  # locked end at the lock end stop
    assert abs(cal[1] - (world[0] + (world[1] - world[0]) * 60 // 90)) <= 12, (cal, world)  # 60 degrees
    assert "locked at %d, unlocked at %d" % tuple(cal) in out


def test_manual_calibration_without_stdin_and_bad_flags(board, monkeypatch, capsys):
    port, ctl, _ = board
    before = _stored_calibration(port)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["calibrate", "--port", port, "--manual"]) == EXIT_USAGE
    assert "stdin is closed" in capsys.readouterr().err
    assert cli.main(["calibrate", "--port", port, "--locked"]) == EXIT_USAGE
    assert "for --manual" in capsys.readouterr().err
    assert _stored_calibration(port) == before


def test_manual_calibration_by_flags_marks_where_the_knob_is(board, monkeypatch):
    port, ctl, _ = board
    ctl.turn("lock", ms=0)
    turned = []

    class Out(io.StringIO):  # the installer turns the knob once the locked end is marked
        def write(self, text):
            if "locked end marked" in text:
                turned.append(ctl.turn("unlock", ms=0))
            return io.StringIO.write(self, text)

    out = Out()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nothing to read: the flags say it all
    code = cli.main(["calibrate", "--port", port, "--manual", "--locked", "--unlock-after", "1"])
    monkeypatch.undo()
    assert code == EXIT_OK, out.getvalue()
    assert len(turned) == 1
    world = ctl.status()["calibration"]
    cal = _stored_calibration(port)
    assert abs(cal[0] - world[0]) <= 8 and abs(cal[1] - world[1]) <= 8, (cal, world)


def test_auto_calibration_with_the_door_open_is_refused(board, capsys):
    port, ctl, _ = board
    before = _stored_calibration(port)
    ctl.door("open")
    try:
        code = cli.main(["calibrate", "--port", port])
        err = capsys.readouterr().err
    finally:
        ctl.door("close")
    assert code == EXIT_REFUSED and "the door is open" in err and err.count("\n") == 1, err
    assert _stored_calibration(port) == before


def test_enroll_on_the_doors_own_reader(board, capsys):
    port, ctl, d = board
    door = d / "front"
    P.create_door(door, "door-cal")
    _, keys = P.open_keys(door)
    keys.add_user("E1", "Aiko Owner")
    P.save_keys(P.open_keys(door)[0], keys)
    t = threading.Timer(1.0, lambda: ctl.tap("mifare", hold_ms=10000))
    t.start()
    try:
        code = cli.main(["enroll", str(door), "--reader", "door:" + port, "--user", "E1", "--timeout", "30"])
    finally:
        t.join()
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert out == "iso14443a DEADBEEF enrolled for E1\n"
    creds = P.open_keys(door)[1].book.credentials()
    assert [c[:3] for c in creds] == [("iso14443a", "DEADBEEF", "E1")], creds


def test_enroll_on_the_doors_reader_refuses_a_registered_card_then_times_out(board, capsys):
    port, ctl, d = board
    door = d / "front"
    ctl.tap("mifare", hold_ms=10000)
    code = cli.main(["enroll", str(door), "--reader", "door:" + port, "--user", "E1", "--timeout", "30"])
    err = capsys.readouterr().err
    assert code == EXIT_CONFLICT and "already registered to E1" in err, err
    ctl.advance(20000)  # main.py runs again meanwhile; the card has left the field
    assert ctl.status()["in_field"] == []
    code = cli.main(["enroll", str(door), "--reader", "door:" + port, "--user", "E1", "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == EXIT_MISMATCH and "no card was tapped" in err, err
    assert len(P.open_keys(door)[1].book.credentials()) == 1


def test_enroll_on_the_doors_reader_refuses_a_phone(board, capsys):
    port, ctl, d = board
    door = d / "front"
    ctl.tap("phone", hold_ms=10000)
    code = cli.main(["enroll", str(door), "--reader", "door:" + port, "--user", "E1", "--timeout", "30"])
    err = capsys.readouterr().err
    assert code == EXIT_DATA and "random UID" in err and err.count("\n") == 1, err
    ctl.advance(20000)
