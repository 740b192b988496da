"""The `doorkit` command.

    doorkit sim --script FILE   run a scenario (docs/scenarios.md), print its log, check `expect`
    doorkit sim                 an interactive door in the terminal (curses)
    doorkit vboard|flash|image|deploy|provision|keys|enroll|calibrate|clock|logs
                                the host toolkit (doorkit.commands; each has --help)

Exit status (doorkit.errors): 0 success; 1 a check failed (the log differs from the scenario's
expect block, a verify after a write); 2 bad usage (a bad argument, or arguments that do not go
together), a bad scenario file, an action the lock refused, or no terminal for the interactive
door; 3 an internal error (a bug: please report it); 4 no board; 5 refused by the board; 6 a bad
input file; 7 a conflict; 130 interrupted (Ctrl-C); 141 the reader of the output went away.
"""
import argparse
import math
import os
import re
import sys
import time

import doorkit
from doorkit import commands
from doorkit.errors import (EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED,  # noqa: F401
                            EXIT_PIPE, UserError)

STEP_MAX_MS = 100  # --step: the board's App polls every 10 ms; past this the cross-check means nothing
SPEED_MIN, SPEED_MAX = 1 / 16.0, 64.0  # --speed: what + and - in the interactive door reach
SEED_MIN, SEED_MAX = -(2 ** 63), 2 ** 63 - 1

_INT_RE = re.compile(r"-?[0-9]{1,20}\Z")
_NUM_RE = re.compile(r"[0-9]{1,10}(\.[0-9]{1,10})?\Z")


class _Parser(argparse.ArgumentParser):
    def add_subparsers(self, **kw):
        """(kept in .subcommands, so every sub-action's --help can be given its command's epilog)"""
        action = super().add_subparsers(**kw)
        self.__dict__.setdefault("subcommands", []).append(action)
        return action

    def error(self, message):
        """Bad arguments: one line on stderr, exit 2 (argparse prints the whole usage)."""
        self.exit(EXIT_USAGE, "%s: %s (see %s --help)\n" % (self.prog, message, self.prog))


class _Once(argparse.Action):
    """An option that takes a value and may be given once."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given", set())
        if self.dest in seen:
            parser.error("%s is given twice" % option_string)
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


class _OnceFlag(argparse.Action):
    """A flag that may be given once."""

    def __init__(self, option_strings, dest, default=False, **kw):
        super().__init__(option_strings, dest, nargs=0, default=default, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given", set())
        if self.dest in seen:
            parser.error("%s is given twice" % option_string)
        seen.add(self.dest)
        setattr(namespace, self.dest, True)


def _printable(text):
    """text on one line: control characters (a newline in a file name, an escape sequence) shown
    as escapes, not sent to the terminal."""
    return "".join(c if " " <= c != "\x7f" else repr(c)[1:-1] for c in text)


def _seed(text):
    if not _INT_RE.match(text) or not SEED_MIN <= int(text) <= SEED_MAX:
        raise argparse.ArgumentTypeError("must be an integer (-2^63..2^63-1), not %r" % text[:40])
    return int(text)


def _step(text):
    if not _INT_RE.match(text) or not 1 <= int(text) <= STEP_MAX_MS:
        raise argparse.ArgumentTypeError("must be a whole number of ms in 1..%d, not %r" % (STEP_MAX_MS, text[:40]))
    return int(text)


def _speed(text):
    ok = _NUM_RE.match(text) is not None
    v = float(text) if ok else math.nan
    if not (ok and SPEED_MIN <= v <= SPEED_MAX):
        raise argparse.ArgumentTypeError("must be a number in %g..%g (virtual seconds per real second), not %r"
                                         % (SPEED_MIN, SPEED_MAX, text[:40]))
    return v


SIM_EPILOG = """examples:
  doorkit sim --script sim/scenarios/demo.scn          play a scenario, check its expect block
  doorkit sim --script my.scn --log-only --step 1      just the log, polled every ms (cross-check)
  doorkit sim --speed 4                                the interactive door, 4 virtual s per real s

exit status:
  0 ok (the log matched, or there is no expect block)    1 the log differs from expect
  2 bad usage, a bad scenario file, an action the lock refused, no terminal
  3 an internal error (one line; please report it)       130 interrupted (Ctrl-C)
  141 the output pipe was closed

