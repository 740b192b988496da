"""`doorkit image`: build a door's factory image (one write on the production line) or a raw flash
dump (the virtual board's --image), from the MicroPython firmware .bin, the compiled doorkit
firmware and the door's identity, settings and key bundle (doorkit.image does the work)."""
import os
import sys

from doorkit.errors import EXIT_DATA, EXIT_HELP, EXIT_OK, EXIT_USAGE, UserError

HELP = "build a factory image or a raw flash dump of a door (firmware, filesystem, keys)"

EPILOG = """examples:
  doorkit image --plan 4M --firmware ESP32_GENERIC-v1.25.0.bin --door doors/front --out front.bin
      factory image for the production line: esptool write-flash 0x1000 front.bin
  doorkit image --plan 4M --format raw --door-id front --secret-file front.secret --out flash.img
      the whole 4 MB flash (no MicroPython app): doorkit vboard --image flash.img

parts: bootloader 0x1000, partition table 0x8000, app 0x10000, romfs (the firmware compiled with
mpy-cross, run in place from /rom), vfs (littlefs: /boot.py /main.py /door.json /lock.json), log
(erased), keys (the door's bundle installed, or erased); the plans are firmware/lockctl/plan.py.

""" + EXIT_HELP


def register(p):
    p.epilog = EPILOG
    p.add_argument("--plan", choices=("4M", "8M"), default="4M", help="partition plan / flash size (default 4M)")
    p.add_argument("--firmware", metavar="FILE", help="MicroPython ESP32 firmware .bin (micropython.org's "
                                                      "combined image for 0x1000); needed for --format factory")
    p.add_argument("--door", metavar="DIR", help="door directory made by `doorkit provision`")
    p.add_argument("--door-id", metavar="ID", help="door id (instead of --door)")
    p.add_argument("--secret-file", metavar="FILE", help="with --door-id: file holding the door secret (64 hex digits)")
    p.add_argument("--config", metavar="FILE", help="with --door-id: door settings (JSON object, lockctl/config.py names)")
    p.add_argument("--bundle", metavar="FILE", help="with --door-id: key bundle to install in the keys partition")
    p.add_argument("--format", choices=("factory", "raw"), default="factory",
                   help="factory: merged image from 0x1000 (default); raw: the whole flash from 0")
    p.add_argument("--out", metavar="FILE", help="output file (default doorkit-PLAN-FORMAT.bin)")


def _read(path, what, text=False):
    try:
        with open(path, "r" if text else "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise UserError(EXIT_DATA, "%s %s: no such file" % (what, path))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(EXIT_DATA, "%s %s: %s" % (what, path, getattr(e, "strerror", None) or e))


def door_from_dir(path):
    """(door dict, bundle bytes or None, commit) from a door directory, read by doorkit.provision;
    commit() records the bundle as the door's installed list (once the image is written)."""
    if not os.path.isdir(path):
        raise UserError(EXIT_DATA, "door directory %s: no such directory" % path)
    try:
        from doorkit.provision import door_for_image
    except ImportError:
        raise UserError(EXIT_USAGE, "--door DIR needs doorkit provision, which this build lacks: give --door-id "
                                    "and --secret-file instead")
    d = door_for_image(path)  # {"door_id", "secret", "config", "bundle"}; UserError for a bad directory
    return ({"door_id": d["door_id"], "secret": d["secret"], "config": d.get("config") or {}, "net": d.get("net")},
            d.get("bundle"), d["commit"])


def door_from_args(args):
    """(door dict, bundle) from --door-id/--secret-file/--config/--bundle, or (None, None)."""
    if args.door_id is None:
        for flag, v in (("--secret-file", args.secret_file), ("--config", args.config), ("--bundle", args.bundle)):
            if v is not None:
                raise UserError(EXIT_USAGE, "%s goes with --door-id (or give --door DIR)" % flag)
        return None, None
    if args.secret_file is None:
        raise UserError(EXIT_USAGE, "--door-id needs --secret-file")
    secret = _read(args.secret_file, "secret file", text=True).strip()
    if len(secret) != 64:
        raise UserError(EXIT_DATA, "secret file %s: expected 64 hex digits" % args.secret_file)
    config = {}
    if args.config is not None:
        import json
        try:
            config = json.loads(_read(args.config, "config file", text=True))
        except ValueError as e:
            raise UserError(EXIT_DATA, "config file %s: not JSON (%s)" % (args.config, e))
        if not isinstance(config, dict):
            raise UserError(EXIT_DATA, "config file %s: not a JSON object" % args.config)
    bundle = _read(args.bundle, "bundle file") if args.bundle is not None else None
    return {"door_id": args.door_id, "secret": secret, "config": config}, bundle


def run(args):
    from doorkit import image as I
    if args.door is not None and args.door_id is not None:
        raise UserError(EXIT_USAGE, "give --door DIR or --door-id, not both")
    if args.format == "factory" and args.firmware is None:
        raise UserError(EXIT_USAGE, "--format factory needs --firmware FILE (or use --format raw)")
    if args.door is not None:
        door, bundle, commit = door_from_dir(args.door)
    else:
        (door, bundle), commit = door_from_args(args), None
    fw = I.load_firmware(args.firmware, args.plan) if args.firmware is not None else None
    out = args.out or "doorkit-%s-%s.bin" % (args.plan, args.format)
    from doorkit.progress import Bar
    steps = ("firmware", "romfs", "vfs", "keys", "merge")
    with Bar("doorkit image", total=len(steps), width=10) as bar:
        def step(name):
            bar.update(steps.index(name) if name in steps else 0, None, name)
        if args.format == "factory":
            img = I.build_factory(None, args.plan, fw, door, bundle, on_step=step)
        else:
            img = I.build_flash(args.plan, fw, door, bundle, on_step=step)
    I.write_image(out, img)
    if commit is not None:
        commit()
    where = "write it at 0x%X" % I.BOOTLOADER_OFFSET if args.format == "factory" else "the whole flash from 0"
    sys.stdout.write("%s: %s image, plan %s, %d bytes (%s)%s\n"
                     % (out, args.format, args.plan, len(img), where,
                        "" if door is None else ", door %s" % door["door_id"]))
    return EXIT_OK

