"""doorkit flash against an emulated ESP32 serial bootloader (sim/esprom.py) on a pty, driven by
the real stock esptool: what lands in the emulated flash is read back and decoded here."""
import hashlib
import os
import struct
import subprocess
import sys

import pytest
import serial

import fakefw
from doorkit import errors as E
from doorkit.cli import main
from doorkit.flash import firmware_chip, flash_firmware
from doorkit.image import partition_table, split_firmware
from doorkit.sim.esprom import CHANGE_BAUDRATE, EspRom
from lockctl import plan as P

MB = 0x100000
QUIET = dict(before="no-reset", after="no-reset")  # no DTR/RTS dance: the emulated ROM is waiting


@pytest.fixture
def fw_file(tmp_path):
    path = tmp_path / "ESP32_GENERIC-fake.bin"
    path.write_bytes(fakefw.combined())
    return str(path)


@pytest.fixture
def rom():
    r = EspRom(flash_size=4 * MB)
    yield r
    r.close()


def decode_table(raw):
    """The ESP-IDF binary partition table decoded here from its format: [(label, type, subtype,
    offset, size)], checking the MD5 entry."""
    rows, i = [], 0
    while raw[i:i + 2] == b"\xAA\x50":
        _, typ, sub, off, size, label, _flags = struct.unpack("<2sBBII16sI", raw[i:i + 32])
        rows.append((label.rstrip(b"\x00").decode(), typ, sub, off, size))
        i += 32
    assert raw[i:i + 2] == b"\xEB\xEB"
    assert raw[i + 16:i + 32] == hashlib.md5(raw[:i]).digest()
    assert set(raw[i + 32:0xC00]) == {0xFF}
    return rows


def plan_rows(plan):
    types = {"app": 0, "data": 1}
    subs = {"factory": 0, "nvs": 2, "phy": 1, "fat": 0x81, "undefined": 6, "romfs": 0x8F}
    return [(label, types[t], subs[s], off, size) for label, t, s, off, size in P.PLANS[plan]]


def check_landed(flash, plan, size_nibble):
    fw = split_firmware(fakefw.combined())
    boot = flash[0x1000:0x1000 + len(fw.bootloader)]
    # the bootloader as in the .bin but for the flash size esptool wrote into its header (and so
    # its SHA-256): byte 3's high nibble
    assert boot[3] & 0xF0 == size_nibble
    assert boot[:3] == fw.bootloader[:3] and boot[4:-32] == fw.bootloader[4:-32]
    assert boot[-32:] == hashlib.sha256(boot[:-32]).digest()
    assert set(flash[:0x1000]) == {0xFF}
    assert flash[0x8000:0x8C00] == partition_table(plan)
    assert decode_table(flash[0x8000:0x8C00]) == plan_rows(plan)
    factory = P.partition(plan, "factory")[3]
    assert flash[factory:factory + len(fw.app)] == fw.app
    assert set(flash[0x8C00:factory]) == {0xFF}
    assert set(flash[factory + len(fw.app):factory + len(fw.app) + 0x1000]) == {0xFF}


def test_flash_writes_bootloader_table_and_app_where_they_go(rom, fw_file):
    seen = []
    info = flash_firmware(rom.port, fw_file, plan="4M", on_progress=lambda d, t, w: seen.append((d, t, w)), **QUIET)
    assert info["chip"] == "ESP32" and info["flash_size"] == 4 * MB and info["verified"]
    assert [(off, what) for off, _, what in info["regions"]] == [(0x1000, "bootloader"), (0x8000, "partition table"),
                                                                 (0x10000, "app")]
    check_landed(rom.flash, "4M", 0x20)
    assert rom.chip_erases == 0
    # esptool's progress reached on_progress, ending at its total
    assert seen and seen[-1][0] == seen[-1][1] and any("0x" in w for _, _, w in seen)
    # after="no-reset": the stub was left for the ROM loader again (FLASH_END asking to leave)
    assert not rom.stub and rom.resets == 1
    assert CHANGE_BAUDRATE in rom.commands  # up from the ROM's 115200 to the default 460800


def test_staying_at_the_rom_baud_rate(rom, fw_file):
    flash_firmware(rom.port, fw_file, baud=115200, **QUIET)
    assert CHANGE_BAUDRATE not in rom.commands
    check_landed(rom.flash, "4M", 0x20)