scenario format and more: docs/scenarios.md"""


def _parser():
    p = _Parser(prog="doorkit", description="Host tools for the doorkit smart lock.", allow_abbrev=False)
    p.add_argument("--version", action="version", version="doorkit " + doorkit.__version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("sim", help="simulated door: run a scenario file, or play with it interactively",
                       description="Run the lock firmware against a simulated door. With --script, play a "
                                   "scenario file and check its expected log; without, open an interactive "
                                   "door in the terminal.", allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=SIM_EPILOG)
    s.add_argument("--script", metavar="FILE", action=_Once, help="scenario file to run non-interactively")
    s.add_argument("--log-only", action=_OnceFlag, help="with --script: print only the log lines, no '#' narration")
    s.add_argument("-v", "--verbose", action=_OnceFlag, help="with --script: also echo each scripted action")
    s.add_argument("--seed", type=_seed, action=_Once, default=None,
                   help="override the scenario's (or the interactive door's) seed")
    s.add_argument("--step", metavar="MS", type=_step, action=_Once, default=None,
                   help="with --script: poll every MS ms (1..%d) while anything moves instead of exact "
                        "fast-forwarding (cross-check)" % STEP_MAX_MS)
    s.add_argument("--speed", type=_speed, action=_Once, default=None,
                   help="interactive door: virtual seconds per real second (%g..%g, default 1)"
                        % (SPEED_MIN, SPEED_MAX))
    for name in commands.COMMANDS:
        mod = commands.load(name)
        if mod is None:
            continue
        c = sub.add_parser(name, help=mod.HELP, allow_abbrev=False,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        c.set_defaults(command_run=mod.run)
        mod.register(c)
        _leaf_help(c, c.epilog)
    return p


def _leaf_help(parser, epilog):
    """Every sub-action's --help shows its command's examples and exit codes too (a sub-action
    with its own epilog keeps it)."""
    for action in getattr(parser, "subcommands", ()):
        for sp in set(action.choices.values()):
            if not sp.epilog:
                sp.epilog = epilog
            sp.formatter_class = argparse.RawDescriptionHelpFormatter
            _leaf_help(sp, epilog)


def main(argv=None):
    try:
        p = _parser()
        args = p.parse_args(argv)
        if args.command == "sim":
            return cmd_sim(args)
        if getattr(args, "command_run", None) is not None:
            try:
                return args.command_run(args)
            except UserError as e:
                sys.stderr.write("doorkit %s: %s\n" % (args.command, _printable(str(e))))
                return e.code
        sys.stderr.write("doorkit: give a command (%s); doorkit --help says more\n"
                         % ", ".join(["sim"] + [n for n in commands.COMMANDS if commands.load(n)]))
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("doorkit: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: say so in one line; DOORKIT_TRACEBACK=1 shows where
        if os.environ.get("DOORKIT_TRACEBACK"):
            raise
        sys.stderr.write("doorkit: internal error (%s: %s); please report it (DOORKIT_TRACEBACK=1 shows where)\n"
                         % (type(e).__name__, str(e).splitlines()[0][:200] if str(e) else ""))
        return EXIT_INTERNAL


def _usage(msg):
    sys.stderr.write("doorkit sim: %s (see doorkit sim --help)\n" % msg)
    return EXIT_USAGE


def cmd_sim(args):
    if args.script is not None:
        if not args.script:
            return _usage("--script needs a file name")
        if args.speed is not None:
            return _usage("--speed is for the interactive door; a script runs as fast as it can")
        if args.log_only and args.verbose:
            return _usage("--log-only leaves out the '#' lines that -v adds; give one of them")
        return run_script(args.script, log_only=args.log_only, verbose=args.verbose, seed=args.seed,
                          step=args.step)
    for flag, given in (("--step", args.step is not None), ("--log-only", args.log_only), ("-v", args.verbose)):
        if given:
            return _usage("%s goes with --script FILE; the interactive door has no use for it" % flag)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        which = "stdin" if not sys.stdin.isatty() else "stdout"
        sys.stderr.write("doorkit sim: the interactive door needs a terminal, but %s is not a TTY.\n"
                         "Run a scenario instead: doorkit sim --script FILE (see docs/scenarios.md)\n" % which)
        return EXIT_USAGE
    from doorkit import simui
    return simui.run(seed=args.seed or 0, speed=1.0 if args.speed is None else args.speed)


def fmt_vtime(ms):
    """Virtual time for the progress line: '12.3 s', '5.50 h', '3.25 d'."""
    if ms < 3600000:
        return "%.1f s" % (ms / 1000.0)
    if ms < 2 * 86400000:
        return "%.2f h" % (ms / 3600000.0)
    return "%.2f d" % (ms / 86400000.0)


class Progress:
    """One line on a terminal, rewritten in place ('\\r'): how far a scenario has run. clear() takes
    it away before anything else is printed."""

    def __init__(self, stream, clock=time.monotonic, every=0.2):
        self.stream = stream
        self.clock = clock
        self.every = every
        self.shown = 0  # width of the line on the terminal now
        self.last = None

    def update(self, now, until, res):
        t = self.clock()
        if self.last is not None and t - self.last < self.every:
            return
        self.last = t
        text = "doorkit sim: %s of %s virtual (%d%%), %d log lines" % (
            fmt_vtime(now), fmt_vtime(until), 100 * now // until if until else 100, len(res.log))
        self.stream.write("\r" + text + " " * max(0, self.shown - len(text)))
        self.stream.flush()
        self.shown = len(text)

    def clear(self):
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def run_script(path, log_only=False, verbose=False, seed=None, step=None, out=None, err=None, progress=None):
    """Run a scenario file, printing its log as it happens; returns the exit status. progress: show
    a progress line on err (default: when err is a terminal)."""
    from doorkit.sim import scenario
    out = out or sys.stdout
    err = err or sys.stderr
    bar = Progress(err) if (progress if progress is not None else _isatty(err)) else None

    def emit(line, is_log):
        if log_only and not is_log:
            return
        if bar is not None:
            bar.clear()
        out.write(line + "\n")
        out.flush()

    def say(text):
        if bar is not None:
            bar.clear()
        err.write(text + "\n")
        err.flush()

    res = None
    try:
        scn = scenario.load(path)
        res = scenario.start(scn, verbose=verbose, mode="fixed" if step else "exact", fine_ms=step or 5,
                             seed=seed, on_output=emit)
        scenario.finish(res, progress=bar.update if bar is not None else None)
    except scenario.ScenarioError as e:
        say("doorkit sim: %s" % _printable(str(e)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        if res is None:
            say("doorkit sim: interrupted")
        else:
            say("doorkit sim: %s: interrupted at %d ms of %d (virtual); %d log lines so far"
                % (_printable(path), res.door.now, res.scenario.until, len(res.log)))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        if out is sys.stdout:
            try:  # the interpreter flushes stdout on exit: let that go nowhere
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
        return EXIT_PIPE
    if scn.expect is None or res.ok:
        say(res.report())
        return EXIT_OK
    say("doorkit sim: %s" % res.report())
    return EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
