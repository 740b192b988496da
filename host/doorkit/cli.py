"""The `doorkit` command.

    doorkit sim --script FILE   run a scenario (docs/scenarios.md), print its log, check `expect`
    doorkit sim                 an interactive door in the terminal (curses)

Exit status: 0 success; 1 the log differs from the scenario's expect block; 2 bad usage, a bad
scenario file, or no terminal for the interactive door.
"""
import argparse
import sys

import doorkit

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2


def _parser():
    p = argparse.ArgumentParser(prog="doorkit", description="Host tools for the doorkit smart lock.")
    p.add_argument("--version", action="version", version="doorkit " + doorkit.__version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("sim", help="simulated door: run a scenario file, or play with it interactively",
                       description="Run the lock firmware against a simulated door. With --script, play a "
                                   "scenario file and check its expected log; without, open an interactive "
                                   "door in the terminal.")
    s.add_argument("--script", metavar="FILE", help="scenario file to run non-interactively")
    s.add_argument("--log-only", action="store_true", help="print only the log lines, no '#' narration")
    s.add_argument("-v", "--verbose", action="store_true", help="also echo each scripted action")
    s.add_argument("--seed", type=int, default=None, help="override the scenario's (or the interactive) seed")
    s.add_argument("--step", metavar="MS", type=int, default=None,
                   help="poll every MS ms while anything moves instead of exact fast-forwarding (cross-check)")
    s.add_argument("--speed", type=float, default=1.0, help="interactive: virtual seconds per real second")
    return p


def main(argv=None):
    p = _parser()
    args = p.parse_args(argv)
    if args.command == "sim":
        return cmd_sim(args)
    p.print_help(sys.stderr)
    return EXIT_USAGE


def cmd_sim(args):
    if args.script:
        return run_script(args.script, log_only=args.log_only, verbose=args.verbose, seed=args.seed,
                          step=args.step)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        which = "stdin" if not sys.stdin.isatty() else "stdout"
        sys.stderr.write("doorkit sim: the interactive door needs a terminal, but %s is not a TTY.\n"
                         "Run a scenario instead: doorkit sim --script FILE (see docs/scenarios.md)\n" % which)
        return EXIT_USAGE
    if args.speed <= 0:
        sys.stderr.write("doorkit sim: --speed must be positive\n")
        return EXIT_USAGE
    from doorkit import simui
    return simui.run(seed=args.seed or 0, speed=args.speed)


def run_script(path, log_only=False, verbose=False, seed=None, step=None, out=None, err=None):
    from doorkit.sim import scenario
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        scn = scenario.load(path)
        mode = "fixed" if step else "exact"
        res = scenario.run(scn, verbose=verbose, mode=mode, fine_ms=step or 5, seed=seed)
    except scenario.ScenarioError as e:
        err.write("doorkit sim: %s\n" % e)
        return EXIT_USAGE
    for line in (res.log if log_only else res.output):
        out.write(line + "\n")
    out.flush()
    if scn.expect is None:
        err.write("%s\n" % res.report())
        return EXIT_OK
    if res.ok:
        err.write("%s\n" % res.report())
        return EXIT_OK
    err.write("doorkit sim: %s\n" % res.report())
    return EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