def test_flash_8m_plan_on_an_8mb_board(fw_file):
    with EspRom(flash_size=8 * MB) as r:
        info = flash_firmware(r.port, fw_file, plan="8M", **QUIET)
        assert info["flash_size"] == 8 * MB
        check_landed(r.flash, "8M", 0x30)


def test_erase_clears_the_whole_flash_first(fw_file):
    junk = bytearray(b"\xFF" * (4 * MB))
    junk[0x340000:0x340010] = b"old keys........"
    with EspRom(flash=bytearray(junk), flash_size=4 * MB) as r:
        flash_firmware(r.port, fw_file, **QUIET)
        assert r.flash[0x340000:0x340010] == b"old keys........"  # untouched without --erase
    with EspRom(flash=bytearray(junk), flash_size=4 * MB) as r:
        info = flash_firmware(r.port, fw_file, erase=True, **QUIET)
        assert info["erased"] and r.chip_erases == 1
        assert set(r.flash[0x340000:0x340010]) == {0xFF}
        check_landed(r.flash, "4M", 0x20)


def test_a_flash_that_does_not_keep_what_is_written_fails_the_check(fw_file):
    class Leaky(EspRom):
        def _program(self, addr, data):  # a stuck bit at 0x10010
            ok = super()._program(addr, data)
            if addr <= 0x10010 < addr + len(data):
                self.flash[0x10010] |= 0x01
            return ok

    with Leaky(flash_size=4 * MB) as r:
        with pytest.raises(E.UserError) as e:
            flash_firmware(r.port, fw_file, **QUIET)
        assert e.value.code == E.EXIT_MISMATCH and "read back" in str(e.value)


class Disturbing(EspRom):
    """Writing the app flips a bit of the bootloader written before it (which esptool's MD5 of the
    bootloader, taken right after writing it, cannot see; the verify at the end does)."""

    def _program(self, addr, data):
        ok = super()._program(addr, data)
        if addr >= 0x10000:
            self.flash[0x1010] ^= 0x01
        return ok


def test_verify_at_the_end_catches_a_region_disturbed_later(fw_file):
    with Disturbing(flash_size=4 * MB) as r:
        with pytest.raises(E.UserError) as e:
            flash_firmware(r.port, fw_file, **QUIET)
        assert e.value.code == E.EXIT_MISMATCH and "verify failed" in str(e.value)
    with Disturbing(flash_size=4 * MB) as r:  # verify=False: nobody looks
        assert flash_firmware(r.port, fw_file, verify=False, **QUIET)["verified"] is False


def test_plan_bigger_than_the_flash_is_refused_and_nothing_written(rom, fw_file):
    with pytest.raises(E.UserError) as e:
        flash_firmware(rom.port, fw_file, plan="8M", **QUIET)
    assert e.value.code == E.EXIT_REFUSED and "4MB" in str(e.value) and "8M" in str(e.value)
    assert set(rom.flash) == {0xFF}


def test_esp32_firmware_on_an_esp32s3_is_refused(fw_file):
    with EspRom(chip="esp32s3", flash_size=4 * MB) as r:
        with pytest.raises(E.UserError) as e:
            flash_firmware(r.port, fw_file, **QUIET)
        assert set(r.flash) == {0xFF}
    assert e.value.code == E.EXIT_REFUSED
    assert "ESP32-S3" in str(e.value) and "is for ESP32," in str(e.value)


def test_esp32s3_firmware_on_an_esp32_is_refused(rom, tmp_path):
    s3 = fakefw.esp32_image([(0x3FCD0000, b"\x11" * 0x40)], entry=0x403C8000, chip_id=9)
    path = tmp_path / "s3.bin"
    path.write_bytes(s3 + b"\xFF" * 0x10000)
    assert firmware_chip(path.read_bytes()) == "ESP32-S3"
    with pytest.raises(E.UserError) as e:
        flash_firmware(rom.port, str(path), **QUIET)
    assert e.value.code == E.EXIT_REFUSED and "is for ESP32-S3" in str(e.value) and "an ESP32" in str(e.value)
    assert set(rom.flash) == {0xFF}


@pytest.mark.parametrize("content, says", [
    (None, "no such file"),
    (b"#!/bin/sh\necho not a firmware\n" * 10, "not an ESP32 firmware image"),
    (fakefw.combined()[:0x9000], "not a MicroPython ESP32 firmware"),
    (fakefw.combined()[:0x20] + b"\x00" + fakefw.combined()[0x21:], "does not match"),  # a damaged bootloader
])
def test_bad_firmware_files_are_refused_before_the_board_is_touched(rom, tmp_path, content, says):
    path = tmp_path / "fw.bin"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(E.UserError) as e:
        flash_firmware(rom.port, str(path), **QUIET)
    assert e.value.code == E.EXIT_DATA and says in str(e.value)
    assert rom.commands == []


