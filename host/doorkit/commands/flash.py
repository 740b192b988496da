"""`doorkit flash`: write a MicroPython firmware .bin and doorkit's partition table to an ESP32 board
through esptool's API (doorkit.flash does the work)."""
import sys

from doorkit.errors import EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "write a MicroPython firmware .bin and the partition plan's table to an ESP32 board (esptool)"

EPILOG = """examples:
  doorkit flash --port /dev/ttyUSB0 --firmware ESP32_GENERIC-v1.25.0.bin
      detect the chip and flash size, write bootloader (0x1000), doorkit's 4M partition table
      (0x8000) and the MicroPython app (0x10000), verify, reset
  doorkit flash --port /dev/ttyUSB0 --firmware fw.bin --plan 8M --erase
      erase the whole flash first; the 8M plan needs an 8 MB flash

The firmware is micropython.org's combined ESP32 .bin (for offset 0x1000); its own partition table
is replaced by the plan's (firmware/lockctl/plan.py). Then: doorkit deploy, or flash a factory image
made by doorkit image.

""" + EXIT_HELP


def register(p):
    p.epilog = EPILOG
    p.add_argument("--port", "-p", required=True, metavar="PORT", help="serial port of the board (/dev/ttyUSB0, COM3)")
    p.add_argument("--firmware", required=True, metavar="FILE", help="MicroPython ESP32 firmware .bin")
    p.add_argument("--plan", choices=("4M", "8M"), default="4M", help="partition plan / flash size (default 4M)")
    p.add_argument("--erase", action="store_true", help="erase the whole flash before writing")
    p.add_argument("--baud", type=int, default=460800, metavar="BAUD",
                   help="baud rate for the transfer (default 460800; the ROM starts at 115200)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the second read-back check (esptool still checks each write's MD5)")
    p.add_argument("--before", choices=("default-reset", "no-reset"), default="default-reset",
                   help="default-reset: DTR/RTS into the bootloader; no-reset: it is there already")
    p.add_argument("--after", choices=("hard-reset", "no-reset"), default="hard-reset",
                   help="hard-reset: restart into MicroPython (default); no-reset: stay in the bootloader")


def run(args):
    from doorkit.flash import flash_firmware
    if not 9600 <= args.baud <= 5000000:
        raise UserError(EXIT_USAGE, "--baud must be 9600..5000000, not %d" % args.baud)
    from doorkit.progress import Bar
    with Bar("doorkit flash", kind="bytes") as bar:
        info = flash_firmware(args.port, args.firmware, plan=args.plan, erase=args.erase, baud=args.baud,
                              verify=not args.no_verify, on_progress=lambda d, t, w: bar.update(d, t, w or "writing"),
                              before=args.before, after=args.after)
    parts = ", ".join("%s 0x%X" % (what, off) for off, _, what in info["regions"])
    sys.stdout.write("%s: %s, %d MB flash, plan %s: %s%s%s; %s\n"
                     % (args.port, info["chip"], info["flash_size"] >> 20, info["plan"], parts,
                        ", erased first" if info["erased"] else "", ", verified" if info["verified"] else "",
                        "reset (RTS)" if info["reset"] == "hard-reset" else "left in the bootloader"))
    return EXIT_OK
