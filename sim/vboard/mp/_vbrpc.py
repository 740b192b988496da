# The virtual board's wire to its physical world (sim/vboard/world.py, served by the supervisor):
# one JSON line each way, [t_ms, handle, method, args] -> [result, skip_to] or [None, skip_to, err].
# Runs in the MicroPython unix port (imported by the machine/esp32 shims before the host
# filesystem is unmounted). Bytes travel as {"b": hex}, machine objects as {"h": handle}.
import json
import socket
import os
import time  # the shim (sim/vboard/mp/time.py): virtual ticks, skips
from binascii import hexlify, unhexlify

_sock = None


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
    s = _sock or _connect()
    s.write(json.dumps([time.vnow(), h, method, enc(args)]).encode() + b"\n")
    line = s.readline()
    if not line:
        raise OSError("the virtual board's world went away")
    r = json.loads(line)
    time.skip_to(r[1])
    if len(r) > 2:
        raise OSError(r[2])
    return dec(r[0])
