"""Flash a MicroPython firmware and doorkit's partition table onto an ESP32 board with esptool's
public API (esptool.cmds), not its command line:

    from doorkit.flash import flash_firmware
    info = flash_firmware("/dev/ttyUSB0", "ESP32_GENERIC-v1.25.0.bin", plan="4M")
    info["chip"], info["flash_size"], info["regions"]

What it does, in order:
  1. reads the firmware file and tells its chip from the image header (esptool's chip classes
     know each chip's image id); an ESP32 .bin is split and checked by doorkit.image.split_firmware
     (micropython.org's combined image for 0x1000: bootloader, partition table, app; both images
     checked with esptool's parser, the app must fit the plan's factory partition);
  2. connects (esptool.cmds.detect_chip), refuses a board of another chip than the firmware's,
     starts esptool's flasher stub, raises the baud rate, attaches the SPI flash and reads its size
     from its JEDEC id (detect_flash_size), refusing a flash smaller than the plan;
  3. writes the bootloader at the chip's bootloader offset (esptool's BOOTLOADER_FLASH_OFFSET:
     0x1000 on the ESP32), the plan's partition table (doorkit.image.partition_table) at 0x8000 in
     place of MicroPython's own, and the app at the plan's factory partition (0x10000); with
     erase=True the whole flash is erased first; the bootloader header gets the plan's flash size;
  4. verifies (esptool checks each region's MD5 after writing it; verify=True compares them all
     again with verify_flash) and resets the board (after="hard-reset": pulsing RTS; a port without modem
     lines, such as a pty, cannot, and esptool goes on without it).

Every failure is a doorkit.errors.UserError with a one-line message: EXIT_BOARD (4) for a missing,
busy or silent port; EXIT_REFUSED (5) for a board of the wrong chip or with too small a flash;
EXIT_DATA (6) for a missing or invalid firmware file; EXIT_MISMATCH (1) when the flash does not
read back what was written. esptool is imported when flash_firmware() runs.
"""
from __future__ import annotations

import contextlib
import io
import re
import struct
from typing import Callable, Optional

from doorkit import image as I
from doorkit.errors import EXIT_BOARD, EXIT_DATA, EXIT_MISMATCH, EXIT_REFUSED, EXIT_USAGE, UserError
from lockctl import plan as P

ROM_BAUD = 115200  # what the ROM loader talks first; flash_firmware raises it to `baud` afterwards
BEFORE = ("default-reset", "no-reset")  # how to get the chip into its bootloader (esptool's modes)
AFTER = ("hard-reset", "no-reset")  # what to do when done

# on_progress(done, total, what): bytes of the region being written (or checked) so far
Progress = Optional[Callable[[int, int, str], None]]


def firmware_chip(data: bytes) -> Optional[str]:
    """The chip an ESP image is for, as esptool names it ("ESP32", "ESP32-S3", ...), from the chip
    id in its extended header; None when data does not start with an ESP image header."""
    if len(data) < 24 or data[0] != 0xE9:
        return None
    chip_id = struct.unpack_from("<H", data, 12)[0]
    from esptool.targets import ROM_LIST
    for cls in ROM_LIST:
        if cls.CHIP_NAME != "ESP8266" and cls.IMAGE_CHIP_ID == chip_id:
            return cls.CHIP_NAME
    return "an unknown chip (image chip id %d)" % chip_id


