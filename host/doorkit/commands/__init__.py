"""The `doorkit` subcommands other than `sim`: one module each, registered in COMMANDS.

A command module has `HELP` (one line for `doorkit --help`), `register(parser)` (adds its options
and, if it has them, its own subcommands to the argparse parser it is given) and `run(args)`, which
returns the exit status or raises doorkit.errors.UserError. Modules are imported when first used,
so `doorkit sim` does not pay for esptool or mpremote."""
import importlib

# command name -> module under doorkit.commands (in the order `doorkit --help` lists them)
COMMANDS = {
    "vboard": "vboard",
    "flash": "flash",
    "image": "image",
    "deploy": "deploy",
    "provision": "provision",
    "keys": "keys",
    "enroll": "enroll",
    "calibrate": "calibrate",
    "clock": "clock",
    "logs": "logs",
    "fleet": "fleet",
    "remote": "remote",
    "history": "history",
    "attendance": "attendance",
}


def load(name):
    """The command module for `name`, or None when it is not written yet."""
    try:
        return importlib.import_module("doorkit.commands." + COMMANDS[name])
    except ModuleNotFoundError as e:
        if e.name == "doorkit.commands." + COMMANDS[name]:
            return None
        raise
