"""`doorkit deploy` against a virtual board over stock mpremote's transport: a blank MicroPython
board gets the firmware (the ROMFS image block by block, boot.py and main.py), verified, reset, and
runs it; a second deploy writes nothing; a changed block is the only one written again."""
import os
import subprocess
import sys

import pytest

from doorkit import image
from doorkit.deploy import deploy
from doorkit.errors import UserError
from doorkit.link import open_link
from doorkit.sim.vboard.supervisor import VirtualBoard

DOORKIT = os.path.join(os.path.dirname(sys.executable), "doorkit")


@pytest.fixture(scope="module")
def romfs():
    return image.build_romfs()


@pytest.fixture
def board():
    vb = VirtualBoard(None, listen=("127.0.0.1", 0)).start()  # blank: MicroPython, empty filesystem
    yield vb, "socket://%s:%d" % vb.listen_addr
    vb.stop()


def test_deploy_to_a_blank_board_then_nothing_changes(board, romfs):
    vb, port = board
    with open_link(port) as ln:
        with pytest.raises(UserError, match="without doorkit.s firmware"):
            ln.call("status")  # no firmware on it yet
    r = deploy(port, romfs=romfs)
    assert r["blocks_written"] == r["blocks"] == (len(romfs) + 4095) // 4096
    assert r["files_written"] == ["/boot.py", "/main.py"]
    with open_link(port) as ln:
        assert ln.call("status") == {"door": None}  # the firmware runs (an unprovisioned door)
        assert ln.sha256("/main.py") == __import__("hashlib").sha256(image.firmware_files()["/main.py"]).hexdigest()
    r = deploy(port, romfs=romfs)
    assert r["blocks_written"] == 0 and r["files_written"] == []
    # one block of the image changed: that block alone goes again
    changed = bytearray(romfs)
    changed[5000] ^= 0xFF
    r = deploy(port, romfs=bytes(changed), reset=False)
    assert r["blocks_written"] == 1


def test_the_cli_deploys_and_says_what_it_wrote(board):
    vb, port = board
    p = subprocess.run([DOORKIT, "deploy", "--port", port], capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    import re
    assert re.search(r"romfs (\d+) of \1 blocks written .*files written: /boot.py, /main.py; board reset", p.stdout), \
        p.stdout
    p = subprocess.run([DOORKIT, "deploy", "--port", port], capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and " 0 of " in p.stdout and "files written: none" in p.stdout, p.stdout


def test_deploy_without_a_board_is_one_line():
    p = subprocess.run([DOORKIT, "deploy", "--port", "socket://127.0.0.1:1"], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 4 and p.stderr.count("\n") == 1 and "no board" in p.stderr, p.stderr


def test_deploy_with_a_door_makes_a_new_board_that_door_then_keys_go_in(board, tmp_path):
    """The flash + deploy route (no factory image): deploy --door gives the blank board the door's
    identity and settings, then keys push installs the key list; the same door again changes
    nothing, another door is refused and nothing is written."""
    vb, port = board

    def dk(*argv, code=0):
        p = subprocess.run([DOORKIT] + [str(a) for a in argv], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == code, (argv, p.stdout, p.stderr)
        return p.stdout + p.stderr
    dk("provision", "new", tmp_path / "front", "--door-id", "front", "--auto-lock", "off")
    dk("provision", "new", tmp_path / "back", "--door-id", "back")
    dk("keys", "user", "add", tmp_path / "front", "E1", "--name", "Alice")
    dk("keys", "add", tmp_path / "front", "E1", "--card", "04A1B2C3")
    out = dk("deploy", "--port", port, "--door", tmp_path / "front")
    assert "door front's identity written" in out
    out = dk("keys", "push", tmp_path / "front", "--port", port)
    assert "1 credentials on the board" in out, out
    with open_link(port) as ln:
        st = ln.call("status")
        assert st["door"] == "front" and st["keys_count"] == 1
        assert __import__("json").loads(ln.eval("open('/lock.json').read()"))["config"]["auto_lock"] is False
    assert "it is door front already" in dk("deploy", "--port", port, "--door", tmp_path / "front")
    err = dk("deploy", "--port", port, "--door", tmp_path / "back", "--force", code=7)
    assert "already door 'front'" in err and err.count("\n") == 1
    with open_link(port) as ln:
        assert ln.call("status")["keys_count"] == 1
