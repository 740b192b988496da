"""What the `doorkit` commands exit with, and the one error type a command raises to say why.

Every command documents its exit status in its --help from these constants; a command that meets
bad input raises UserError(code, message) and the CLI prints `doorkit CMD: message` on one line."""

EXIT_OK = 0
EXIT_MISMATCH = 1  # a check failed: a scenario's expect block, a verify after a write
EXIT_USAGE = 2  # bad arguments, a bad scenario file, an action the simulated lock refused
EXIT_INTERNAL = 3  # a bug in doorkit (one line; DOORKIT_TRACEBACK=1 shows where)
EXIT_BOARD = 4  # no board: the port is missing, busy or silent, the board does not answer
EXIT_REFUSED = 5  # the board is the wrong one or said no: wrong chip, wrong door, bundle refused
EXIT_DATA = 6  # a bad input file: missing or corrupt door file, CSV, firmware .bin, image
EXIT_CONFLICT = 7  # already so: a card registered to someone, a door directory that exists
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141

EXIT_HELP = """exit status:
  0 done   1 a check failed   2 bad usage   3 internal error (a bug; one line, please report it)
  4 no board (port missing, busy or silent)   5 refused (wrong chip, wrong door, bundle refused)
  6 bad input file (door file, CSV, firmware, image)   7 conflict (card already registered, door exists)
  130 interrupted (Ctrl-C)"""


class UserError(Exception):
    """A failure the user can act on: `code` is the exit status, str(self) the one-line message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
