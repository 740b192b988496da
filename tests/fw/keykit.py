# Building key stores for tests: credentials -> a signed bundle -> installed into a KeyStore over a
# simulated NOR flash. Uses only the public format code (lockctl/bundle.py, lockctl/keystore.py).
from lockctl import bundle as B
from lockctl import keystore as K
from lockctl import schedule as S
import sys

from sim.nor import NorFlash, FileCells

SECRET = b"0123456789abcdef0123456789abcdef"
DOOR = b"door-1"
ALWAYS = S.pack_profile(S.P_ALWAYS, 0, 0, 0)


def rec(kind, ident, user, secret=SECRET, **kw):
    return K.pack(K.cred_key(secret, kind, ident), user, kind=kind, **kw)


def cards(n, step=1, kind=None):
    """n card records ("%08X" % (i * step) -> user i + 1), built in a loop (a list comprehension
    of this size runs out of heap in MicroPython where a loop does not)."""
    import gc
    from lockctl.codes import KIND_ISO14443A
    out = []
    for i in range(n):
        out.append(rec(kind or KIND_ISO14443A, "%08X" % (i * step), i + 1))
        if i % 64 == 63:
            gc.collect()
    return out


def full(recs, version=1, profiles=(ALWAYS,), secret=SECRET, door=DOOR):
    return B.build(secret, door, B.FULL, version, 0, list(profiles), sorted(recs))


def delta(ops, version, base, profiles=(ALWAYS,), secret=SECRET, door=DOOR):
    return B.build(secret, door, B.DELTA, version, base, list(profiles), sorted(ops, key=lambda o: o[1]))


def install(store, data, chunk=700):
    """Feed a bundle (bytes, or a B.chunks stream) to store as a stream would; -> the installed
    version."""
    if type(data) is not bytes and type(data) is not bytearray:
        parts = iter(data)
        inst = store.begin(next(parts))
        for p in parts:
            inst.feed(p)
        return inst.finish()
    return store.install(data, chunk)


_files = []


def cell_file(blocks, chunk=4096):
    """FileCells in a file of this process's own (two test runs at once must not share one), in
    $DOORKIT_TMP (the harness makes one a module and removes it after) or /tmp; the file made four
    files ago is removed (no test holds four flashes at once)."""
    import os
    from binascii import hexlify
    if not _files:
        _files.append(hexlify(os.urandom(6)).decode())
    path = "%s/doorkit-test-%s-%d.nor" % (os.getenv("DOORKIT_TMP") or "/tmp", _files[0], len(_files))
    _files.append(path)
    if len(_files) > 5:
        try:
            os.remove(_files[-5])
        except OSError:
            pass
    return FileCells(path, blocks * 4096, chunk, True)


def flash(blocks):
    """A simulated flash; in MicroPython its cells live in a file, not on the (board-sized) heap."""
    if sys.implementation.name != "micropython":
        return NorFlash(blocks)
    return NorFlash(blocks, cells=cell_file(blocks))


def digest(dev, first, n):
    """sha256 of blocks first..first+n-1 (to compare flash regions without holding them)."""
    import hashlib
    h = hashlib.sha256()
    b = bytearray(4096)
    for i in range(first, first + n):
        dev.readblocks(i, b)
        h.update(b)
    return h.digest()


def store(recs=(), blocks=8, tally=None, version=1, profiles=(ALWAYS,)):
    dev = flash(blocks)
    st = K.KeyStore(dev, SECRET, DOOR, tally)
    if recs:
        recs.sort()
        install(st, B.chunks(SECRET, DOOR, B.FULL, version, 0, list(profiles), recs))
    return st, dev
