# Key bundles: the one format the host builds and the lock installs (docs/keys.md).
#
#   header (104 bytes)                                  body (body_len bytes)
#   magic "DKB1", format 1, type (1 full / 2 delta),    profiles: nprof x 8 bytes (schedule.py)
#   nprof, 0, door id (16, NUL padded), version,        entries, strictly ascending by key:
#   base (delta: the version it applies to), count,       full:  count x 16-byte credential records
#   body_len, sha256(body) (32),                          delta: count x (op u8 + 16-byte record)
#   HMAC-SHA256(door secret, the 72 bytes before) (32)
#
# The MAC covers the header and, through the body hash, the body: the lock checks format, door,
# signature and version on the header alone, before it touches anything, then streams the body into
# its spare slot hashing it as it goes, and commits only when the hash matches (lockctl/keystore.py).
import hashlib
import struct

from micropython import const

from lockctl.codes import R_FORMAT, R_CORRUPT, R_WRONG_DOOR, R_BAD_SIGNATURE
from lockctl.hmac256 import hmac_sha256, equal

MAGIC = b"DKB1"
FORMAT = const(1)
FULL = const(1)
DELTA = const(2)
OP_ADD = const(1)
OP_REMOVE = const(2)
OP_CHANGE = const(3)
HEADER = const(104)
_SIGNED = const(72)
_FMT = "<4sBBBB16sIIII32s"  # magic, format, type, nprof, 0, door, version, base, count, body_len, sha
DOOR_ID_MAX = const(16)
PROFILE = const(8)
REC = const(16)


class BundleError(Exception):
    """A bundle refused; .reason is the R_* code (the message says what is wrong)."""

    def __init__(self, reason, msg):
        super().__init__(msg)
        self.reason = reason


def door_field(door_id):
    d = bytes(door_id)
    if not 0 < len(d) <= DOOR_ID_MAX:
        raise ValueError("a door id is 1..16 bytes")
    return d + b"\x00" * (DOOR_ID_MAX - len(d))


def entry_size(kind):
    return REC if kind == FULL else REC + 1


def parse_header(buf, secret, door_id):
    """The first HEADER bytes of a bundle -> (type, nprof, version, base, count, body_len, sha256),
    or BundleError(R_FORMAT / R_CORRUPT / R_WRONG_DOOR / R_BAD_SIGNATURE)."""
    if len(buf) < HEADER:
        raise BundleError(R_CORRUPT, "bundle shorter than its header")
    if buf[0:4] != MAGIC:
        raise BundleError(R_FORMAT, "not a doorkit bundle")
    (_, fmt, kind, nprof, _z, door, version, base, count, body_len, sha) = struct.unpack_from(_FMT, buf, 0)
    if fmt != FORMAT:
        raise BundleError(R_FORMAT, "bundle format %d (this firmware reads %d)" % (fmt, FORMAT))
    if kind != FULL and kind != DELTA:
        raise BundleError(R_FORMAT, "bundle type %d" % kind)
    if door != door_field(door_id):
        raise BundleError(R_WRONG_DOOR, "bundle for another door")
    mac = hmac_sha256(secret, memoryview(buf)[:_SIGNED])
    if not equal(mac, bytes(buf[_SIGNED:HEADER])):
        raise BundleError(R_BAD_SIGNATURE, "bundle signature does not verify")
    if body_len != nprof * PROFILE + count * entry_size(kind):
        raise BundleError(R_CORRUPT, "bundle body length does not match its counts")
    return kind, nprof, version, base, count, body_len, sha


def chunks(secret, door_id, kind, version, base, profiles, entries):
    """Host side: the bundle as a stream of byte strings, the header first (HEADER bytes), then
    each profile and entry. profiles: 8-byte packed profiles (schedule.pack_profile); entries (a
    list: it is read twice, once for the body hash): full: 16-byte records; delta: (op, 16-byte
    record); both sorted by key (record bytes 0..5)."""
    body = hashlib.sha256()
    n = 0
    for p in profiles:
        if len(p) != PROFILE:
            raise ValueError("a profile is 8 bytes")
        body.update(p)
    for e in entries:
        if kind == DELTA:
            if len(e[1]) != REC:
                raise ValueError("a bundle entry is (op, 16-byte record)")
            body.update(bytes((e[0],)))
            body.update(e[1])
        else:
            if len(e) != REC:
                raise ValueError("a bundle entry is a 16-byte record")
            body.update(e)
        n += 1
    blen = len(profiles) * PROFILE + n * entry_size(kind)
    head = struct.pack(_FMT, MAGIC, FORMAT, kind, len(profiles), 0, door_field(door_id), version, base, n, blen,
                       body.digest())
    yield head + hmac_sha256(secret, head)
    for p in profiles:
        yield bytes(p)
    for e in entries:
        yield bytes((e[0],)) + bytes(e[1]) if kind == DELTA else bytes(e)


def build(secret, door_id, kind, version, base, profiles, entries):
    """Host side: the whole bundle as bytes (see chunks)."""
    return b"".join(chunks(secret, door_id, kind, version, base, profiles, entries))
