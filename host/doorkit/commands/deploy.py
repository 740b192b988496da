"""`doorkit deploy`: copy the firmware compiled with mpy-cross to a board with stock mpremote's
transport, writing only what changed, verifying, then resetting (doorkit.deploy does the work)."""

from doorkit.errors import EXIT_HELP, EXIT_OK

HELP = "deploy the compiled firmware to a board (only what changed; verified; then reset)"

EPILOG = """examples:
  doorkit deploy --port /dev/ttyUSB0
  doorkit deploy --port socket://127.0.0.1:8266          a virtual board (doorkit vboard)
  doorkit deploy --port /dev/ttyUSB0 --force              write everything again
  doorkit deploy --port /dev/ttyUSB0 --door doors/front   and make a new board that door

The packages (lockctl, drivers, lockshell) go as one ROMFS image into the romfs partition, compared
4 KB block by block; /boot.py and /main.py go to the filesystem, compared by SHA-256. The door's
identity, settings, keys and event log are not touched. --door DIR gives a board that has no door
identity this door's (/door.json, and its settings as /lock.json when the board has none); a board
that is this door already is left as it is, one that is another door is refused (exit 7). Then push
the keys: doorkit keys push DIR --port PORT.

""" + EXIT_HELP


def register(p):
    p.epilog = EPILOG
    p.add_argument("--port", required=True, help="the board: /dev/ttyUSB0, COM3 or socket://127.0.0.1:8266")
    p.add_argument("--plan", choices=("4M", "8M"), default="4M", help="the board's partition plan (default 4M)")
    p.add_argument("--force", action="store_true", help="write every block and file, changed or not")
    p.add_argument("--no-reset", action="store_true", help="leave the board at the REPL afterwards")
    p.add_argument("--door", metavar="DIR", help="a door directory (doorkit provision): give a new board its identity")


def run(args):
    from doorkit.deploy import deploy
    from doorkit.progress import Bar
    door = None
    if args.door is not None:
        from doorkit.commands.image import door_from_dir
        door = door_from_dir(args.door)[0]  # (the key list goes with doorkit keys push)
    with Bar("doorkit deploy", kind="count", width=16) as bar:
        r = deploy(args.port, plan=args.plan, force=args.force, reset=not args.no_reset, door=door,
                   on_progress=lambda what, done, total: bar.update(done, total, "writing " + what))
    ident = {"written": "; door %s's identity written" % (door or {}).get("door_id"),
             "kept": "; it is door %s already" % (door or {}).get("door_id")}.get(r.get("identity"), "")
    print("deployed to %s: romfs %d of %d blocks written (%d bytes), files written: %s%s%s" % (
        args.port, r["blocks_written"], r["blocks"], r["romfs_bytes"], ", ".join(r["files_written"]) or "none",
        ident, "" if args.no_reset else "; board reset"))
    return EXIT_OK
