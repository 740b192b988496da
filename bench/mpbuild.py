"""CPython side of the MicroPython benchmark runs (as tests/conftest.py does): mpy-cross firmware/ and
the bench modules written in the MicroPython subset into bench/out/mpy/ (the board runs .mpy too),
then run a bench module in the unix port with those .mpy files on MICROPYPATH and the
board-equivalent heap, and return the dict it prints as `RESULT {json}`.

-X heapsize=96wK: 96 KB scaled by the word size ("w"), i.e. 96 KB on a 32-bit board and 192 KB on
the 64-bit unix port, so the same objects fit as on the ESP32.
"""
import json
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "host"))
from doorkit.mpy import tool, compile_tree  # noqa: E402  (shared with the test harness)
sys.path.insert(0, ROOT)
from sim import MICROPYTHON_MODULES  # noqa: E402

FIRMWARE = os.path.join(ROOT, "firmware")
OUT = os.path.join(BENCH, "out", "mpy")
HEAP = "96wK"
# the unix port on a PC runs roughly 30-50x faster than MicroPython on an ESP32 at 160-240 MHz
ESP32_SLOWDOWN = (30, 50)


def micropython_binary():
    mp = tool("micropython")
    if mp is None:
        raise RuntimeError("micropython not found: run `make .venv/.installed-stamp` and use .venv/bin/python")
    return mp


def micropython_version():
    code = "import sys; print('%d.%d.%d' % sys.implementation.version[:3], '(' + sys.version + ')')"
    return subprocess.run([micropython_binary(), "-c", code], capture_output=True, text=True).stdout.strip()


MP_MODULES = ("core_events.py", "minidoor.py", "heap.py", "idle.py", "powercut.py", "keystore.py")  # the bench files in the MicroPython subset
FAKES = ("fakes.py", "pn532fakes.py")  # fake pins and a scripted PN532 from tests/fw


def run_module(module, args=(), heap=HEAP, timeout=900):
    """Run bench module `module` (precompiled) in the unix port; return its RESULT dict."""
    fw, bench, fakes = os.path.join(OUT, "firmware"), os.path.join(OUT, "bench"), os.path.join(OUT, "fakes")
    simpkg = os.path.join(OUT, "simpkg")
    compile_tree(os.path.join(ROOT, "sim"), os.path.join(simpkg, "sim"), only=MICROPYTHON_MODULES)
    compile_tree(FIRMWARE, fw)
    compile_tree(BENCH, bench, only=MP_MODULES)
    compile_tree(os.path.join(ROOT, "tests", "fw"), fakes, only=FAKES)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([bench, fw, fakes, simpkg, ".frozen"]))
    cmd = [micropython_binary(), "-X", "heapsize=" + heap, "-m", module] + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError("micropython run failed (exit %s): %s\n%s%s" % (proc.returncode, " ".join(cmd),
                                                                         proc.stdout[-3000:], proc.stderr[-3000:]))
