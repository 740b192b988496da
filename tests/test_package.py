"""doorkit as a package: importing it exposes the firmware's own packages and nothing else, and a
plain (non-editable) install from the built wheel carries the firmware and runs the simulator."""
import os
import subprocess
import sys
import venv

import doorkit

from conftest import ROOT

DEMO = os.path.join(ROOT, "sim", "scenarios", "demo.scn")


def test_import_exposes_only_the_firmware_packages():
    code = ("import sys, doorkit, importlib.util as u\n"
            "print(doorkit.FIRMWARE_DIR in sys.path or any(p.rstrip('/').endswith('firmware') for p in sys.path))\n"
            "print(sorted(n for n in ('app', 'store', 'nfc', 'main', 'lockshell', 'lockctl', 'drivers')"
            " if u.find_spec(n) is not None))\n"
            "import lockshell.app, lockctl.core, drivers.motor\n"
            "print(lockshell.app.__file__.startswith(doorkit.FIRMWARE_DIR))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    on_path, found, from_tree = out.stdout.split("\n")[:3]
    assert on_path == "False"
    # the board's main.py and the shell's modules are not top-level names on the host
    assert found == "['drivers', 'lockctl', 'lockshell']"
    assert from_tree == "True"


def test_importing_doorkit_leaves_blinkas_board_alone():
    # Adafruit Blinka (installed with adafruit-circuitpython-pn532) has a top-level `board`; the
    # firmware's pin map is lockshell.board and must not shadow it
    code = "import doorkit, board, lockshell.board as b; print(board.__file__ != b.__file__, board.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("True") and "firmware" not in out.stdout


def test_wheel_installs_in_a_fresh_venv_and_runs_the_simulator(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
                            "-w", str(wheels), ROOT], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    (whl,) = list(wheels.glob("doorkit-*.whl"))
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(str(env_dir))
    py = env_dir / "bin" / "python"
    # --no-deps: the simulator needs none of the toolkit's dependencies (esptool, mpremote, ...; the
    # commands import them when they run), and this test stays offline
    inst = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                           "--disable-pip-version-check", str(whl)], capture_output=True, text=True)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    # from a directory outside the checkout: nothing of the checkout is on the path
    where = subprocess.run([str(py), "-c", "import doorkit; print(doorkit.FIRMWARE_DIR)"], capture_output=True,
                           text=True, cwd=str(tmp_path))
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(env_dir)), where.stdout
    run = subprocess.run([str(env_dir / "bin" / "doorkit"), "sim", "--script", DEMO, "--log-only"],
                         capture_output=True, text=True, cwd=str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    here = subprocess.run([sys.executable, "-m", "doorkit.cli", "sim", "--script", DEMO, "--log-only"],
                          capture_output=True, text=True)
    assert run.stdout == here.stdout and run.stdout.startswith("0 BOOT locked #1\n")
    # the wheel's firmware is the checkout's, file for file
    site_fw = where.stdout.strip()
    for dirpath, _, files in os.walk(doorkit.FIRMWARE_DIR):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), doorkit.FIRMWARE_DIR)
                with open(os.path.join(dirpath, f), "rb") as a, open(os.path.join(site_fw, rel), "rb") as b:
                    assert a.read() == b.read(), rel
