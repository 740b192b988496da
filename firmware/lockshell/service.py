# The maintenance API the host toolkit calls in the raw REPL once Ctrl-C stopped main.py
# (host/doorkit/link.py): `import lockshell.service as S; S.status()` and so on. Every function
# returns plain values (dicts, tuples, ints, strings) whose repr() the host can eval.
# Heap-frugal: a bundle file is streamed into the key store in pieces, log records are read one
# at a time from flash and at most n of them are returned.
from lockctl.codes import (R_BAD_SIGNATURE, R_WRONG_DOOR, R_OLD_VERSION, R_BASE_MISMATCH, R_CORRUPT,
                           R_NO_ROOM, R_FORMAT)

_PIECE = 512
_fl = None  # the open Storage (opened on first use; use() sets another, e.g. in tests)

# outcome names of install() (the host maps them to its messages)
REFUSALS = {R_BAD_SIGNATURE: "bad_signature", R_WRONG_DOOR: "wrong_door", R_OLD_VERSION: "old_version",
            R_BASE_MISMATCH: "base_mismatch", R_CORRUPT: "corrupt", R_NO_ROOM: "no_room", R_FORMAT: "format"}


def storage():
    """lockshell.flash.Storage on the "keys" and "log" partitions, or None on a board without
    them or without a provisioned identity (then no credential opens)."""
    try:
        import esp32
        from lockshell.flash import Storage, read_identity, board_partitions
    except ImportError:
        return None
    ident = read_identity("/door.json")
    keys, log = board_partitions(esp32)
    if ident is None or keys is None or log is None:
        return None
    return Storage(keys, log, ident[1], ident[0])


def use(fl):
    """Serve this Storage (None: open the board's again on next use)."""
    global _fl
    _fl = fl


def _storage():
    global _fl
    if _fl is None:
        _fl = storage()
        if _fl is None:
            raise OSError(19)  # ENODEV: no partitions or no identity (status() says which)
    return _fl


def status():
    """{"door": door id text or None, "keys_version", "keys_count", "next_seq", "cursor", "boots",
    "faults"} of the board's storage ({"door": None} when it has none)."""
    try:
        fl = _storage()
    except OSError:
        return {"door": None}
    ks = fl.keys
    door = getattr(ks, "door_id", None)
    d = {"door": bytes(door).decode() if door is not None else None,
         "keys_version": ks.version, "keys_count": len(ks), "boots": fl.boots, "faults": list(fl.faults)}
    if fl.log is not None:
        d["next_seq"] = fl.log.next_seq
        d["cursor"] = fl.log.cursor
    return d


def install(path, remove=True):
    """Install the bundle file at `path` into the key store, fed in pieces; the file is removed
    afterwards (either way). -> "ok" or the refusal's name (REFUSALS, "io" for a flash error)."""
    import os
    from lockctl.bundle import BundleError, HEADER
    import gc
    fl = _storage()
    gc.collect()  # the install takes one flash-block buffer: give it the heap's largest gap
    buf = bytearray(_PIECE)
    out = "ok"
    try:
        with open(path, "rb") as f:
            hdr = f.read(HEADER)
            try:
                if len(hdr) < HEADER:
                    raise BundleError(R_CORRUPT, "short")
                inst = fl.keys.begin(hdr)
                del hdr
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    inst.feed(memoryview(buf)[:n])
                    while inst.busy():
                        inst.step()
                inst.finish()
            except BundleError as e:
                out = REFUSALS.get(e.reason, "refused_%d" % e.reason)
            except OSError:
                out = "io"
    finally:
        if remove:
            try:
                os.remove(path)
            except OSError:
                pass
    return out


def _rtc(rtc):
    from lockshell.clock import RtcClock
    if rtc is None:
        import machine
        rtc = machine.RTC()
    return RtcClock(rtc)


def set_clock(unix, rtc=None):
    """Set the board's RTC (UTC) to Unix seconds; -> what the RTC reads back."""
    c = _rtc(rtc)
    c.set(unix)
    return c.read()


def clock(rtc=None):
    """The RTC in Unix seconds, None when it was not set since power-up."""
    return _rtc(rtc).read()


def log(since_seq=0, n=32):
    """Up to n records with seq >= since_seq: (seq, boot, wall, t, code, arg, who) tuples."""
    fl = _storage()
    out = []
    if fl.log is None or n <= 0:
        return out
    for r in fl.log.records(since_seq):
        out.append(r)
        if len(out) >= n:
            break
    return out


def ack(seq):
    """Acknowledge the records up to seq (durable); -> the cursor."""
    fl = _storage()
    if fl.log is None:
        return 0
    fl.log.ack(seq)
    return fl.log.cursor
