"""`doorkit flash` against a virtual board in download mode: stock esptool (through doorkit.flash)
writes the board's own flash through the emulated ROM loader (sim/esprom.py), and after the EN
button the board boots with the partition table that was written."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import fakefw  # noqa: E402

from doorkit.image import partition_table  # noqa: E402
from doorkit.sim.vboard.supervisor import BoardError, PTABLE_AT, VirtualBoard, blank_flash  # noqa: E402

DOORKIT = os.path.join(os.path.dirname(sys.executable), "doorkit")


def test_flash_a_virtual_board_in_download_mode(tmp_path):
    img = tmp_path / "flash.img"
    img.write_bytes(b"\xff" * 0x400000)  # a board with nothing on it, not even a partition table
    (tmp_path / "fw.bin").write_bytes(fakefw.combined())
    with pytest.raises(BoardError, match="no partition table"):
        VirtualBoard(str(img))  # nothing to boot
    blank = tmp_path / "blank.img"
    blank_flash(str(blank), "4M")  # a fresh board's flash (the table doorkit flash writes again)
    vb = VirtualBoard(str(blank), listen=("127.0.0.1", 0)).start()
    try:
        # download mode through the control channel, as `doorkit vboard download` asks for it
        p = subprocess.run([DOORKIT, "vboard", "download", "--control", "%s:%d" % vb.control_addr],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        (port,) = [line.split(": ", 1)[1] for line in p.stdout.splitlines() if line.startswith("port: ")]
        p = subprocess.run([DOORKIT, "flash", "--port", port, "--firmware", str(tmp_path / "fw.bin"), "--plan", "4M",
                            "--erase"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        assert "verified" in p.stdout
        data = blank.read_bytes()
        assert data[PTABLE_AT:PTABLE_AT + 0xC00] == partition_table("4M")
        assert data[0x10000:0x10004] == fakefw.combined()[0xF000:0xF004]  # the app at its offset
        assert vb.status()["state"] == "download"
        vb.reset()  # the EN button: MicroPython boots and formats the erased vfs partition
        from doorkit.link import open_link
        with open_link("socket://%s:%d" % vb.listen_addr) as ln:
            assert ln.ls("/") == []
            assert sorted(ln.eval("[p.info()[4] for p in __import__('esp32').Partition.find(1)]")) == sorted(
                ["nvs", "phy_init", "romfs", "vfs", "log", "keys"])
    finally:
        vb.stop()


def test_a_bad_factory_image_leaves_no_flash_file_behind(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 5000)
    p = subprocess.run([DOORKIT, "vboard", "--factory", str(tmp_path / "junk.bin"), "--image", str(tmp_path / "xx.img"),
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 6 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "xx.img").exists()
