"""`doorkit vboard`: run a virtual board in the foreground (the MicroPython unix port running the
firmware from a flash image, its REPL on a TCP port for stock mpremote), or drive the physical world
of a running one over its control channel (doorkit.vboard_client; sim/vboard/supervisor.py)."""
import sys

from doorkit.errors import EXIT_BOARD, EXIT_DATA, EXIT_HELP, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UserError

HELP = "run a virtual board (stock mpremote talks to it) or drive its world: tap, door, button, keypad, ..."

EPILOG = """examples:
  doorkit vboard --listen 127.0.0.1:8266 --image flash.img     boot the firmware of a flash image
  doorkit vboard --listen 127.0.0.1:8266 --factory front.bin   a fresh board flashed with a factory image
  doorkit vboard --listen 127.0.0.1:8266                         a blank board: MicroPython, empty filesystem
  doorkit vboard --listen 127.0.0.1:9000 --image a.img --image b.img    two boards: serial 9000 and 9002
  doorkit vboard --listen 127.0.0.1:9000 --count 20               twenty blank boards (9000, 9002, ...)
  mpremote connect socket://127.0.0.1:8266 exec "print(1)"       (in another terminal)
  doorkit vboard tap mifare            a card on the reader for 1 s (mifare ntag uid10 suica phone unknown)
  doorkit vboard door open             door open|close;  button [--ms 150];  turn lock|unlock|DEG
  doorkit vboard keypad 1234#          type on the keypad
  doorkit vboard advance 2h            skip virtual time (ms, 30s, 10m, 2h): deadlines come at once
  doorkit vboard power-cut             pull the battery (RTC lost) and power up again;  reset: EN button
  doorkit vboard download              download mode: prints the pty for doorkit flash --port (reset boots)
  doorkit vboard status                bolt angle, door, motor, LED, virtual time, interpreter state

The board's flash is --image FILE, used in place (make one with doorkit image --format raw); without
it a fresh erased flash of --flash size with doorkit's partition table. The control channel listens
on --control (default: the --listen port + 1); the world commands take --control too. Several
boards (--image more than once, or --count N) listen on consecutive pairs of ports from --listen:
board k's serial line on PORT + 2k, its control channel on PORT + 2k + 1.

""" + EXIT_HELP

WORLD = ("tap", "door", "button", "turn", "keypad", "jam", "unjam", "power-cut", "reset", "download", "advance",
         "status")


