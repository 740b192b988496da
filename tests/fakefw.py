"""A stand-in for micropython.org's ESP32_GENERIC firmware .bin (none is available offline): minimal
but valid ESP32 images written here from the format (not with esptool's writer, so esptool's parser
checks an independent encoder):

  image   = header (magic 0xE9, segment count, flash mode, flash size/freq, entry point)
            + extended header (16 bytes: WP pin 0xEE, drive settings, chip id 0 = ESP32, revisions,
              hash-appended flag) + segments (load address, length, data; lengths multiple of 4)
            + zero padding to 16n-1 bytes + checksum (0xEF ^ every segment byte)
            + SHA-256 of everything before it (hash-appended flag 1)
  combined = bootloader at file offset 0 (flashed at 0x1000), a partition table at 0x7000 (0x8000),
             the app at 0xF000 (0x10000), gaps 0xFF.
"""
import hashlib
import struct

FLASH_4MB = 0x20  # high nibble of byte 3: 0 1MB, 1 2MB, 2 4MB, 3 8MB, 4 16MB; low nibble 0 = 40 MHz
DIO = 2


def esp32_image(segments, entry, flash_mode=DIO, flash_size_freq=FLASH_4MB, chip_id=0, digest=True):
    """segments: [(load address, data)]"""
    out = struct.pack("<BBBBI", 0xE9, len(segments), flash_mode, flash_size_freq, entry)
    out += struct.pack("<BBBBHBHH4sB", 0xEE, 0, 0, 0, chip_id, 0, 0, 399, b"\x00" * 4, 1 if digest else 0)
    checksum = 0xEF
    for addr, data in segments:
        data = bytes(data) + b"\x00" * (-len(data) % 4)
        out += struct.pack("<II", addr, len(data)) + data
        for b in data:
            checksum ^= b
    out += b"\x00" * (15 - len(out) % 16) + bytes([checksum])
    if digest:
        out += hashlib.sha256(out).digest()
    return out


def app_desc(project=b"micropython", version=b"v1.29.0-fake"):
    """esp_app_desc_t (256 bytes) as ESP-IDF puts it at the start of the app's first DROM segment."""
    return struct.pack("<II2I32s32s16s16s32s32sBBBB2I", 0xABCD5432, 0, 0, 0, version, project, b"00:00:00",
                       b"Jan  1 2026", b"v5.2.2", b"\x00" * 32, 0, 0, 0, 0, 0, 0).ljust(256, b"\x00")


def bootloader():
    return esp32_image([(0x3FFF0030, b"\x11" * 0x40), (0x40078000, b"\x22" * 0x400), (0x40080400, b"\x33" * 0x80)],
                       entry=0x40080400)


def app(size=0x3000):
    return esp32_image([(0x3F400020, app_desc() + b"\x44" * (size // 2)), (0x3FFB0000, b"\x55" * 0x100),
                        (0x40080000, b"\x66" * 0x200), (0x400D0020, b"\x77" * (size // 2))], entry=0x40081000)


def partition_table():
    """MicroPython's own 4 MB table (nvs, phy_init, factory, vfs), as a combined .bin carries it."""
    rows = [(1, 2, 0x9000, 0x6000, b"nvs"), (1, 1, 0xF000, 0x1000, b"phy_init"), (0, 0, 0x10000, 0x1F0000, b"factory"),
            (1, 0x81, 0x200000, 0x200000, b"vfs")]
    body = b"".join(struct.pack("<2sBBII16sI", b"\xAA\x50", t, s, o, n, lb, 0) for t, s, o, n, lb in rows)
    body += b"\xEB\xEB" + b"\xFF" * 14 + hashlib.md5(body).digest()
    return body + b"\xFF" * (0xC00 - len(body))


def combined(boot=None, application=None, table=None):
    """The combined .bin for offset 0x1000."""
    boot = bootloader() if boot is None else boot
    application = app() if application is None else application
    table = partition_table() if table is None else table
    out = bytearray(b"\xFF" * (0xF000 + len(application)))
    out[0:len(boot)] = boot
    out[0x7000:0x7000 + len(table)] = table
    out[0xF000:] = application
    return bytes(out)
