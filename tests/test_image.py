"""doorkit image: the parts of a door's flash built on the host, checked by the tools that read them on
the board: MicroPython's own VfsLfs2 and VfsRom (unix port), lockctl's KeyStore, esptool's image
parser; and the CLI's one-line errors."""
import hashlib
import json
import os
import struct
import subprocess
import sys

import pytest

import doorkit  # noqa: F401
import fakefw
from doorkit import cli
from doorkit import image as I
from doorkit.errors import EXIT_DATA, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UserError
from doorkit.keybook import KeyBook
from doorkit.mpy import tool
from lockctl import plan as P
from lockctl.codes import KIND_PIN

SECRET = bytes(range(32))
DOOR = {"door_id": "front-door", "secret": SECRET, "config": {"auto_lock_ms": 5000, "button_unlock": False}}


def bundle(door_id=b"front-door", secret=SECRET):
    book = KeyBook(secret, door_id)
    book.add("pin", "4711", "alice")
    book.add("iso14443a", "04A1B2C3D4E5F6", "bob")
    return book.bundle()


@pytest.fixture(scope="module")
def romfs():
    return I.build_romfs()


@pytest.fixture(scope="module")
def raw(romfs):
    return I.build_flash("4M", fakefw.combined(), DOOR, bundle(), romfs=romfs)


def part(img, plan, label, base=0):
    _, _, _, off, size = P.partition(plan, label)
    return img[off - base:off - base + size]


