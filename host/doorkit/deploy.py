"""Deploy the firmware to a board over doorkit.link (stock mpremote's transport): the same on a USB
serial port and on a virtual board's socket://.

    report = deploy("socket://127.0.0.1:8266")      # -> {"blocks_written": 3, "files_written": [], ...}

What goes where (the image builder's layout, host/doorkit/image.py):
  romfs partition  the packages lockctl/, drivers/, lockshell/ compiled with mpy-cross, as one ROMFS
                   image the board runs in place from /rom. Compared block by block (4 KB, SHA-256
                   on the board): only the blocks that differ are written, each erased and programmed
                   through esp32.Partition.writeblocks; then the image's SHA-256 is checked.
  vfs (littlefs)   /boot.py and /main.py, compared by SHA-256 and written (Link.put: to a .part file,
                   verified, renamed) only when they differ.
Then the board is reset (machine.reset()) so it runs what was written. A board without a romfs
partition (flashed with another partition table) is refused: doorkit flash gives it doorkit's.
The door's identity, settings, keys and log are never touched.
"""
from __future__ import annotations

import binascii
import hashlib
from typing import Callable, Optional

from doorkit.errors import EXIT_CONFLICT, EXIT_REFUSED, UserError

BLOCK = 4096
Progress = Optional[Callable[[str, int, int], None]]  # (what, done, total)

_BOARD_HELPERS = """\
import esp32, hashlib, binascii
_dk_p = esp32.Partition.find(esp32.Partition.TYPE_DATA, 0x8f)
_dk_p = _dk_p[0] if _dk_p else None
_dk_b = bytearray(4096)
def _dk_bh(n):
    out = []
    for i in range(n):
        _dk_p.readblocks(i, _dk_b)
        out.append(binascii.hexlify(hashlib.sha256(_dk_b).digest()[:12]).decode())
    return out
def _dk_sum(size):
    h = hashlib.sha256()
    i = 0
    while size > 0:
        _dk_p.readblocks(i, _dk_b)
        h.update(_dk_b if size >= 4096 else memoryview(_dk_b)[:size])
        size -= 4096
        i += 1
    return binascii.hexlify(h.digest()).decode()
def _dk_w(i, s):
    d = binascii.a2b_base64(s)
    _dk_p.writeblocks(i, d + b"\\xff" * (4096 - len(d)))
"""


def block_hashes(img: bytes) -> list[str]:
    """What the board's _dk_bh computes for each 4 KB block of img (padded with 0xFF)."""
    out = []
    for i in range(0, len(img), BLOCK):
        b = img[i:i + BLOCK]
        out.append(hashlib.sha256(b + b"\xff" * (BLOCK - len(b))).hexdigest()[:24])
    return out


def deploy(port: str, plan: str = "4M", force: bool = False, reset: bool = True, link=None,
           on_progress: Progress = None, romfs: Optional[bytes] = None, door: Optional[dict] = None) -> dict:
    """Deploy the compiled firmware to the board at port (see the module doc). force: write every
    block and file even when unchanged. link: an open doorkit.link.Link instead of opening port.
    romfs: a prebuilt image (image.build_romfs()). door: {"door_id", "secret", "config"} to give a
    board that has no identity yet (its /door.json, and /lock.json when it has none); a board that
    is already another door is refused (EXIT_CONFLICT), one that is this door is left as it is.
    -> {"blocks_written", "blocks", "files_written", "files", "bytes_sent", "identity": "written" |
    "kept" | None}."""
    from doorkit import image
    img = romfs if romfs is not None else image.build_romfs(plan=plan)
    files = image.firmware_files()
    ident = image.door_files(door["door_id"], door["secret"], door.get("config"), door.get("net")) \
        if door is not None else None
    if link is None:
        from doorkit.link import open_link
        with open_link(port, timeout=30) as ln:
            return _deploy_and_reset(ln, img, files, ident, force, on_progress, reset)
    return _deploy_and_reset(link, img, files, ident, force, on_progress, reset)


def _deploy_and_reset(ln, img, files, ident, force, on_progress, reset):
    rep = dict(identity=None)
    if ident is not None:
        rep["identity"] = _check_identity(ln, ident)  # refused before anything is written
    rep.update(_deploy(ln, img, files, force, on_progress))
    if rep["identity"] == "write":
        for path in ("/lock.json", "/net.json", "/door.json"):  # the identity last: a board with it has it all
            if path in ident and not (path == "/lock.json" and ln.sha256(path) is not None):
                ln.put(ident[path], path)
        rep["identity"] = "written"
    if reset:
        ln.reset()
    return rep


def _check_identity(ln, ident: dict) -> str:
    """"write" (the board has no identity), "kept" (it is this door); UserError for another door."""
    import json
    want = json.loads(ident["/door.json"])
    ln.exec("def _dk_read(p):\n try:\n  with open(p) as f:\n   return f.read()\n except OSError:\n  return None\n")
    have = ln.eval("_dk_read('/door.json')")
    if have is None:
        return "write"
    try:
        d = json.loads(have)
        same = d.get("door_id") == want["door_id"] and d.get("secret") == want["secret"]
        door_id = d.get("door_id")
    except (ValueError, AttributeError):
        same, door_id = False, None
    if same:
        return "kept"
    if door_id == want["door_id"]:
        raise UserError(EXIT_CONFLICT, "the board at %s is door %r with another door secret (another door "
                                       "directory made it): erase it first (doorkit flash --erase)" % (ln.port, door_id))
    raise UserError(EXIT_CONFLICT, "the board at %s is already door %r: erase it first (doorkit flash --erase) to "
                                   "make it door %r" % (ln.port, door_id, want["door_id"]))


def _deploy(ln, img: bytes, files: dict, force: bool, on_progress: Progress) -> dict:
    step = on_progress or (lambda what, done, total: None)
    ln.exec(_BOARD_HELPERS)
    info = ln.eval("_dk_p and _dk_p.info()[3]")
    if not info:
        raise UserError(EXIT_REFUSED, "the board at %s has no romfs partition (its partition table is not "
                                      "doorkit's: doorkit flash writes it)" % ln.port)
    if len(img) > info:
        raise UserError(EXIT_REFUSED, "the firmware's ROMFS image is %d bytes, the board's romfs partition %d"
                        % (len(img), info))
    want = block_hashes(img)
    have = ln.eval("_dk_bh(%d)" % len(want), timeout=60)
    todo = [i for i, h in enumerate(want) if force or have[i] != h]
    sent = 0
    for k, i in enumerate(todo):
        chunk = img[i * BLOCK:(i + 1) * BLOCK]
        s = binascii.b2a_base64(chunk, newline=False).decode()
        ln.exec("_dk_w(%d, %r)" % (i, s))
        sent += len(s)
        step("romfs", k + 1, len(todo))
    got = ln.eval("_dk_sum(%d)" % len(img), timeout=60)
    if got != hashlib.sha256(img).hexdigest():
        raise UserError(EXIT_REFUSED, "the romfs partition does not read back what was written (flash fault?)")
    written = []
    for k, (path, data) in enumerate(sorted(files.items())):
        if force or ln.sha256(path) != hashlib.sha256(data).hexdigest():
            ln.put(data, path)
            written.append(path)
            sent += len(data) * 4 // 3
        step("files", k + 1, len(files))
    return {"blocks_written": len(todo), "blocks": len(want), "files_written": written, "files": len(files),
            "romfs_bytes": len(img), "bytes_sent": sent}