def register(p):
    import argparse
    p.epilog = EPILOG
    p.add_argument("--listen", default="127.0.0.1:8266", metavar="HOST:PORT",
                   help="the board's serial line for mpremote (default 127.0.0.1:8266)")
    p.add_argument("--image", metavar="FILE", action="append",
                   help="flash image to run, used in place (doorkit image --format raw); once per board")
    p.add_argument("--count", type=int, metavar="N", help="run N boards (blank ones without --image)")
    p.add_argument("--factory", metavar="FILE", help="write this factory image (doorkit image) at 0x1000 first, "
                                                     "into --image or a fresh flash")
    p.add_argument("--flash", choices=("4M", "8M"), default="4M", help="flash size of a fresh board (default 4M)")
    p.add_argument("--control", metavar="HOST:PORT", help="control channel (default: the --listen port + 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the world's randomness (contact bounce, UIDs)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print boots")
    sub = p.add_subparsers(dest="world", metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    def cmd(name, help):
        s = sub.add_parser(name, help=help, formatter_class=fmt, epilog=EPILOG)
        s.add_argument("--control", dest="control_", metavar="HOST:PORT",
                       help="the running board's control channel (default 127.0.0.1:8267)")
        return s
    cmd("tap", "hold a card on the reader").add_argument("card", help="mifare ntag uid10 suica phone unknown")
    sub.choices["tap"].add_argument("--hold", type=int, default=1000, metavar="MS", help="how long (default 1000)")
    cmd("door", "open or close the door").add_argument("what", choices=("open", "close"))
    cmd("button", "press the inside button").add_argument("--ms", type=int, default=150, help="press length")
    cmd("turn", "turn the thumb-turn by hand").add_argument("where", help="lock, unlock or degrees")
    sub.choices["turn"].add_argument("--ms", type=int, default=600, help="how long the turn takes")
    cmd("keypad", "type keys on the keypad").add_argument("keys", help="e.g. 1234#")
    cmd("jam", "jam the bolt where it is")
    cmd("unjam", "free the bolt")
    cmd("power-cut", "cut the power (RTC lost) and restore it").add_argument("--off", type=int, default=0,
                                                                           metavar="MS", help="time without power")
    cmd("reset", "hard reset (the EN button)")
    cmd("download", "download mode (BOOT held, EN pressed): the ROM loader for doorkit flash on a pty")
    cmd("advance", "skip virtual time").add_argument("duration", help="ms, or 30s, 10m, 2h")
    cmd("status", "print the board's state")


def duration_ms(text):
    """'500' / '500ms' / '30s' / '10m' / '2h' -> ms; UserError(EXIT_USAGE) otherwise."""
    t = str(text).strip().lower()
    for suffix, k in (("ms", 1), ("s", 1000), ("m", 60000), ("h", 3600000), ("", 1)):
        if t.endswith(suffix) and t[:len(t) - len(suffix)].replace(".", "", 1).isdigit():
            v = float(t[:len(t) - len(suffix)]) * k
            if v >= 0:
                return int(v)
    raise UserError(EXIT_USAGE, "a duration is ms or 30s, 10m, 2h; not %r" % (text,))


def _control_addr(args):
    if getattr(args, "control_", None):
        return args.control_
    if args.control:
        return args.control
    host, _, port = args.listen.rpartition(":")
    try:
        return "%s:%d" % (host or "127.0.0.1", int(port) + 1)
    except ValueError:
        raise UserError(EXIT_USAGE, "--listen is HOST:PORT, not %r" % args.listen)


def run_world(args):
    from doorkit.vboard_client import Control, ControlError
    w = args.world
    try:
        with Control(_control_addr(args)) as c:
            if w == "tap":
                r = c.tap(args.card, args.hold)
            elif w == "door":
                r = c.door(args.what)
            elif w == "button":
                r = c.button(args.ms)
            elif w == "turn":
                r = c.turn(args.where, args.ms)
            elif w == "keypad":
                r = c.keypad(args.keys)
            elif w == "jam":
                r = c.jam()
            elif w == "unjam":
                r = c.unjam()
            elif w == "power-cut":
                r = c.power_cut(args.off)
            elif w == "reset":
                r = c.reset()
            elif w == "download":
                r = c.download()
            elif w == "advance":
                r = c.advance(duration_ms(args.duration))
            else:
                r = c.status()
    except ControlError as e:
        raise UserError({"board": EXIT_BOARD, "usage": EXIT_USAGE}.get(e.kind, EXIT_REFUSED), str(e))
    for k, v in r.items():
        print("%s: %s" % (k, v))
    return EXIT_OK


def run(args):
    if args.world:
        return run_world(args)
    import time
    from doorkit.sim.vboard.supervisor import BoardError, VirtualBoard, parse_addr
    try:
        listen = parse_addr(args.listen)
        control = parse_addr(args.control) if args.control else None
    except ValueError as e:
        raise UserError(EXIT_USAGE, str(e))
    images = args.image or [None]
    n = args.count if args.count is not None else len(images)
    if not 1 <= n <= 200:
        raise UserError(EXIT_USAGE, "--count is 1..200")
    if args.image and n != len(images):
        raise UserError(EXIT_USAGE, "--count %d with %d --image: give one image per board, or no --image" % (
            n, len(images)))
    if n > 1 and (control is not None or args.factory is not None):
        raise UserError(EXIT_USAGE, "--control and --factory are for one board (several take PORT+2k, PORT+2k+1)")
    if n > 1 and listen[1] == 0:
        raise UserError(EXIT_USAGE, "several boards need a --listen port (they take consecutive pairs from it)")
    boards = []
    for k in range(n):
        img = images[k] if args.image else None
        where = listen if n == 1 else (listen[0], listen[1] + 2 * k)
        tag = "" if n == 1 else "[%d] " % k
        log = (lambda m: None) if args.quiet else (lambda m, t=tag: print("vboard: " + t + m, file=sys.stderr,
                                                                             flush=True))
        try:
            vb = VirtualBoard(img, args.flash, where, control if n == 1 else None, seed=args.seed + k, log=log,
                              factory=args.factory).start()
        except BoardError as e:
            for b in boards:
                b.stop()
            msg = str(e)
            raise UserError(EXIT_DATA if msg.startswith("image") else EXIT_BOARD, "%s%s" % (tag, msg))
        boards.append(vb)
        print("vboard: %sserial socket://%s:%d  control %s:%d  flash %s (%s)" % ((tag,) + vb.listen_addr + vb.control_addr + (
            vb.image if img else "in a temporary file", vb.plan)), flush=True)
    vb = boards[0]
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        for b in boards:
            b.stop()