def _read_firmware(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise UserError(EXIT_DATA, "firmware file %s: no such file" % path)
    except IsADirectoryError:
        raise UserError(EXIT_DATA, "firmware file %s: is a directory" % path)
    except OSError as e:
        raise UserError(EXIT_DATA, "firmware file %s: %s" % (path, e.strerror or e))


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _port_error(port: str, e: BaseException) -> UserError:
    """A UserError(EXIT_BOARD) for a failure to open or talk to the port."""
    text = str(e)
    if "Errno 2" in text or "No such file" in text:
        return UserError(EXIT_BOARD, "no board at %s: no such port" % port)
    if "Connection refused" in text or re.search(r"Errno 111\b", text):
        return UserError(EXIT_BOARD, "no board at %s: nothing listens there (connection refused)" % port)
    if "exclusively lock" in text or re.search(r"Errno (11|16)\b", text):
        return UserError(EXIT_BOARD, "port %s is busy: another program has it open (a serial monitor, "
                                     "mpremote?); close it and try again" % port)
    if "Permission denied" in text or "Errno 13" in text:
        return UserError(EXIT_BOARD, "no permission to open %s (on Linux: join the dialout group)" % port)
    if "Failed to connect" in text or "No serial data received" in text:
        return UserError(EXIT_BOARD, "no board answers on %s: is it an ESP32 in its bootloader (hold BOOT, press "
                                     "RESET)?" % port)
    return UserError(EXIT_BOARD, "board on %s: %s" % (port, _first_line(e)))


def _logger(on_progress: Progress):
    """An esptool logger that keeps esptool's chatter off the terminal and passes its progress
    bars to on_progress."""
    from esp_pylib.logger import EspLogBase

    class Quiet(EspLogBase):
        def __init__(self):
            self.lines = []

        def print(self, *args, **kwargs):
            self.lines.append(" ".join(str(a) for a in args))

        def err(self, *args, suggestion=None):
            self.print(*args)

        def warn(self, *args, suggestion=None):
            self.print(*args)

        def note(self, *args):
            self.print(*args)

        def hint(self, *args):
            self.print(*args)

        def debug(self, *args):
            pass

        def set_verbosity(self, mode):
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
            if on_progress is not None:
                on_progress(cur_iter, total_iters, prefix.strip())

    return Quiet()


@contextlib.contextmanager
def _esptool_log(on_progress: Progress):
    from esptool.logger import log
    from esp_pylib.logger import EspLog
    before = EspLog.instance
    quiet = _logger(on_progress)
    log.set_logger(quiet)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield quiet
    finally:
        EspLog.instance = before


def flash_firmware(port: str, firmware_path: str, plan: str = "4M", erase: bool = False, baud: int = 460800,
                   verify: bool = True, on_progress: Progress = None, before: str = "default-reset",
                   after: str = "hard-reset") -> dict:
    """Write the MicroPython firmware at firmware_path and the partition table of `plan` ("4M" or
    "8M") to the ESP32 on `port` (see the module doc). Returns {"chip", "flash_size" (bytes),
    "plan", "regions": [(offset, length, name)], "erased", "verified", "reset"}."""
    if plan not in P.PLANS:
        raise UserError(EXIT_USAGE, "unknown partition plan %r (one of %s)" % (plan, ", ".join(sorted(P.PLANS))))
    if before not in BEFORE or after not in AFTER:
        raise UserError(EXIT_USAGE, "before must be one of %s, after one of %s" % (BEFORE, AFTER))
    name = "firmware file %s" % firmware_path
    data = _read_firmware(firmware_path)
    fw_chip = firmware_chip(data)
    if fw_chip is None:
        raise UserError(EXIT_DATA, "%s: not an ESP32 firmware image (no image header at its start)" % name)
    fw = I.split_firmware(data, name, plan) if fw_chip == "ESP32" else None

    from esptool.cmds import (attach_flash, detect_chip, detect_flash_size, reset_chip, run_stub,
                              verify_flash, write_flash)
    from esptool.util import FatalError, flash_size_bytes
    from serial import SerialException

    with _esptool_log(on_progress):
        try:
            esp = detect_chip(port, ROM_BAUD, connect_mode=before, connect_attempts=3 if before != "no-reset" else 1)
        except (FatalError, SerialException, OSError) as e:
            raise _port_error(port, e)
        with esp:
            chip = esp.CHIP_NAME
            if fw_chip != chip:
                raise UserError(EXIT_REFUSED, "%s is for %s, the board on %s is an %s" % (name, fw_chip, port, chip))
            if fw is None:  # (an image for the chip it is on, but not an ESP32 one)
                raise UserError(EXIT_REFUSED, "the board on %s is an %s: doorkit's firmware and partition plans "
                                              "are for the ESP32" % (port, chip))
            try:
                esp = run_stub(esp)
                if baud != ROM_BAUD:
                    esp.change_baud(baud)
                attach_flash(esp)
                size_name = detect_flash_size(esp)
            except (FatalError, SerialException, OSError) as e:
                raise _port_error(port, e)
            size = flash_size_bytes(size_name) if size_name else None
            if size is None:
                raise UserError(EXIT_BOARD, "board on %s: cannot tell its flash size (unknown flash chip)" % port)
            need = P.FLASH_SIZES[plan]
            if size < need:
                raise UserError(EXIT_REFUSED, "the board on %s has %s of flash, plan %s needs %s"
                                % (port, size_name, plan, I.FLASH_SIZE_NAMES[need]))
            factory = P.partition(plan, "factory")[3]
            regions = [(esp.BOOTLOADER_FLASH_OFFSET, fw.bootloader, "bootloader"),
                       (I.PTABLE_OFFSET, I.partition_table(plan), "partition table"),
                       (factory, fw.app, "app")]
            parts = [(off, blob) for off, blob, _ in regions]
            header_size = I.FLASH_SIZE_NAMES[need]  # the bootloader reads the flash size from here
            try:
                write_flash(esp, parts, flash_size=header_size, erase_all=erase, compress=True)
            except FatalError as e:
                if "MD5" in str(e) or "empty" in str(e):
                    raise UserError(EXIT_MISMATCH, "board on %s: the flash does not read back what was written (%s)"
                                    % (port, _first_line(e)))
                raise _port_error(port, e)
            except (SerialException, OSError) as e:
                raise _port_error(port, e)
            verified = False
            if verify:
                try:
                    verify_flash(esp, parts, flash_size=header_size)
                except FatalError as e:
                    if "verif" in str(e).lower():
                        raise UserError(EXIT_MISMATCH, "board on %s: verify failed: the flash differs from what was "
                                                       "written" % port)
                    raise _port_error(port, e)
                except (SerialException, OSError) as e:
                    raise _port_error(port, e)
                verified = True
            try:
                reset_chip(esp, after)
            except (FatalError, SerialException, OSError) as e:
                raise UserError(EXIT_BOARD, "written%s, but the board on %s did not reset (%s): press its RESET "
                                            "button" % (" and verified" if verified else "", port, _first_line(e)))
    return {"chip": chip, "flash_size": size, "plan": plan,
            "regions": [(off, len(blob), what) for off, blob, what in regions],
            "erased": bool(erase), "verified": verified, "reset": after}
