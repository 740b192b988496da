"""Virtual-board boot time, factory image build time and the cost of one mpremote call.

    .venv/bin/python bench/vboard.py [--runs 5]

(a) Boot: VirtualBoard(...).start() (sim/vboard/supervisor.py) to the first successful stock
    `mpremote connect socket://... exec "pass"` (a subprocess: its own start-up, the Ctrl-C, raw
    REPL, soft reset and the exec are in the figure), and separately start() to an open
    doorkit.link.Link (open_link: raw REPL entered after a soft reset). For a blank board (fresh
    erased 4M flash: MicroPython formats the vfs partition on first boot) and for a firmware image
    from build_flash("4M", door=...) (main.py starts the firmware; mpremote's Ctrl-C stops it).
(b) Image build: host/doorkit/image.py build_flash and build_factory with the fake MicroPython
    firmware of tests/fakefw.py (a valid ESP32 .bin), with the ROMFS built each time (mpy-cross of
    the whole firmware) and with a prebuilt ROMFS passed in (littlefs, keys, merge only).
(c) Call overhead on a booted blank board: `mpremote exec "pass"` (a new process and connection
    each time), `mpremote resume exec "pass"` (no soft reset) and Link.exec("pass") on an open link.
Medians of --runs runs. Prints a summary and one `RESULT {json}` line (bench/run_all.py convention)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import doorkit  # noqa: E402,F401  (firmware/ and sim on sys.path)
import fakefw  # noqa: E402
from doorkit import image as I  # noqa: E402
from doorkit.link import open_link  # noqa: E402
from doorkit.sim.vboard.supervisor import VirtualBoard  # noqa: E402

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
DOOR = {"door_id": "bench-door", "secret": "5a" * 32}


def mp(port, *args):
    p = subprocess.run([MPREMOTE, "connect", "socket://127.0.0.1:%d" % port] + list(args), capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=120)
    if p.returncode != 0 or "Traceback" in p.stdout + p.stderr:
        raise RuntimeError("mpremote %s: %s%s" % (" ".join(args), p.stdout[-500:], p.stderr[-500:]))
    return p.stdout


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def boot_times(image_bytes, runs):
    """[(s to the first mpremote exec, s to an open Link)] for runs boots of image_bytes (None: blank)."""
    out = {"mpremote": [], "link": []}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(runs):
            for how in ("mpremote", "link"):
                path = None
                if image_bytes is not None:
                    path = os.path.join(d, "flash.img")
                    with open(path, "wb") as f:
                        f.write(image_bytes)
                t0 = time.perf_counter()
                vb = VirtualBoard(image=path, listen=("127.0.0.1", 0)).start()
                try:
                    if how == "mpremote":
                        mp(vb.listen_addr[1], "exec", "pass")
                    else:
                        ln = open_link("socket://127.0.0.1:%d" % vb.listen_addr[1], timeout=60)
                        ln.exec("pass")
                        dt = time.perf_counter() - t0
                        ln.close(restart=False)
                        out[how].append(dt)
                        continue
                    out[how].append(time.perf_counter() - t0)
                finally:
                    vb.stop()
    return out


def med(xs):
    return round(statistics.median(xs), 3)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    res = {"runs": a.runs}

    # (b) image builds
    fw = fakefw.combined()
    romfs = I.build_romfs(plan="4M")
    b = {"flash_full": [], "flash_prebuilt_romfs": [], "factory_full": [], "factory_prebuilt_romfs": []}
    img = None
    for _ in range(a.runs):
        b["flash_full"].append(timed(lambda: I.build_flash("4M", fw, DOOR)))
        b["flash_prebuilt_romfs"].append(timed(lambda: I.build_flash("4M", fw, DOOR, romfs=romfs)))
        b["factory_full"].append(timed(lambda: I.build_factory(None, "4M", fw, DOOR)))
        b["factory_prebuilt_romfs"].append(timed(lambda: I.build_factory(None, "4M", fw, DOOR, romfs=romfs)))
    img = I.build_flash("4M", None, DOOR, romfs=romfs)
    res["build_s"] = dict((k, med(v)) for k, v in b.items())
    res["factory_bytes"] = len(I.build_factory(None, "4M", fw, DOOR, romfs=romfs))
    res["romfs_bytes"] = len(romfs)

    # (a) boots
    blank = boot_times(None, a.runs)
    fwb = boot_times(img, a.runs)
    res["boot_s"] = {"blank_mpremote_exec": med(blank["mpremote"]), "blank_link_open": med(blank["link"]),
                     "firmware_mpremote_exec": med(fwb["mpremote"]), "firmware_link_open": med(fwb["link"])}

    # (c) call overhead on a booted blank board
    vb = VirtualBoard(listen=("127.0.0.1", 0)).start()
    try:
        port = vb.listen_addr[1]
        mp(port, "exec", "pass")
        calls = {"mpremote_exec": [], "mpremote_resume_exec": [], "link_exec": []}
        for _ in range(a.runs):
            calls["mpremote_exec"].append(timed(lambda: mp(port, "exec", "pass")))
            calls["mpremote_resume_exec"].append(timed(lambda: mp(port, "resume", "exec", "pass")))
        ln = open_link("socket://127.0.0.1:%d" % port)
        for _ in range(a.runs * 10):
            calls["link_exec"].append(timed(lambda: ln.exec("pass")))
        ln.close(restart=False)
    finally:
        vb.stop()
    res["call_s"] = dict((k, round(statistics.median(v), 4)) for k, v in calls.items())
    c, bt = res["call_s"], res["boot_s"]
    res["ratios"] = {
        "blank_boot_vs_mpremote_call": round(bt["blank_mpremote_exec"] / c["mpremote_exec"], 2),
        "firmware_boot_vs_blank_boot_mpremote": round(bt["firmware_mpremote_exec"] / bt["blank_mpremote_exec"], 2),
        "firmware_boot_vs_blank_boot_link": round(bt["firmware_link_open"] / bt["blank_link_open"], 2),
        "mpremote_call_vs_link_exec": round(c["mpremote_exec"] / c["link_exec"], 1),
        "factory_full_vs_prebuilt_romfs": round(res["build_s"]["factory_full"] / res["build_s"]["factory_prebuilt_romfs"], 2),
    }
    for k in ("build_s", "boot_s", "call_s", "ratios"):
        print("%s: %s" % (k, res[k]))
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
