"""doorkit host toolkit. Importing it makes the firmware modules (lockctl, drivers, app) importable
on CPython, from the checkout's firmware/ tree, with a stand-in for MicroPython's `micropython`."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIRMWARE_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "firmware")
_SHIM_DIR = os.path.join(HERE, "_mpshim")

for _p in (_SHIM_DIR, FIRMWARE_DIR):
    if _p not in sys.path:
        sys.path.insert(0, _p)

__version__ = "0.1.0"
