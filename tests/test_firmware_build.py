"""Every file under firmware/ compiles with the stock mpy-cross, and the sans-IO core stays free of
I/O, clocks and modules MicroPython lacks."""
import os
import re
import subprocess

import pytest

from conftest import FIRMWARE, mpy_cross_binary

FILES = sorted(os.path.relpath(os.path.join(d, f), FIRMWARE)
               for d, _, fs in os.walk(FIRMWARE) for f in fs if f.endswith(".py"))
MISSING_IN_MICROPYTHON = ("dataclasses", "typing", "enum", "abc", "functools", "itertools", "datetime",
                          "hmac", "logging", "unittest", "bisect", "pathlib", "subprocess", "threading")
IO_AND_CLOCKS = ("machine", "time", "asyncio", "network", "socket", "select", "os", "esp", "esp32")


def test_firmware_tree_is_not_empty():
    assert {"lockctl/core.py", "lockshell/app.py", "main.py", "lockshell/board.py", "drivers/motor.py"} <= set(FILES)


@pytest.mark.parametrize("rel", FILES)
def test_compiles_with_mpy_cross(rel, tmp_path):
    out = tmp_path / "x.mpy"
    proc = subprocess.run([mpy_cross_binary(), "-o", str(out), os.path.join(FIRMWARE, rel)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"  # .mpy header


def _imports(path):
    pat = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][\w]*)", re.M)
    return set(pat.findall(open(path).read()))


@pytest.mark.parametrize("rel", FILES)
def test_no_module_micropython_lacks(rel):
    assert not (_imports(os.path.join(FIRMWARE, rel)) & set(MISSING_IN_MICROPYTHON))


def test_lockctl_is_sans_io():
    for rel in FILES:
        if rel.startswith("lockctl" + os.sep):
            assert not (_imports(os.path.join(FIRMWARE, rel)) & set(IO_AND_CLOCKS)), rel


def test_drivers_take_no_clock_or_machine():
    for rel in FILES:
        if rel.startswith("drivers" + os.sep):
            assert not (_imports(os.path.join(FIRMWARE, rel)) & {"machine", "time", "asyncio"}), rel