def decode_table(b):
    """An independent read of the ESP-IDF binary table: [(label, type, subtype, offset, size)]."""
    rows = []
    for i in range(0, len(b), 32):
        e = b[i:i + 32]
        if e[:2] == b"\xEB\xEB":
            assert e[16:] == hashlib.md5(b[:i]).digest(), "MD5 entry"
            return rows
        assert e[:2] == b"\xAA\x50", "entry %d magic" % (i // 32)
        t, s, off, size, label, flags = struct.unpack("<BBII16sI", e[2:])
        rows.append((label.rstrip(b"\x00").decode(), t, s, off, size))
    raise AssertionError("no MD5 entry")


# ------------------------------------------------------------------ the fake firmware and esptool
def test_fake_firmware_is_accepted_by_esptools_image_info(capsys):
    from esptool.cmds import image_info
    image_info(fakefw.app(), chip="esp32")
    image_info(fakefw.bootloader())
    out = capsys.readouterr().out
    assert out.count("(valid)") == 4 and "invalid" not in out, out
    assert "Detected image type: ESP32" in out and "Project name: micropython" in out


def test_esptool_notices_a_damaged_fake_image(capsys):
    """(the check above can fail: one flipped byte is caught)"""
    from esptool.cmds import image_info
    bad = bytearray(fakefw.app())
    bad[0x100] ^= 1
    image_info(bytes(bad), chip="esp32")
    assert "invalid" in capsys.readouterr().out


def test_split_firmware_finds_bootloader_and_app():
    boot, app = fakefw.bootloader(), fakefw.app()
    fw = I.split_firmware(fakefw.combined(boot, app))
    assert fw.bootloader == boot and fw.app == app


@pytest.mark.parametrize("damage, words", [
    (lambda b: b[:0x8000], "not a MicroPython ESP32 firmware"),
    (lambda b: b"\x00" + b[1:], "no bootloader image"),
    (lambda b: b[:0xF000] + b"\x00" + b[0xF001:], "no app image"),
    (lambda b: b[:0xF100] + bytes([b[0xF100] ^ 0xFF]) + b[0xF101:], "checksum"),
    (lambda b: b[:0x7000] + b"\xFF\xFF" + b[0x7002:], "no partition table"),
    (lambda b: b[:0xF000 + 200], "app: End of file"),
])
def test_split_firmware_refuses_what_is_not_a_micropython_bin(damage, words):
    with pytest.raises(UserError) as e:
        I.split_firmware(damage(fakefw.combined()))
    assert e.value.code == EXIT_DATA and words in str(e.value) and "\n" not in str(e.value)


def test_split_firmware_refuses_another_chips_image():
    s3 = fakefw.esp32_image([(0x3FCE0000, b"\x00" * 64)], 0x40380000, chip_id=9)
    with pytest.raises(UserError) as e:
        I.split_firmware(fakefw.combined(application=s3))
    assert e.value.code == EXIT_DATA and "another chip" in str(e.value)


def test_split_firmware_refuses_an_app_bigger_than_the_factory_partition():
    with pytest.raises(UserError) as e:
        I.split_firmware(fakefw.combined(application=fakefw.app(size=0x1D0000)))
    assert e.value.code == EXIT_DATA and "factory partition" in str(e.value)


# ------------------------------------------------------------------ vfs (littlefs)
def test_vfs_reads_back_with_littlefs_python():
    from littlefs import LittleFS
    files = I.firmware_files()
    files.update(I.door_files(DOOR["door_id"], SECRET, DOOR["config"]))
    files["/lib/deep/x.bin"] = bytes(range(256)) * 40
    img = I.build_vfs("8M", files)
    assert len(img) == P.partition("8M", "vfs")[4]
    fs = LittleFS(block_count=len(img) // 4096, mount=False, **I.LFS_GEOMETRY)
    fs.context.buffer = bytearray(img)
    fs.mount()
    for path, data in files.items():
        with fs.open(path, "rb") as f:
            assert f.read() == data, path
    assert sorted(fs.listdir("/")) == ["boot.py", "door.json", "lib", "lock.json", "main.py"]
    assert json.loads(files["/door.json"]) == {"door_id": "front-door", "secret": SECRET.hex()}


def test_vfs_is_reproducible():
    files = {"/a.txt": b"a", "/main.py": b"print(1)\n"}
    assert I.build_vfs("4M", files) == I.build_vfs("4M", dict(reversed(list(files.items()))))


def test_vfs_refuses_files_that_do_not_fit():
    with pytest.raises(UserError) as e:
        I.build_vfs("4M", {"/big": bytes(300 * 1024)})
    assert e.value.code == EXIT_DATA and "do not fit" in str(e.value)


def test_door_files_refuse_bad_identity_and_config():
    for args, words in (((b"", SECRET), "door id"), (("d", b"short"), "32 bytes"), (("d", "zz" * 32), "not hex"),
                        (("d", SECRET, {"auto_lock_ms": -1}), "auto_lock_ms"), (("d", SECRET, {"nope": 1}), "nope")):
        with pytest.raises(UserError) as e:
            I.door_files(*args)
        assert e.value.code == EXIT_DATA and words in str(e.value)


# ------------------------------------------------------------------ MicroPython reads the raw flash
MP_CHECK = r"""
import sys, vfs, os, json
path = sys.argv[1]
offs = [int(x) for x in sys.argv[2:]]
def load(off, size):
    f = open(path, 'rb'); f.seek(off); b = bytearray(f.read(size)); f.close(); return b
class BD:
    def __init__(self, data): self.data = data
    def readblocks(self, n, buf, off=0):
        a = n * 4096 + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]
    def writeblocks(self, n, buf, off=None):
        a = n * 4096 + (off or 0)
        self.data[a:a + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4: return len(self.data) // 4096
        if op == 5: return 4096
        if op == 6:
            self.data[arg * 4096:(arg + 1) * 4096] = b'\xff' * 4096
        return 0
romfs = bytes(load(offs[0], offs[1]))
vfs.mount(vfs.VfsRom(romfs), '/rom')
sys.path.insert(0, '/rom')
vfs.mount(vfs.VfsLfs2(BD(load(offs[2], offs[3]))), '/flash')
out = {'rom': sorted(os.listdir('/rom')), 'flash': sorted(os.listdir('/flash'))}
out['files'] = {}
for n in out['flash']:
    out['files'][n] = open('/flash/' + n).read()
import lockctl.core
out['core_from'] = lockctl.core.__file__
from lockshell.flash import read_identity
from lockshell.store import JsonStore
door, secret = read_identity('/flash/door.json')
out['door'] = [door.decode(), secret.hex()]
out['config'] = JsonStore('/flash/lock.json').load()[0]
from lockctl.keystore import KeyStore
from lockctl.codes import KIND_PIN
keys = BD(load(offs[4], offs[5]))
st = KeyStore(keys, secret, door)
out['keys'] = [st.version, len(st), st.check(KIND_PIN, '4711', None)[0], st.check(KIND_PIN, '1234', None)[0]]
print('@@' + json.dumps(out))
"""


def test_micropython_mounts_the_romfs_and_vfs_of_the_raw_flash(raw, tmp_path):
    path = tmp_path / "flash.img"
    path.write_bytes(raw)
    script = tmp_path / "check.py"
    script.write_text(MP_CHECK)
    offs = []
    for label in ("romfs", "vfs", "keys"):
        offs += [str(P.partition("4M", label)[3]), str(P.partition("4M", label)[4])]
    # (a big heap: the test holds the partitions in RAM, the board maps them)
    proc = subprocess.run([tool("micropython"), "-X", "heapsize=8M", str(script), str(path)] + offs,
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
    assert lines, proc.stdout + proc.stderr
    out = json.loads(lines[0][2:])
    assert out["rom"] == ["drivers", "lockctl", "lockshell"]
    assert out["core_from"].startswith("/rom/lockctl/core")
    assert out["flash"] == ["boot.py", "door.json", "lock.json", "main.py"]
    with open(os.path.join(doorkit.FIRMWARE_DIR, "main.py")) as f:
        assert out["files"]["main.py"] == f.read()
    assert out["door"] == ["front-door", SECRET.hex()]
    assert out["config"] == DOOR["config"]
    assert out["keys"][:3] == [1, 2, 1] and out["keys"][3] is None


# ------------------------------------------------------------------ the raw flash on CPython
def test_raw_flash_has_the_plans_partition_table(raw):
    assert len(raw) == P.FLASH_SIZES["4M"]
    rows = decode_table(raw[I.PTABLE_OFFSET:I.PTABLE_OFFSET + I.PTABLE_SIZE])
    assert [(r[0], r[3], r[4]) for r in rows] == [(p[0], p[3], p[4]) for p in P.PLANS["4M"]]
    types = {r[0]: (r[1], r[2]) for r in rows}
    assert types["factory"] == (0, 0) and types["romfs"] == (1, 0x8F) and types["vfs"] == (1, 0x81)
    assert types["keys"] == (1, 0x06) and types["nvs"] == (1, 0x02) and types["phy_init"] == (1, 0x01)


def test_raw_flash_keys_partition_holds_the_bundle(raw):
    from doorkit.sim.nor import NorFlash, RamCells, Partition
    from lockctl.keystore import KeyStore
    keys = part(raw, "4M", "keys")
    cells = RamCells(len(keys))
    cells.b[:] = keys
    dev = NorFlash(len(keys) // 4096, cells=cells)
    st = KeyStore(Partition(dev, 0, dev.blocks), SECRET, b"front-door")
    assert st.verify() == 0 and st.version == 1 and len(st) == 2
    assert st.check(KIND_PIN, "4711", None) == (1, None)
    assert st.check(KIND_PIN, "1234", None)[0] is None


def test_raw_flash_log_erased_firmware_in_place(raw, romfs):
    assert part(raw, "4M", "log") == b"\xFF" * P.partition("4M", "log")[4]
    assert raw[:I.BOOTLOADER_OFFSET] == b"\xFF" * I.BOOTLOADER_OFFSET
    assert raw[I.BOOTLOADER_OFFSET:].startswith(fakefw.bootloader())
    assert part(raw, "4M", "factory").startswith(fakefw.app())
    assert part(raw, "4M", "romfs").startswith(romfs) and romfs[:3] == b"\xd2\xcd\x31"


def test_raw_flash_without_firmware_or_door_is_blank_but_for_table_romfs_vfs(romfs):
    img = I.build_flash("8M", romfs=romfs)
    assert len(img) == P.FLASH_SIZES["8M"]
    assert part(img, "8M", "factory") == b"\xFF" * P.partition("8M", "factory")[4]
    assert part(img, "8M", "keys") == b"\xFF" * P.partition("8M", "keys")[4]
    assert decode_table(img[0x8000:0x8C00])[-1][0] == "keys"


def test_a_bundle_for_another_door_is_refused(romfs):
    with pytest.raises(UserError) as e:
        I.build_flash("4M", None, DOOR, bundle(door_id=b"back-door"), romfs=romfs)
    assert e.value.code == EXIT_REFUSED and "refused" in str(e.value)


# ------------------------------------------------------------------ the factory image
def test_factory_image_has_every_part_at_its_offset(raw, romfs):
    fac = I.build_factory(None, "4M", fakefw.combined(), DOOR, bundle(), romfs=romfs)
    base = I.BOOTLOADER_OFFSET
    assert fac.startswith(fakefw.bootloader())
    assert fac[I.PTABLE_OFFSET - base:I.PTABLE_OFFSET - base + I.PTABLE_SIZE] == I.partition_table("4M")
    assert fac[0x10000 - base:].startswith(fakefw.app())
    for label in ("romfs", "vfs", "log", "keys"):
        assert part(fac, "4M", label, base) == part(raw, "4M", label), label
    last = P.PLANS["4M"][-1]
    assert len(fac) == last[3] + last[4] - base
    assert raw[base:base + len(fac)] == fac


def test_factory_image_for_8M_sets_the_bootloaders_flash_size(romfs, tmp_path, capsys):
    from esptool.cmds import image_info
    out = tmp_path / "f.bin"
    fac = I.build_factory(str(out), "8M", fakefw.combined(), romfs=romfs)
    assert out.read_bytes() == fac
    assert fac[3] >> 4 == 3  # 8MB in the header (the fake says 4MB)
    image_info(fac[:len(fakefw.bootloader())], chip="esp32")
    text = capsys.readouterr().out
    assert "Flash size: 8MB" in text and "invalid" not in text


def test_romfs_that_does_not_fit_is_refused(monkeypatch, romfs):
    with pytest.raises(UserError) as e:
        I.flash_parts("4M", romfs=romfs + bytes(P.partition("4M", "romfs")[4]))
    assert e.value.code == EXIT_DATA
    tiny = tuple(p if p[0] != "romfs" else ("romfs", "data", "romfs", p[3], 0x1000) for p in P.PLANS["4M"])
    monkeypatch.setitem(P.PLANS, "tiny", tiny)
    with pytest.raises(UserError) as e:
        I.build_romfs(plan="tiny")
    assert e.value.code == EXIT_DATA and "romfs partition" in str(e.value)


# ------------------------------------------------------------------ the CLI
def run_cli(argv, capsys):
    try:
        code = cli.main(["image"] + argv)
    except SystemExit as e:  # argparse's own errors (the CLI's parser makes them one line, exit 2)
        code = e.code
    c = capsys.readouterr()
    return code, c.out, c.err


def test_cli_help_has_an_example_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["image", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "doorkit image --plan 4M --firmware" in out and "6 bad input file" in out


def test_cli_builds_a_raw_image_from_door_arguments(tmp_path, capsys):
    (tmp_path / "s").write_text(SECRET.hex() + "\n")
    (tmp_path / "c.json").write_text(json.dumps({"auto_lock_ms": 5000}))
    (tmp_path / "b.bin").write_bytes(bundle())
    out = tmp_path / "flash.img"
    code, o, err = run_cli(["--format", "raw", "--door-id", "front-door", "--secret-file", str(tmp_path / "s"),
                            "--config", str(tmp_path / "c.json"), "--bundle", str(tmp_path / "b.bin"),
                            "--out", str(out)], capsys)
    assert code == EXIT_OK, err
    img = out.read_bytes()
    assert len(img) == P.FLASH_SIZES["4M"] and "door front-door" in o
    assert part(img, "4M", "keys") != b"\xFF" * P.partition("4M", "keys")[4]


def test_cli_builds_a_factory_image(tmp_path, capsys):
    fw = tmp_path / "micropython.bin"
    fw.write_bytes(fakefw.combined())
    out = tmp_path / "factory.bin"
    code, o, err = run_cli(["--plan", "4M", "--firmware", str(fw), "--out", str(out)], capsys)
    assert code == EXIT_OK, err
    assert out.read_bytes().startswith(fakefw.bootloader()) and "0x1000" in o


def _bad(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 0x10000)
    (tmp_path / "short").write_text("1234\n")
    (tmp_path / "s").write_text(SECRET.hex())
    (tmp_path / "c.json").write_text("[1]")
    (tmp_path / "c2.json").write_text('{"auto_lock_ms": "soon"}')
    (tmp_path / "other.bundle").write_bytes(bundle(door_id=b"back-door"))
    t = str(tmp_path)
    return [
        (["--firmware", t + "/missing.bin"], EXIT_DATA, "no such file"),
        (["--firmware", t + "/junk.bin"], EXIT_DATA, "not an ESP32 firmware image"),
        (["--plan", "4M"], EXIT_USAGE, "needs --firmware"),
        (["--plan", "2M"], EXIT_USAGE, "invalid choice"),
        (["--format", "raw", "--door", t + "/nodoor"], EXIT_DATA, "no such directory"),
        (["--format", "raw", "--door-id", "d"], EXIT_USAGE, "--secret-file"),
        (["--format", "raw", "--secret-file", t + "/s"], EXIT_USAGE, "goes with --door-id"),
        (["--format", "raw", "--door-id", "d", "--secret-file", t + "/short"], EXIT_DATA, "64 hex"),
        (["--format", "raw", "--door-id", "d", "--secret-file", t + "/s", "--config", t + "/c.json"], EXIT_DATA,
         "not a JSON object"),
        (["--format", "raw", "--door-id", "d", "--secret-file", t + "/s", "--config", t + "/c2.json"], EXIT_DATA,
         "auto_lock_ms"),
        (["--format", "raw", "--door-id", "front-door", "--secret-file", t + "/s", "--bundle",
          t + "/other.bundle"], EXIT_REFUSED, "refused"),
        (["--format", "raw", "--door", t, "--door-id", "d"], EXIT_USAGE, "not both"),
    ]


def test_cli_bad_inputs_give_one_line_errors_and_their_exit_codes(tmp_path, capsys):
    for argv, code, words in _bad(tmp_path):
        got, out, err = run_cli(argv + ["--out", str(tmp_path / "o.bin")], capsys)
        assert got == code, (argv, got, err)
        assert words in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "o.bin").exists()


def test_cli_command_module_imports_nothing_heavy():
    code = ("import sys, doorkit.commands.image; "
            "print(sorted(m for m in ('esptool', 'littlefs', 'mpremote', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_failed_image_of_a_door_directory_changes_nothing_in_it(tmp_path, capsys):
    from doorkit import provision as PR
    d = tmp_path / "front"
    door = PR.create_door(d, "front")
    door, keys = PR.open_keys(d)
    keys.add_user("E1", "Alice")
    keys.add_credential("E1", "iso14443a", "04a1b2c3")
    PR.save_keys(door, keys)
    before = (d / "keys.json").read_bytes()
    for _ in range(2):
        code, _, err = run_cli(["--door", str(d), "--firmware", str(tmp_path / "nope.bin"),
                                "--out", str(tmp_path / "x.bin")], capsys)
        assert code == EXIT_DATA and "no such file" in err
    assert (d / "keys.json").read_bytes() == before
    fw = tmp_path / "micropython.bin"
    fw.write_bytes(fakefw.combined())
    code, _, err = run_cli(["--door", str(d), "--firmware", str(fw), "--out", str(tmp_path / "x.bin")], capsys)
    assert code == EXIT_OK, err
    assert PR.open_keys(d)[1].book.version == 1  # the image holds version 1: recorded once it is written
