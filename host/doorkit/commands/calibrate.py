"""`doorkit calibrate`: find the thumb-turn's locked and unlocked positions on the board, by the
firmware's own calibration (lockshell.service.calibrate over doorkit.link), and keep them in the
board's /lock.json. Automatic: the motor sweeps to both end stops. Manual: the installer turns the
knob to each end and confirms."""
import sys
import time

from doorkit.errors import EXIT_HELP, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UserError

HELP = "calibrate the thumb-turn's two ends (automatic sweep, or manual by hand)"

EPILOG = """examples:
  doorkit calibrate --port /dev/ttyUSB0                 the motor finds both end stops
  doorkit calibrate --port /dev/ttyUSB0 --manual        turn the knob to each end, press Enter
  doorkit calibrate --port socket://127.0.0.1:8266 --manual --locked --unlock-after 20

Automatic calibration needs the door closed: its last sweep throws the bolt. Manual calibration
drives nothing: turn the thumb-turn to LOCKED, press Enter, turn it to UNLOCKED, press Enter.
Without a terminal, --locked says the knob is at LOCKED already and --unlock-after S marks the
unlocked end S seconds after the locked one (turn it meanwhile). The board keeps the result in
/lock.json; the lock runs again afterwards.

""" + EXIT_HELP

REASONS = {  # the core's reasons (lockctl.record REASON_NAMES) as the installer reads them
    "door-open": "the door is open (close it: the sweep throws the bolt)",
    "door-sensor": "the door sensor cannot be read",
    "no-end-stop": "the motor found no end stop (no stall within cal_ms): is it coupled to the knob?",
    "span": "the two ends are too close together (below min_span)",
    "no-position": "the position sensor gives no reading",
    "busy": "the lock is moving",
    "timeout": "it did not finish in time",
    "cancelled": "cancelled",
    "not-calibrating": "no manual calibration is under way",
}


def register(p):
    p.epilog = EPILOG
    p.add_argument("--port", required=True, help="the board: /dev/ttyUSB0, COM3 or socket://127.0.0.1:8266")
    p.add_argument("--manual", action="store_true", help="mark the ends by hand instead of the motor's sweep")
    p.add_argument("--locked", action="store_true",
                   help="(--manual) the thumb-turn is at LOCKED now: mark it without asking")
    p.add_argument("--unlock-after", type=float, metavar="S",
                   help="(--manual) mark UNLOCKED S seconds after LOCKED instead of asking")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="bound on an automatic calibration (60 s)")


def _ask(text):
    """Prompt and wait for Enter (a terminal or a pipe); UserError when stdin has nothing."""
    sys.stderr.write(text + " ")
    sys.stderr.flush()
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise UserError(EXIT_USAGE, "manual calibration waits for Enter at each end, but stdin is closed: "
                                    "run it on a terminal, or give --locked and --unlock-after S")
    return line


def _failed(r):
    reason = r.get("reason", "?")
    return UserError(EXIT_REFUSED, "calibration failed: %s; the old calibration stays"
                     % REASONS.get(reason, reason))


def _check(r):
    if not isinstance(r, dict) or "ok" not in r:
        raise UserError(EXIT_REFUSED, "the board answered %.60r, not a calibration result" % (r,))
    if not r["ok"]:
        raise _failed(r)
    return r


def run(args):
    if args.manual:
        if args.unlock_after is not None and not 0 <= args.unlock_after <= 3600:
            raise UserError(EXIT_USAGE, "--unlock-after is 0..3600 seconds")
    elif args.locked or args.unlock_after is not None:
        raise UserError(EXIT_USAGE, "--locked and --unlock-after are for --manual")
    if not 0 < args.timeout <= 600:
        raise UserError(EXIT_USAGE, "--timeout is 0..600 seconds")
    from doorkit.link import open_link
    with open_link(args.port) as ln:
        if args.manual:
            r = _manual(ln, args)
        else:
            r = _auto(ln, args)
    sys.stdout.write("calibrated: locked at %d, unlocked at %d (saved on the board in /lock.json)\n"
                     % (r["lock"], r["unlock"]))
    return EXIT_OK


def _auto(ln, args):
    spin = None
    if sys.stderr.isatty():
        from rich.console import Console
        spin = Console(stderr=True).status("calibrating: the motor sweeps to both end stops ...")
        spin.start()
    try:
        r = ln.call("calibrate", "auto", int(args.timeout * 1000), timeout=args.timeout + 15)
    finally:
        if spin is not None:
            spin.stop()
    return _check(r)


def _manual(ln, args):
    if not args.locked:
        _ask("turn the thumb-turn to LOCKED and press Enter")
    r = _check(ln.call("calibrate", "manual-lock"))
    sys.stdout.write("locked end marked at %d\n" % r["lock"])
    sys.stdout.flush()
    try:
        if args.unlock_after is None:
            _ask("turn the thumb-turn to UNLOCKED and press Enter")
        else:
            sys.stderr.write("turn the thumb-turn to UNLOCKED: marking it in %g s\n" % args.unlock_after)
            time.sleep(args.unlock_after)
    except BaseException:
        try:
            ln.call("calibrate", "cancel")  # nothing half done stays waiting on the board
        except UserError:
            pass
        raise
    return _check(ln.call("calibrate", "manual-unlock"))
