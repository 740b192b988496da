"""Flash images of a door: the parts of doorkit's partition plan (firmware/lockctl/plan.py) built on
the host with the stock tools, and put together as a factory image or a raw flash dump.

    romfs = build_romfs()                                  # the compiled firmware, run in place
    vfs = build_vfs("4M", door_files("door-1", secret, {"auto_lock_ms": 5000}) | firmware_files())
    raw = build_flash("4M", firmware_bin=open("micropython.bin", "rb").read(),
                      door={"door_id": "door-1", "secret": secret, "config": {}}, bundle=bundle)
    build_factory("factory.bin", "4M", firmware_bin=..., door=..., bundle=...)

Parts and where they go (ESP32; the plan gives the partitions):
  0x1000   bootloader     from the MicroPython .bin (micropython.org's ESP32_GENERIC .bin is a combined
  0x8000   partition table          image for 0x1000: bootloader, its partition table at file offset
  factory  MicroPython app          0x7000, the app at 0xF000; doorkit writes its own table)
  romfs    ROMFS image of lockctl/, drivers/, lockshell/ compiled with mpy-cross (mpremote.romfs): the
           board mounts it at /rom, which is first on sys.path, and runs the bytecode in place
  vfs      littlefs (littlefs-python, the geometry MicroPython's VfsLfs2 uses): /boot.py, /main.py,
           /door.json (identity), /lock.json (door settings)
  log      erased (0xFF): the event log and tally start fresh on first boot
  keys     the door's key bundle installed by lockctl's own KeyStore (one implementation of the
           format), or erased
  nvs, phy_init  erased

Every function raises doorkit.errors.UserError(code, one-line message) for bad input. Heavy modules
(esptool, littlefs, mpremote) are imported where they are used.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from typing import Callable, Iterable, Optional

import doorkit
from doorkit.errors import EXIT_DATA, EXIT_INTERNAL, EXIT_REFUSED, EXIT_USAGE, UserError
from lockctl import plan as P

CHIP = "esp32"
BOOTLOADER_OFFSET = 0x1000  # ESP32 (0x0 on S3/C3/C6)
PTABLE_OFFSET = 0x8000
PTABLE_SIZE = 0xC00  # ESP-IDF reads at most this much (95 entries + the MD5 entry)
# the combined MicroPython .bin starts at BOOTLOADER_OFFSET: where its parts are in the file
BIN_PTABLE_AT = PTABLE_OFFSET - BOOTLOADER_OFFSET  # 0x7000
BIN_APP_AT = 0x10000 - BOOTLOADER_OFFSET  # 0xF000

# littlefs as MicroPython's esp32 VfsLfs2 makes it (extmod/vfs_lfsx.c defaults: readsize=32,
# progsize=32, lookahead=32, cache = min(block, 4 * max(read, prog)), block_cycles=100; on-disk
# version 2.1 as VfsLfs2.mkfs of MicroPython 1.29 writes it)
LFS_GEOMETRY = dict(block_size=P.BLOCK, read_size=32, prog_size=32, cache_size=128, lookahead_size=32,
                    block_cycles=100, name_max=255, disk_version=0x00020001)

FORMATS = ("factory", "raw")
FLASH_SIZE_NAMES = {0x400000: "4MB", 0x800000: "8MB", 0x1000000: "16MB"}

DEFAULT_BOOT_PY = b"""# boot.py: runs on every boot (before main.py). doorkit's lock starts in main.py.
"""

Step = Optional[Callable[[str], None]]


def _step(on_step: Step, what: str) -> None:
    if on_step is not None:
        on_step(what)


def _plan(plan: str) -> str:
    if plan not in P.PLANS:
        raise UserError(EXIT_USAGE, "unknown partition plan %r (one of %s)" % (plan, ", ".join(sorted(P.PLANS))))
    return plan


def _part(plan: str, label: str) -> tuple:
    try:
        return P.partition(_plan(plan), label)
    except KeyError:
        raise UserError(EXIT_INTERNAL, "partition plan %s has no %r partition" % (plan, label))


# --------------------------------------------------------------------- ROMFS of the firmware
def _firmware_sources(packages: Iterable[str]) -> list[str]:
    out = []
    for pkg in packages:
        top = os.path.join(doorkit.FIRMWARE_DIR, pkg)
        for dirpath, dirnames, files in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(files):
                if f.endswith(".py"):
                    out.append(os.path.relpath(os.path.join(dirpath, f), doorkit.FIRMWARE_DIR))
    return out


def build_romfs(out: Optional[str] = None, plan: str = "4M") -> bytes:
    """The ROMFS image of the firmware packages (lockctl, drivers, lockshell) compiled with
    mpy-cross: its root holds the packages, so with the image mounted at /rom and /rom on sys.path
    (MicroPython's esp32 _boot.py puts it first) `import lockctl.core` runs from it. Written to `out`
    too when given. UserError if it does not fit the plan's romfs partition."""
    from doorkit.mpy import compile_tree
    from mpremote.romfs import make_romfs
    size = _part(plan, "romfs")[4]
    with tempfile.TemporaryDirectory(prefix="doorkit-romfs-") as tmp:
        try:
            compile_tree(doorkit.FIRMWARE_DIR, tmp, only=set(_firmware_sources(doorkit.FIRMWARE_PACKAGES)))
        except RuntimeError as e:
            raise UserError(EXIT_INTERNAL, str(e).splitlines()[0])
        with contextlib.redirect_stdout(io.StringIO()):  # (make_romfs prints the tree it builds)
            img = bytes(make_romfs(tmp, mpy_cross=False))
    if len(img) > size:
        raise UserError(EXIT_DATA, "the compiled firmware's ROMFS image is %d bytes, the romfs partition of plan "
                                   "%s holds %d" % (len(img), plan, size))
    if out is not None:
        _write(out, img)
    return img


# --------------------------------------------------------------------- the vfs littlefs
def firmware_files() -> dict[str, bytes]:
    """/boot.py and /main.py of the vfs: the firmware's own (firmware/boot.py when there is one)."""
    files = {}
    for name in ("boot.py", "main.py"):
        path = os.path.join(doorkit.FIRMWARE_DIR, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files["/" + name] = f.read()
    files.setdefault("/boot.py", DEFAULT_BOOT_PY)
    return files


def check_identity(door_id, secret) -> tuple[str, bytes]:
    """(door_id text, secret bytes) checked as lockshell.flash.read_identity will read them:
    door_id non-empty printable text, secret 32 bytes (or 64 hex digits)."""
    if isinstance(door_id, bytes):
        try:
            door_id = door_id.decode()
        except UnicodeDecodeError:
            raise UserError(EXIT_DATA, "door id is not text")
    if not isinstance(door_id, str) or not door_id or not door_id.isprintable() or len(door_id.encode()) > 64:
        raise UserError(EXIT_DATA, "door id must be 1..64 bytes of printable text, not %r" % (door_id,))
    if isinstance(secret, str):
        try:
            secret = bytes.fromhex(secret.strip())
        except ValueError:
            raise UserError(EXIT_DATA, "door secret is not hex")
    if not isinstance(secret, (bytes, bytearray)) or len(secret) != 32:
        raise UserError(EXIT_DATA, "door secret must be 32 bytes (64 hex digits)")
    return door_id, bytes(secret)


def check_config(config: Optional[dict]) -> dict:
    """The door's settings checked by lockctl.config (the lock's own validation)."""
    from lockctl import config as C
    from lockctl.errors import LockError
    try:
        return C.check(config or {})
    except LockError as e:
        raise UserError(EXIT_DATA, "door config: %s" % e)


def door_files(door_id, secret, config: Optional[dict] = None, net: Optional[dict] = None) -> dict[str, bytes]:
    """/door.json (lockshell.flash.read_identity's format), /lock.json (lockshell.store.JsonStore's:
    {"config": {...}}) and, for a door with a hub link, /net.json (lockshell.net's) for a door."""
    door_id, secret = check_identity(door_id, secret)
    files = {"/door.json": json.dumps({"door_id": door_id, "secret": secret.hex()}).encode()}
    cfg = check_config(config)
    if cfg:
        files["/lock.json"] = json.dumps({"config": cfg}, sort_keys=True).encode()
    if net:
        files["/net.json"] = json.dumps(check_net(net), sort_keys=True).encode()
    return files


def check_net(net: dict, what: str = "network settings", code: int = EXIT_DATA) -> dict:
    """The hub's settings as lockshell.net.load reads /net.json (the firmware's own check): broker
    (an IPv4 address), port, prefix, keepalive, user, password, wifi {ssid, password}, tls {ca, name};
    UserError."""
    import tempfile
    from lockshell import net as N
    if not isinstance(net, dict):
        raise UserError(code, "%s must be a table" % what)
    unknown = sorted(set(net) - {"broker", "port", "prefix", "keepalive", "user", "password", "wifi", "tls"})
    if unknown:
        raise UserError(code, "%s: no setting %s" % (what, ", ".join(unknown)))
    with tempfile.TemporaryDirectory() as d:
        p = d + "/net.json"
        with open(p, "w") as f:
            json.dump(net, f)
        got = N.load(p)
    if got is None or isinstance(got, tuple):
        raise UserError(code, "%s: %s" % (what, got[1] if got else "missing"))
    out = {k: v for k, v in got.items() if v is not None}
    if "tls" in out:  # (as given: the lock reads the base64 itself)
        out["tls"] = {k: v for k, v in net["tls"].items() if v is not None}
        unknown = sorted(set(out["tls"]) - {"ca", "name"})
        if unknown:
            raise UserError(code, "%s: no tls setting %s" % (what, ", ".join(unknown)))
    return out


def build_vfs(plan: str, files: dict[str, bytes]) -> bytes:
    """A littlefs image of the plan's vfs partition size (block 4096 and MicroPython VfsLfs2's other
    defaults: it mounts on the board as it is) holding `files` ({"/path": bytes}; directories are
    made as needed)."""
    from littlefs import LittleFS, LittleFSError
    size = _part(plan, "vfs")[4]
    fs = LittleFS(block_count=size // P.BLOCK, mount=False, **LFS_GEOMETRY)
    fs.format()
    fs.mount()
    for path in sorted(files):
        if not isinstance(path, str) or not path.startswith("/") or path.endswith("/") or "//" in path:
            raise UserError(EXIT_USAGE, "vfs file name must be an absolute path, not %r" % (path,))
        try:
            d = os.path.dirname(path)
            if d != "/":
                fs.makedirs(d, exist_ok=True)
            with fs.open(path, "wb") as f:
                f.write(bytes(files[path]))
        except LittleFSError as e:
            if e.code == LittleFSError.Error.LFS_ERR_NOSPC:
                raise UserError(EXIT_DATA, "the files do not fit the vfs partition (%d KB)" % (size // 1024))
            raise UserError(EXIT_DATA, "cannot write %s to the vfs image: %s" % (path, e))
    fs.unmount()
    img = bytes(fs.context.buffer)
    assert len(img) == size
    return img


# --------------------------------------------------------------------- the partition table
# REPLACE with doorkit.parttable (written by another helper for issue 8) once it is merged: this is
# the minimal encoder image.py needs, ESP-IDF's binary format (gen_esp32part.py).
_TYPES = {"app": 0x00, "data": 0x01}
_SUBTYPES = {
    "app": {"factory": 0x00, "test": 0x20},
    "data": {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "nvs_keys": 0x04, "efuse": 0x05,
             "undefined": 0x06, "esphttpd": 0x80, "fat": 0x81, "spiffs": 0x82, "littlefs": 0x83, "romfs": 0x8F},
}


def partition_table(plan: str) -> bytes:
    """The ESP-IDF binary partition table of a plan (32-byte entries, magic 0x50AA, then the MD5
    entry 0xEBEB), padded with 0xFF to 0xC00 bytes."""
    import hashlib
    import struct
    body = b""
    for label, typ, sub, off, size in P.PLANS[_plan(plan)]:
        body += struct.pack("<2sBBII16sI", b"\xAA\x50", _TYPES[typ], _SUBTYPES[typ][sub], off, size,
                            label.encode(), 0)
    body += b"\xEB\xEB" + b"\xFF" * 14 + hashlib.md5(body).digest()
    return body + b"\xFF" * (PTABLE_SIZE - len(body))


# --------------------------------------------------------------------- the MicroPython firmware
class Firmware:
    """A MicroPython ESP32 firmware split into its parts: .bootloader, .app (bytes) and .app_info
    (esptool's parsed image of the app)."""

    def __init__(self, bootloader: bytes, app: bytes, app_info=None):
        self.bootloader = bootloader
        self.app = app
        self.app_info = app_info


def _esp_image(data: bytes, what: str, name: str):
    """esptool's parse of an ESP32 image at the start of data -> (image, its length with the digest)."""
    from esptool.bin_image import LoadFirmwareImage
    if not data or data[0] != 0xE9:
        raise UserError(EXIT_DATA, "%s: not an ESP32 firmware image (no %s image at its offset)" % (name, what))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            img = LoadFirmwareImage(CHIP, data)
    except Exception as e:  # esptool's FatalError, struct.error on a short file, ...
        raise UserError(EXIT_DATA, "%s: not an ESP32 firmware image (%s: %s)" % (name, what, str(e).splitlines()[0]
                                                                            if str(e) else type(e).__name__))
    if img.chip_id != img.ROM_LOADER.IMAGE_CHIP_ID:
        raise UserError(EXIT_DATA, "%s: the %s is for another chip (image chip id %d), not an ESP32"
                        % (name, what, img.chip_id))
    if img.checksum != img.calculate_checksum():
        raise UserError(EXIT_DATA, "%s: the %s image's checksum does not match (a damaged file)" % (name, what))
    length = img.data_length
    if img.append_digest:
        if img.stored_digest != img.calc_digest:
            raise UserError(EXIT_DATA, "%s: the %s image's SHA-256 does not match (a damaged file)" % (name, what))
        length += 32
    return img, length


def split_firmware(data: bytes, name: str = "firmware", plan: str = "4M") -> Firmware:
    """Split micropython.org's combined ESP32 .bin (for offset 0x1000: bootloader, partition table at
    file offset 0x7000, app at 0xF000), checking both images with esptool's parser; the app must fit
    the plan's factory partition."""
    data = bytes(data)
    if len(data) < BIN_APP_AT + 32:
        raise UserError(EXIT_DATA, "%s: not a MicroPython ESP32 firmware .bin (%d bytes; the combined image "
                                   "for 0x1000 has its app at 0x%X)" % (name, len(data), BIN_APP_AT))
    _, blen = _esp_image(data, "bootloader", name)
    if blen > BIN_PTABLE_AT:
        raise UserError(EXIT_DATA, "%s: the bootloader runs into the partition table (%d bytes)" % (name, blen))
    if data[BIN_PTABLE_AT:BIN_PTABLE_AT + 2] != b"\xAA\x50":
        raise UserError(EXIT_DATA, "%s: no partition table at file offset 0x%X: not a combined MicroPython .bin"
                        % (name, BIN_PTABLE_AT))
    app_info, alen = _esp_image(data[BIN_APP_AT:], "app", name)
    app = data[BIN_APP_AT:BIN_APP_AT + alen]
    size = _part(plan, "factory")[4]
    if len(app) > size:
        raise UserError(EXIT_DATA, "%s: the app is %d bytes, the factory partition of plan %s holds %d"
                        % (name, len(app), plan, size))
    return Firmware(data[:blen], app, app_info)


def load_firmware(path: str, plan: str = "4M") -> Firmware:
    """split_firmware() of a file; UserError(EXIT_DATA) for a missing or unreadable one."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise UserError(EXIT_DATA, "firmware file %s: no such file" % path)
    except OSError as e:
        raise UserError(EXIT_DATA, "firmware file %s: %s" % (path, e.strerror or e))
    return split_firmware(data, "firmware file %s" % path, plan)


# --------------------------------------------------------------------- the keys partition
def build_keys(plan: str, door_id, secret, bundle: Optional[bytes] = None) -> bytes:
    """The keys partition: erased, with `bundle` installed by lockctl.keystore.KeyStore (the lock's
    own code, on a simulated NOR flash of the partition's size) when given."""
    from doorkit.sim.nor import NorFlash, Partition
    from lockctl.bundle import BundleError
    from lockctl.keystore import KeyStore, StoreError
    door_id, secret = check_identity(door_id, secret)
    n = P.blocks(_plan(plan), "keys")
    dev = NorFlash(n)
    if bundle:
        store = KeyStore(Partition(dev, 0, n), secret, door_id.encode())
        try:
            store.install(bytes(bundle))
        except BundleError as e:
            raise UserError(EXIT_REFUSED, "key bundle refused for door %s: %s" % (door_id, e))
        except StoreError as e:
            raise UserError(EXIT_REFUSED, "key bundle: %s" % e)
    return dev.image()


# --------------------------------------------------------------------- the whole flash
def _door(door: Optional[dict]):
    """(door_id, secret, config) of a door dict {"door_id", "secret", "config"?}, or None."""
    if door is None:
        return None
    if not isinstance(door, dict) or "door_id" not in door or "secret" not in door:
        raise UserError(EXIT_USAGE, "a door is a dict with door_id, secret and (optionally) config")
    door_id, secret = check_identity(door["door_id"], door["secret"])
    return door_id, secret, door.get("config") or {}, door.get("net")


def flash_parts(plan: str, firmware_bin=None, door: Optional[dict] = None, bundle: Optional[bytes] = None,
                romfs: Optional[bytes] = None, on_step: Step = None) -> list[tuple[int, bytes, str]]:
    """[(offset, data, name)] in flash order: every part of the plan (see the module doc).
    firmware_bin: bytes of the combined MicroPython .bin, a Firmware, or None (bootloader and app
    left erased: the virtual board runs the unix port). romfs: a prebuilt image (build_romfs())."""
    _plan(plan)
    d = _door(door)
    if bundle and d is None:
        raise UserError(EXIT_USAGE, "a key bundle needs its door (door_id and secret)")
    parts = []
    if firmware_bin is not None:
        _step(on_step, "firmware")
        fw = firmware_bin if isinstance(firmware_bin, Firmware) else split_firmware(firmware_bin, plan=plan)
        parts.append((BOOTLOADER_OFFSET, fw.bootloader, "bootloader"))
    parts.append((PTABLE_OFFSET, partition_table(plan), "partition table"))
    for label, typ, sub, off, size in P.PLANS[plan]:
        if label == "factory":
            if firmware_bin is not None:
                parts.append((off, fw.app, "app"))
            continue
        if label == "romfs":
            if romfs is None:
                _step(on_step, "romfs")
                romfs = build_romfs(plan=plan)
            elif len(romfs) > size:
                raise UserError(EXIT_DATA, "ROMFS image of %d bytes, the romfs partition holds %d" % (len(romfs), size))
            data = romfs + b"\xFF" * (size - len(romfs))
        elif label == "vfs":
            _step(on_step, "vfs")
            files = firmware_files()
            if d is not None:
                files.update(door_files(*d))
            data = build_vfs(plan, files)
        elif label == "keys" and d is not None:
            _step(on_step, "keys")
            data = build_keys(plan, d[0], d[1], bundle)
        else:  # nvs, phy_init, log, keys without a door: erased
            data = b"\xFF" * size
        parts.append((off, data, label))
    return parts


def _merge(parts, plan: str, target_offset: int, pad: bool) -> bytes:
    """esptool's merge_bin of the parts (the bootloader's header gets the plan's flash size)."""
    from esptool.cmds import merge_bin
    size = FLASH_SIZE_NAMES[P.FLASH_SIZES[plan]]
    kw = {"target_offset": target_offset}
    if pad:
        kw["pad_to_size"] = size
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return merge_bin([(off, data) for off, data, _ in parts], CHIP, output=None, flash_size=size, **kw)
    except Exception as e:
        raise UserError(EXIT_INTERNAL, "esptool merge_bin: %s" % (str(e).splitlines()[0] if str(e) else type(e).__name__))


def build_flash(plan: str, firmware_bin=None, door: Optional[dict] = None, bundle: Optional[bytes] = None,
                romfs: Optional[bytes] = None, on_step: Step = None) -> bytes:
    """The board's whole flash (the plan's flash size, from address 0): what `doorkit vboard --image`
    uses in place. door: {"door_id": text, "secret": 32 bytes or hex, "config": {...}} or None (a
    door nobody provisioned); bundle: the door's key bundle (bytes) or None."""
    parts = flash_parts(plan, firmware_bin, door, bundle, romfs, on_step)
    _step(on_step, "merge")
    img = _merge(parts, plan, 0, True)
    assert len(img) == P.FLASH_SIZES[plan]
    return img


def build_factory(out: Optional[str], plan: str, firmware_bin=None, door: Optional[dict] = None,
                  bundle: Optional[bytes] = None, romfs: Optional[bytes] = None, on_step: Step = None) -> bytes:
    """The factory image (esptool merge_bin of every part at its offset, from the bootloader's offset
    0x1000 to the end of the plan's last partition, every partition in full so one write leaves
    nothing stale): `esptool write-flash 0x1000 FILE`. Needs the firmware. Written to `out` when
    given; returned."""
    if firmware_bin is None:
        raise UserError(EXIT_USAGE, "a factory image needs the MicroPython firmware (--firmware FILE)")
    parts = flash_parts(plan, firmware_bin, door, bundle, romfs, on_step)
    _step(on_step, "merge")
    img = _merge(parts, plan, BOOTLOADER_OFFSET, False)
    if out is not None:
        _write(out, img)
    return img


def _write(path: str, data: bytes) -> None:
    try:
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(EXIT_DATA, "cannot write %s: %s" % (path, e.strerror or e))


def write_image(path: str, data: bytes) -> None:
    """Write an image file whole (a temp file renamed over it): UserError for a path that cannot be
    written."""
    _write(path, data)
