# What the virtual board runs at power-on and after each reset (the ESP32 port's _boot.py and
# main loop, as far as a board's user sees them): import the shims while the host filesystem is
# mounted, swap the host root for the board's littlefs "vfs" partition (formatting it when it does
# not mount, as MicroPython's inisetup does on a fresh board), mount a ROMFS found in the "romfs"
# partition at /rom, then run /boot.py and, on a normal boot, /main.py; the REPL follows (-i).
import sys
import os
import vfs
import gc

try:
    import time  # noqa: F401  (the shims, found first on sys.path: asyncio and the firmware get them)
    import select  # noqa: F401
    import _vbrpc
    import machine  # noqa: F401
    import esp32
except BaseException as e:  # a broken shim must not leave the host's filesystem in the board's reach
    vfs.umount("/")
    sys.print_exception(e)
    print("vboard: the board's shims do not load: no filesystem, no machine")
    esp32 = None

sys.path.pop(0)  # (the shim directory: its modules are loaded)


def _mount():
    if esp32 is None:
        return
    vfs.umount("/")
    part = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    if not part:
        print("vboard: no vfs partition in the partition table: no filesystem")
        return
    bdev = part[0]
    try:
        vfs.mount(vfs.VfsLfs2(bdev), "/")
    except OSError:
        vfs.VfsLfs2.mkfs(bdev)
        vfs.mount(vfs.VfsLfs2(bdev), "/")
    os.chdir("/")
    rom = esp32.Partition.find(esp32.Partition.TYPE_DATA, 0x8F)
    if rom and hasattr(vfs, "VfsRom"):
        head = bytearray(4)
        rom[0].readblocks(0, head)
        if head[:3] == b"\xd2\xcd\x31":  # a ROMFS header
            size = _romfs_size(rom[0])  # noqa: F821  (defined below, called after)
            img = bytearray(size)
            rom[0].readblocks(0, img)
            try:
                vfs.mount(vfs.VfsRom(img), "/rom")
                sys.path[:0] = ["/rom", "/rom/lib"]
            except OSError as e:
                print("vboard: romfs does not mount:", e)


def _romfs_size(part):
    """The ROMFS image's total size from its header (magic, then a varuint length)."""
    b = bytearray(16)
    part.readblocks(0, b)
    i, n = 3, 0
    # the header record: magic 0xd2 0xcd 0x31 then the payload length, a big-endian varuint
    while True:
        c = b[i]
        n = (n << 7) | (c & 0x7F)
        i += 1
        if not c & 0x80:
            break
    return i + n


def _run(path):
    try:
        os.stat(path)
    except OSError:
        return
    try:
        exec(open(path).read(), {"__name__": "__main__"})
    except KeyboardInterrupt:
        print("Traceback (most recent call last):\nKeyboardInterrupt: ")
    except SystemExit:
        raise
    except BaseException as e:
        sys.print_exception(e)


sys.path[:] = ["", ".frozen", "/lib"]
_mount()
gc.collect()
_vbrpc.call(0, "ready", ())  # (the supervisor holds a Ctrl-C back until the filesystems are mounted)
_run("boot.py")
if os.getenv("DOORKIT_VB_RAW") != "1":
    _run("main.py")
del _mount, _romfs_size, _run