def test_missing_port(fw_file, tmp_path):
    with pytest.raises(E.UserError) as e:
        flash_firmware(str(tmp_path / "ttyUSB9"), fw_file, **QUIET)
    assert e.value.code == E.EXIT_BOARD and "no such port" in str(e.value)


def test_busy_port(rom, fw_file):
    holder = serial.Serial(rom.port, exclusive=True)  # what a serial monitor does
    try:
        with pytest.raises(E.UserError) as e:
            flash_firmware(rom.port, fw_file, **QUIET)
    finally:
        holder.close()
    assert e.value.code == E.EXIT_BOARD
    assert str(e.value).startswith("port %s is busy: another program has it open" % rom.port)
    assert rom.commands == []


def test_nothing_listening_is_not_called_busy(fw_file):
    with pytest.raises(E.UserError) as e:
        flash_firmware("socket://127.0.0.1:1", fw_file, **QUIET)
    assert e.value.code == E.EXIT_BOARD and "connection refused" in str(e.value) and "busy" not in str(e.value)


def test_silent_port(fw_file):
    import pty
    m, s = pty.openpty()  # a port with nothing behind it
    name = os.ttyname(s)
    try:
        with pytest.raises(E.UserError) as e:
            flash_firmware(name, fw_file, **QUIET)
    finally:
        os.close(s)
        os.close(m)
    assert e.value.code == E.EXIT_BOARD and str(e.value).startswith("no board answers on %s:" % name)


# ------------------------------------------------------------------ the command
def test_command_with_its_defaults(rom, fw_file, capsys):
    # default-reset and hard-reset: esptool's DTR/RTS calls fail on a pty and it goes on without
    assert main(["flash", "--port", rom.port, "--firmware", fw_file]) == E.EXIT_OK
    out, err = capsys.readouterr()
    assert out.startswith(rom.port + ": ESP32, 4 MB flash, plan 4M: bootloader 0x1000, partition table 0x8000, "
                                     "app 0x10000, verified")
    assert err == ""
    check_landed(rom.flash, "4M", 0x20)


@pytest.mark.parametrize("argv, code, says", [
    (["--firmware", "/nonexistent/fw.bin"], E.EXIT_DATA, "no such file"),
    (["--plan", "8M"], E.EXIT_REFUSED, "plan 8M needs 8MB"),
    (["--baud", "12"], E.EXIT_USAGE, "--baud"),
])
def test_command_errors_are_one_line(rom, fw_file, capsys, argv, code, says):
    args = ["flash", "--port", rom.port, "--firmware", fw_file, "--before", "no-reset"] + argv
    assert main(args) == code
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("doorkit flash: ") and says in err


def test_command_missing_port_one_line(fw_file, capsys):
    assert main(["flash", "--port", "/dev/ttyNOPE9", "--firmware", fw_file]) == E.EXIT_BOARD
    err = capsys.readouterr().err
    assert err == "doorkit flash: no board at /dev/ttyNOPE9: no such port\n"


def test_help_has_an_example_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["flash", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "doorkit flash --port /dev/ttyUSB0 --firmware" in out and E.EXIT_HELP in out


def test_no_heavy_imports_until_run():
    code = ("import sys, doorkit.commands.flash, doorkit.flash, doorkit.cli; doorkit.cli._parser(); "
            "print(sorted(m for m in ('esptool', 'rich', 'serial', 'mpremote') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_terminal_gets_a_progress_bar(rom, fw_file):
    from ptyio import Pty
    exe = os.path.join(os.path.dirname(sys.executable), "doorkit")
    t = Pty(24, 100)
    p = subprocess.Popen([exe, "flash", "--port", rom.port, "--firmware", fw_file, "--before", "no-reset",
                          "--after", "no-reset"], stdout=subprocess.PIPE, stderr=t.slave, close_fds=True)
    t.child_started()
    try:
        out = p.communicate(timeout=120)[0].decode()
        err = t.drain().decode("utf-8", "replace")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        t.close()
    assert p.returncode == 0 and "verified" in out
    assert "doorkit flash: " in err and "\u2501" in err  # rich's bar, drawn on the terminal (stderr)
    assert "doorkit flash: Writing at 0x" in err  # esptool's progress reached it
    check_landed(rom.flash, "4M", 0x20)
