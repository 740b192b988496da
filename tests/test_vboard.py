"""The virtual board (sim/vboard/supervisor.py + the shims in sim/vboard/mp) against STOCK mpremote run
as a subprocess, the control channel (doorkit.vboard_client.Control) and the `doorkit vboard` CLI."""
import hashlib
import os
import socket
import subprocess
import sys

import pytest

import doorkit  # noqa: F401  (firmware/ and sim on sys.path)
from doorkit.sim.vboard.supervisor import VirtualBoard
from doorkit.vboard_client import Control, ControlError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
DOOR = {"door_id": "front-door", "secret": "ab" * 32}


def exe(name):
    p = os.path.join(BIN, name)
    if not os.path.exists(p):
        pytest.fail("%s is not installed next to %s" % (name, sys.executable))
    return p


def start(**kw):
    return VirtualBoard(listen=("127.0.0.1", 0), **kw).start()


@pytest.fixture
def board():
    vb = start()
    try:
        yield vb
    finally:
        vb.stop()


def mp(vb, *args, timeout=60, check=True):
    """Stock mpremote against the board -> stdout text (fails the test on a non-zero exit)."""
    p = subprocess.run([exe("mpremote"), "connect", "socket://127.0.0.1:%d" % vb.listen_addr[1]] + list(args),
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stdout + p.stderr, (args, p.stdout, p.stderr)
    return p.stdout if check else p


def control(vb):
    return Control("%s:%d" % vb.control_addr)


# ---------------------------------------------------------------------------- a blank board
def test_blank_board_boots_micropython_with_an_empty_filesystem(board):
    assert mp(board, "fs", "ls", ":").splitlines() == ["ls :"]
    assert mp(board, "exec", "import os; print(os.listdir('/'))").strip() == "[]"
    # the host's filesystem is gone from the interpreter: / is the board's littlefs
    assert mp(board, "exec", "import os, vfs; print(os.statvfs('/')[0], 'etc' in os.listdir('/'))").split() == [
        "4096", "False"]


def test_doorkit_commands_on_a_board_without_the_firmware_say_so(board, tmp_path):
    port = "socket://127.0.0.1:%d" % board.listen_addr[1]
    for argv in (["clock", "show", "--port", port], ["calibrate", "--port", port]):
        p = subprocess.run([exe("doorkit")] + argv, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 5, (argv, p.stderr)
        assert "without doorkit's firmware: doorkit deploy --port " + port in p.stderr, (argv, p.stderr)
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_exec_and_eval(board):
    assert mp(board, "exec", "print(6 * 7)").strip() == "42"
    assert mp(board, "eval", "1 + 2").strip() == "3"
    assert mp(board, "exec", "import sys; print(sys.implementation.name)").strip() == "micropython"
    out = mp(board, "exec", "1/0", check=False)
    assert "ZeroDivisionError" in out.stdout + out.stderr


def test_filesystem_round_trip(board, tmp_path):
    data = os.urandom(5000) + b"end"
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    mp(board, "fs", "mkdir", ":d")
    mp(board, "fs", "cp", str(src), ":d/blob.bin")
    (tmp_path / "hello.txt").write_text("hello board\n")
    mp(board, "fs", "cp", str(tmp_path / "hello.txt"), ":hello.txt")
    ls = mp(board, "fs", "ls", ":d")
    assert "5003 blob.bin" in ls
    top = mp(board, "fs", "ls", ":")
    assert "d/" in top and "hello.txt" in top
    assert mp(board, "fs", "cat", ":hello.txt") == "hello board\n"
    assert mp(board, "fs", "sha256sum", ":d/blob.bin").splitlines()[-1].split()[0] == hashlib.sha256(data).hexdigest()
    mp(board, "fs", "cp", ":d/blob.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    mp(board, "fs", "rm", ":d/blob.bin")
    assert "blob.bin" not in mp(board, "fs", "ls", ":d")
    mp(board, "fs", "rmdir", ":d")
    assert mp(board, "fs", "ls", ":").split("\n", 1)[1].split() == ["12", "hello.txt"]


def test_soft_reset_clears_ram_keeps_the_board(board):
    # the control: resume keeps RAM between calls, so the checks below can fail
    mp(board, "exec", "kept = 41")
    assert mp(board, "resume", "exec", "print(globals().get('kept'))").strip() == "41"
    boots = board.status()["boots"]
    mp(board, "resume", "exec", "kept = 42", "soft-reset")
    assert mp(board, "resume", "exec", "import machine; print(globals().get('kept'), machine.reset_cause())"
              ).split() == ["None", "5"]
    assert board.status()["boots"] > boots


def test_reset_is_a_hard_reset(board):
    mp(board, "exec", "kept = 42")
    boots = board.status()["boots"]
    mp(board, "resume", "reset")
    assert mp(board, "resume", "exec", "import machine; print(globals().get('kept'), machine.reset_cause())"
              ).split() == ["None", "2"]
    st = board.status()
    assert st["boots"] == boots + 1 and st["resets"] == 1


def test_runaway_code_killed_client_side_then_the_next_call_works(board):
    cmd = [exe("mpremote"), "connect", "socket://127.0.0.1:%d" % board.listen_addr[1], "exec",
           "print('spinning')\nwhile True:\n    pass"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert p.stdout.readline().strip() == "spinning"  # it runs (and spins)
    finally:
        p.kill()
        p.wait()
    assert board.status()["state"] == "running"
    assert mp(board, "exec", "print('back')").strip() == "back"
    assert mp(board, "eval", "2 + 2").strip() == "4"


# ---------------------------------------------------------------------------- firmware images
@pytest.fixture(scope="module")
def flash_image(tmp_path_factory):
    from doorkit.image import build_flash
    path = tmp_path_factory.mktemp("img") / "flash.img"
    path.write_bytes(build_flash("4M", None, DOOR))
    return path


def test_image_boots_the_firmware(flash_image, tmp_path):
    img = tmp_path / "flash.img"
    img.write_bytes(flash_image.read_bytes())
    vb = start(image=str(img))
    try:
        out = mp(vb, "exec", "import lockshell.service as S; print(S.status()['door'])")
        assert out.strip() == "front-door"
        assert "main.py" in mp(vb, "fs", "ls", ":")
        from doorkit.link import open_link
        with open_link("socket://127.0.0.1:%d" % vb.listen_addr[1]) as ln:
            assert ln.call("status")["door"] == "front-door"
    finally:
        vb.stop()


def test_files_survive_a_power_cut_the_rtc_does_not(board):
    mp(board, "exec", "f = open('/keep.txt', 'w'); f.write('still here'); f.close()\n"
                      "import machine; machine.RTC().datetime((2026, 12, 2, 2, 15, 30, 0, 0))")
    mp(board, "resume", "reset")
    assert mp(board, "exec", "import machine; print(machine.RTC().datetime()[:3])").strip() == "(2026, 12, 2)"
    with control(board) as c:
        boots = c.status()["boots"]  # (mpremote's last soft reset may still be booting: at least one more)
        assert c.power_cut()["boots"] >= boots + 1
    assert mp(board, "fs", "cat", ":keep.txt") == "still here"
    assert mp(board, "exec", "import machine; print(machine.RTC().datetime()[0])").strip() == "2000"


# ---------------------------------------------------------------------------- control API
def test_control_answers_and_refuses_bad_input(board):
    with control(board) as c:
        assert c.tap("mifare")["ident"] == ["iso14443a", "DEADBEEF"]
        assert c.status()["in_field"] == ["mifare"]
        assert c.door("open")["door_open"] is False  # the bolt is out: the door does not open
        c.turn("unlock")
        c.advance(1000)  # the hand turns the knob over 600 ms of virtual time
        assert c.status()["angle"] > 0
        assert c.door("open")["door_open"] is True
        assert c.status()["door_open"] is True
        assert c.door("close")["door_open"] is False
        assert c.button()["done"] is True
        now = c.status()["now_ms"]
        r = c.advance(5000)
        assert r["reached"] and r["now_ms"] >= now + 5000
        for call, word in ((lambda: c.tap("bogus"), "bogus"), (lambda: c.door("sideways"), "sideways"),
                           (lambda: c.button(-5), "-5"), (lambda: c.advance("soon"), "soon"),
                           (lambda: c.turn("up"), "up"), (lambda: c.command("fly"), "fly"),
                           (lambda: c.command("tap"), "tap needs card"),
                           (lambda: c.command("door", what="open", extra=1), "extra")):
            with pytest.raises(ControlError) as e:
                call()
            msg = str(e.value)
            assert word in msg and "\n" not in msg, msg
        assert c.status()["state"] == "running"  # still answering after the refusals


# ---------------------------------------------------------------------------- the CLI
def run_doorkit(*args, timeout=60):
    return subprocess.run([exe("doorkit")] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=ROOT)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one_line_error(p, code, *words):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_cli_bad_image(tmp_path):
    small = tmp_path / "small.img"
    small.write_bytes(b"\xff" * 1000)
    one_line_error(run_doorkit("vboard", "--listen", "127.0.0.1:%d" % free_port(), "--image", str(small)), 6,
                   "small.img", "1000 bytes")
    one_line_error(run_doorkit("vboard", "--listen", "127.0.0.1:%d" % free_port(), "--image", str(tmp_path)), 6,
                   "not a file")
    one_line_error(run_doorkit("vboard", "--listen", "127.0.0.1:%d" % free_port(), "--image", str(tmp_path / "none")),
                   6, "none")


def test_cli_port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        one_line_error(run_doorkit("vboard", "--listen", "127.0.0.1:%d" % s.getsockname()[1]), 4, "listen")
    finally:
        s.close()


def test_cli_world_commands_without_a_board():
    port = free_port()
    for args in (["tap", "mifare"], ["door", "open"], ["status"], ["advance", "2h"]):
        one_line_error(run_doorkit("vboard", *args, "--control", "127.0.0.1:%d" % port), 4, "no virtual board")


def test_cli_world_commands_against_a_board(board):
    addr = "127.0.0.1:%d" % board.control_addr[1]
    p = run_doorkit("vboard", "tap", "mifare", "--control", addr)
    assert p.returncode == 0 and "DEADBEEF" in p.stdout, p.stderr
    one_line_error(run_doorkit("vboard", "tap", "nonesuch", "--control", addr), 2, "nonesuch")  # a bad argument: usage
    one_line_error(run_doorkit("vboard", "advance", "soon", "--control", addr), 2, "soon")


def test_a_broken_shim_does_not_open_the_host_filesystem(tmp_path, monkeypatch):
    import shutil
    from doorkit.sim.vboard import supervisor
    shims = tmp_path / "mp"
    shutil.copytree(supervisor.SHIMS, shims)
    with open(shims / "esp32.py", "a") as f:
        f.write("\nthis is not python\n")
    monkeypatch.setattr(supervisor, "SHIMS", str(shims))
    vb = start()
    try:
        out = mp(vb, "exec", "import os\nprint(os.listdir('/'))\ntry:\n open('leak.txt', 'w')\n"
                             "except OSError as e:\n print('refused', e.errno)")
        assert out.split() == ["[]", "refused", "19"]
        assert not (shims / "leak.txt").exists()
    finally:
        vb.stop()


def test_cli_starts_several_boards_on_consecutive_ports():
    base = free_port()
    while True:  # six free ports in a row from base (three boards)
        try:
            socks = []
            for k in range(6):
                s = socket.socket()
                s.bind(("127.0.0.1", base + k))
                socks.append(s)
            break
        except OSError:
            base = free_port()
        finally:
            for s in socks:
                s.close()
    p = subprocess.Popen([exe("doorkit"), "vboard", "--listen", "127.0.0.1:%d" % base, "--count", "3", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        lines = [p.stdout.readline() for _ in range(3)]
        for k, line in enumerate(lines):
            assert line.startswith("vboard: [%d] serial socket://127.0.0.1:%d  control 127.0.0.1:%d" % (
                k, base + 2 * k, base + 2 * k + 1)), lines
        for k in range(3):
            out = subprocess.run([exe("mpremote"), "connect", "socket://127.0.0.1:%d" % (base + 2 * k), "exec",
                                  "print(40 + %d)" % k], capture_output=True, text=True, timeout=60,
                                 stdin=subprocess.DEVNULL)
            assert out.stdout.strip() == str(40 + k), out
        assert Control("127.0.0.1:%d" % (base + 5)).status()["state"] in ("running", "rebooting")
    finally:
        p.terminate()
        p.wait(30)
    one_line_error(run_doorkit("vboard", "--count", "2", "--image", "a.img"), 2, "one image per board")


def test_a_power_cut_boots_exactly_once():
    """(The killed interpreter was once taken for a soft reset by the watch loop: two interpreters
    on one line.) Each cut: one boot, one interpreter."""
    import time
    vb = start()
    try:
        with control(vb) as c:
            for _ in range(5):
                end = time.monotonic() + 30
                while c.status()["state"] != "running" and time.monotonic() < end:
                    time.sleep(0.05)
                b = c.status()["boots"]
                assert c.power_cut()["boots"] == b + 1
                time.sleep(0.3)
                assert c.status()["boots"] == b + 1
        pids = subprocess.run(["pgrep", "-f", "vbstart.py"], capture_output=True, text=True).stdout.split()
        mine = [p for p in pids if os.path.exists("/proc/%s" % p) and
                open("/proc/%s/environ" % p, "rb").read().find(("DOORKIT_VB_FLASH=%s" % vb.image).encode()) >= 0]
        assert len(mine) == 1, mine  # one interpreter for this board
    finally:
        vb.stop()
