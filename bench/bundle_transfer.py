"""Bundle size for 10,000 credentials and the time to send it to a board over a 115200-baud link.

    .venv/bin/python bench/bundle_transfer.py [--users 10000] [--baud 115200]

1. A KeyBook (host/doorkit/keybook.py) with N users, one ISO14443A card each (7-byte UIDs), builds
   its full signed bundle: its size in bytes and per credential (target: <= 160 KB for 10,000).
2. The bundle is copied the way `mpremote fs cp bundle.bin :bundle.bin` copies it: mpremote's own
   do_filesystem_cp (commands.py) over its SerialTransport (raw REPL, raw-paste mode; fs_writefile
   sends `w(<repr of 256 bytes>)` per chunk) to the MicroPython unix port (`-X heapsize=96wK`) on a
   pty with ECHO and OPOST off, reached through socket:// and a relay that counts every byte each
   way. The file written is checked (sha256) against the bundle. For comparison the same bundle is
   also sent through the same transport as base64 in 1 KB pieces (`w(a2b_base64(b'...'))`), a
   denser encoding a doorkit put could use.
3. Wire time at BAUD, 8N1 (10 bits a byte): the bytes each way; the protocol is request/response
   (each exec waits for the board's answer), so the lower bound of the copy time on a real UART is
   (host->board + board->host bytes) x 10 / baud, before the board's own time to run each exec and
   the USB-serial adapter's latency per round trip (the round trips are counted).
Prints a summary and one `RESULT {json}` line (bench/run_all.py convention)."""
import argparse
import hashlib
import io
import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty
import types
from contextlib import redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
import doorkit  # noqa: E402,F401  (firmware/ on sys.path)
from doorkit.keybook import KeyBook  # noqa: E402
from doorkit.mpy import tool  # noqa: E402

HEAP = 96 * 1024 * 2  # 96wK: the board's 96 KB heap on the 64-bit unix port
SECRET = bytes(range(32))


def build_bundle(users):
    kb = KeyBook(SECRET, b"door-bench")
    for i in range(users):
        kb.add("iso14443a", "04%012X" % (i * 7919 + 1), "user%05d" % i)
    t0 = time.perf_counter()
    data = kb.bundle(full=True)
    return data, time.perf_counter() - t0


class Relay:
    """socket:// on 127.0.0.1 <-> the interpreter's pty master, counting bytes each way."""

    def __init__(self, master):
        self.master = master
        self.up = 0  # host -> board
        self.down = 0  # board -> host
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def reset(self):
        self.up = self.down = 0

    def run(self):
        conn, _ = self.srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not self.stop:
            r, _, _ = select.select([conn, self.master], [], [], 0.2)
            if conn in r:
                d = conn.recv(65536)
                if not d:
                    break
                self.up += len(d)
                os.write(self.master, d)
            if self.master in r:
                try:
                    d = os.read(self.master, 65536)
                except OSError:
                    break
                self.down += len(d)
                conn.sendall(d)
        conn.close()


class Counted:
    """Counts the transport's exec round trips."""

    def __init__(self, t):
        self.t = t
        self.execs = 0
        real = t.exec_raw

        def exec_raw(*a, **kw):
            self.execs += 1
            return real(*a, **kw)
        t.exec_raw = exec_raw


def send_base64(t, name, data, piece=1024):
    import binascii
    t.exec("from binascii import a2b_base64 as d\nf=open(%r,'wb')\nw=f.write" % name)
    for i in range(0, len(data), piece):
        t.exec("w(d(%r))" % binascii.b2a_base64(data[i:i + piece], newline=False))
    t.exec("f.close()")


def transfer(data, baud):
    from mpremote.commands import do_filesystem_cp
    from mpremote.transport_serial import SerialTransport
    mp = tool("micropython")
    if mp is None:
        raise SystemExit("bench/bundle_transfer.py: the MicroPython unix port is not installed (.venv)")
    work = tempfile.mkdtemp(prefix="doorkit-bench-")
    src = os.path.join(work, "bundle.bin")
    with open(src, "wb") as f:
        f.write(data)
    board = os.path.join(work, "board")
    os.mkdir(board)
    master, slave = pty.openpty()
    tty.setraw(slave)  # ECHO, ICANON, OPOST off, as a board's USB serial line
    proc = subprocess.Popen([mp, "-X", "heapsize=%d" % HEAP], stdin=slave, stdout=slave, stderr=slave,
                            cwd=board, close_fds=True)
    os.close(slave)
    relay = Relay(master)
    out = {}
    try:
        t = SerialTransport("socket://127.0.0.1:%d" % relay.port, baudrate=baud)
        time.sleep(0.3)
        t.enter_raw_repl(soft_reset=False)
        c = Counted(t)
        for label, send in (("mpremote_fs_cp", lambda: do_filesystem_cp(types.SimpleNamespace(transport=t), src,
                                                                         ":bundle.bin", False)),
                            ("base64_1k", lambda: send_base64(t, "bundle64.bin", data))):
            t.exec("pass")  # the relay counts from a quiet line
            relay.reset()
            c.execs = 0
            t0 = time.perf_counter()
            with redirect_stdout(io.StringIO()):  # mpremote's progress bar
                send()
            dt = time.perf_counter() - t0
            time.sleep(0.2)
            up, down, execs = relay.up, relay.down, c.execs
            name = "bundle.bin" if label == "mpremote_fs_cp" else "bundle64.bin"
            with open(os.path.join(board, name), "rb") as f:
                ok = hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
            out[label] = {"host_to_board_bytes": up, "board_to_host_bytes": down, "execs": execs,
                          "expansion": up / len(data), "wire_s": (up + down) * 10.0 / baud,
                          "wire_s_host_to_board": up * 10.0 / baud, "local_s": dt, "file_ok": ok}
        out["raw_paste"] = t.use_raw_paste
        t.close()
    finally:
        relay.stop = True
        proc.kill()
        proc.wait()
        os.close(master)
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/bundle_transfer.py")
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--baud", type=int, default=115200)
    a = ap.parse_args(argv)
    data, build_s = build_bundle(a.users)
    res = {"users": a.users, "credentials": a.users, "bundle_bytes": len(data),
           "bytes_per_credential": len(data) / a.users, "bundle_kb": len(data) / 1024.0,
           "build_s": build_s, "baud": a.baud}
    res.update(transfer(data, a.baud))
    print("bundle: %d credentials -> %d bytes (%.1f KB, %.2f B a credential), built in %.2f s"
          % (a.users, len(data), len(data) / 1024.0, len(data) / a.users, build_s))
    for k in ("mpremote_fs_cp", "base64_1k"):
        x = res[k]
        print("%s: host->board %d B (x%.2f), board->host %d B, %d execs; at %d baud 8N1: %.1f s "
              "(host->board alone %.1f s); here %.1f s; file %s"
              % (k, x["host_to_board_bytes"], x["expansion"], x["board_to_host_bytes"], x["execs"], a.baud,
                 x["wire_s"], x["wire_s_host_to_board"], x["local_s"], "ok" if x["file_ok"] else "DIFFERS"))
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1:])
