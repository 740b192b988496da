"""doorkit host toolkit.

Importing it makes the firmware's packages importable on CPython exactly as the board names them
(`lockctl`, `drivers`, `lockshell`), from the firmware tree that ships with doorkit, plus a stand-in
for MicroPython's built-in `micropython` module when no real one is installed. Nothing else is
exposed: the firmware directory is not put on sys.path, so the board's `main.py` is not importable
as `main` and no bare `board`, `app`, `store` or `nfc` module can shadow another library's
(Adafruit Blinka's `board`, nfcpy's `nfc`).
"""
import importlib.machinery
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _firmware_dir():
    # an installed wheel carries the firmware tree inside the package (doorkit/firmware); a checkout
    # (editable install, or host/ on sys.path) has it at the top of the repository
    for d in (os.path.join(HERE, "firmware"), os.path.join(os.path.dirname(os.path.dirname(HERE)), "firmware")):
        if os.path.isfile(os.path.join(d, "lockctl", "core.py")):
            return d
    raise ImportError("doorkit: the firmware tree is missing (looked in %s and the checkout)" % HERE)


FIRMWARE_DIR = _firmware_dir()
SHIM_DIR = os.path.join(HERE, "_mpshim")
# the top-level names the firmware imports itself by, and where each is found
FIRMWARE_PACKAGES = ("lockctl", "drivers", "lockshell")


class _FirmwareFinder:
    """A sys.meta_path finder for the firmware's own top-level packages: these names, and no
    other, resolve into the firmware tree (ahead of sys.path, so the firmware's `drivers` is the
    one its own imports get)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in FIRMWARE_PACKAGES:
            return importlib.machinery.PathFinder.find_spec(name, [FIRMWARE_DIR])
        return None


class _ShimFinder:
    """Last on sys.meta_path: MicroPython's `micropython` module, when nothing else provides it."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "micropython":
            return importlib.machinery.PathFinder.find_spec(name, [SHIM_DIR])
        return None


def _install():
    names = [type(f).__name__ if not isinstance(f, type) else f.__name__ for f in sys.meta_path]
    if "_FirmwareFinder" not in names:
        sys.meta_path.insert(0, _FirmwareFinder)
    if "_ShimFinder" not in names:
        sys.meta_path.append(_ShimFinder)


_install()

__version__ = "0.1.0"
