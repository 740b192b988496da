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
        with pytest.raises(UserError, match="ImportError"):
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
