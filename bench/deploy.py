"""Deploying the whole firmware to a virtual board (doorkit.deploy over stock mpremote's transport).

    .venv/bin/python bench/deploy.py [--runs 3]

A virtual board (sim/vboard) boots a raw flash image of a provisioned door (host/doorkit/image.py
build_flash: firmware ROMFS, boot.py/main.py, identity). Then, alternating so both see the same
machine load:
  full       deploy(force=True): every 4 KB block of the ROMFS image and both files written and verified
  no-change  deploy(): the block hashes and file hashes compared, nothing written
each followed by the board's reset (included). The ROMFS image is built once (mpy-cross of every
firmware module) and its build time reported on its own. Medians of --runs; the ratio full /
no-change is the figure to compare across machines. Prints one `RESULT {json}` line."""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
import doorkit  # noqa: E402,F401
from doorkit import image  # noqa: E402
from doorkit.deploy import deploy  # noqa: E402
from doorkit.link import open_link  # noqa: E402
from doorkit.sim.vboard.supervisor import VirtualBoard  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    romfs = image.build_romfs()
    romfs_s = time.perf_counter() - t
    secret = os.urandom(32)
    with tempfile.TemporaryDirectory(prefix="doorkit-bench-deploy-") as tmp:
        path = os.path.join(tmp, "flash.img")
        with open(path, "wb") as f:
            f.write(image.build_flash("4M", door={"door_id": "bench", "secret": secret}, romfs=romfs))
        vb = VirtualBoard(path, listen=("127.0.0.1", 0)).start()
        port = "socket://%s:%d" % vb.listen_addr
        try:
            full, same, rep = [], [], {}
            for _ in range(a.runs):
                for kind, out in (("full", full), ("no-change", same)):
                    t = time.perf_counter()
                    rep[kind] = deploy(port, force=(kind == "full"), romfs=romfs)
                    out.append(time.perf_counter() - t)
            with open_link(port) as ln:
                st = ln.call("status")
        finally:
            vb.stop()
    res = {"romfs_bytes": len(romfs), "romfs_build_s": round(romfs_s, 2),
           "full_s": round(statistics.median(full), 2), "no_change_s": round(statistics.median(same), 2),
           "ratio": round(statistics.median(full) / statistics.median(same), 2),
           "full_blocks": rep["full"]["blocks_written"], "full_sent_bytes": rep["full"]["bytes_sent"],
           "no_change_blocks": rep["no-change"]["blocks_written"], "door_after": st["door"], "runs": a.runs}
    print("ROMFS image %d bytes, built in %.2f s (mpy-cross of the firmware)" % (len(romfs), romfs_s))
    print("full deploy      %.2f s median (%d blocks + 2 files, %d bytes sent as base64)" % (
        res["full_s"], res["full_blocks"], res["full_sent_bytes"]))
    print("no-change deploy %.2f s median (0 written)   full / no-change = %.2f" % (res["no_change_s"], res["ratio"]))
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
