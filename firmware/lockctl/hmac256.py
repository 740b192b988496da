# HMAC-SHA256 (RFC 2104) for MicroPython, which has hashlib.sha256 but no hmac module, and a
# constant-time comparison. Sans-IO: only hashlib is imported. Works unchanged on CPython (the tests
# check it against RFC 4231 and against CPython's hmac module).
import hashlib

BLOCK = 64  # SHA-256 block size
SIZE = 32  # digest size


def hmac_sha256(key, msg, msg2=None):
    # HMAC-SHA256(key, msg || msg2) -> 32 bytes; msg2 avoids a concatenation for two-part messages.
    # A key longer than the block is hashed first; a shorter one is padded with zeros.
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    pad = bytearray(BLOCK)
    n = len(key)
    i = 0
    while i < BLOCK:
        pad[i] = (key[i] if i < n else 0) ^ 0x36
        i += 1
    inner = hashlib.sha256(pad)
    inner.update(msg)
    if msg2 is not None:
        inner.update(msg2)
    i = 0
    while i < BLOCK:
        pad[i] ^= 0x36 ^ 0x5C  # ipad -> opad
        i += 1
    outer = hashlib.sha256(pad)
    outer.update(inner.digest())
    return outer.digest()


def equal(a, b):
    # constant-time comparison of two byte strings: the time depends on the length only (lengths
    # are not secret here: a MAC is always 32 bytes)
    n = len(a)
    if n != len(b):
        return False
    d = 0
    i = 0
    while i < n:
        d |= a[i] ^ b[i]
        i += 1
    return d == 0
