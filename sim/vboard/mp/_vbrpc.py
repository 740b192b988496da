# The virtual board's wire to its physical world (sim/vboard/world.py, served by the supervisor):
# one JSON line each way, [t_ms, handle, method, args, id] -> [result, skip_to, now, err or None, id].
# Runs in the MicroPython unix port (imported by the machine/esp32 shims before the host
# filesystem is unmounted). Bytes travel as {"b": hex}, machine objects as {"h": handle}.
import json
import socket
import os
import time  # the shim (sim/vboard/mp/time.py): virtual ticks, skips
from binascii import hexlify, unhexlify

_sock = None
_id = 0


def _connect():
    global _sock
    port = int(os.getenv("DOORKIT_VB_RPC") or 0)
    if not port:
        raise OSError("no DOORKIT_VB_RPC: this interpreter was not started by doorkit vboard")
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    _sock = s
    return s


def enc(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"b": hexlify(v).decode()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    h = getattr(v, "vb_handle", None)
    if h is not None:
        return {"h": h}
    return v


def dec(v):
    if isinstance(v, dict) and "b" in v:
        return unhexlify(v["b"])
    return v


def call(h, method, args=()):
    # A Ctrl-C (SIGINT: KeyboardInterrupt) may land anywhere in here: between the request and its
    # answer, or half way through either. So every request has an id, starts on a fresh line (a
    # torn earlier request is a line of its own, answered with an error nobody waits for), and
    # the answers of interrupted calls, whole or torn, are read past until this call's own.
    global _id
    s = _sock or _connect()
    _id += 1
    n = _id
    s.write(b"\n" + json.dumps([time.vnow(), h, method, enc(args), n]).encode() + b"\n")
    while True:
        line = s.readline()
        if not line:  # the supervisor is gone: so is the board (a board without power runs nothing)
            raise SystemExit(1)
        try:
            r = json.loads(line)
        except ValueError:
            continue  # the tail of an answer torn by an interrupted read
        if type(r) is list and len(r) == 5 and r[4] == n:
            break
    time.skip_to(r[1])
    time.sync(r[2])
    if r[3] is not None:
        raise OSError(r[3])
    return dec(r[0])
