# The hub's event upload and its acknowledgement: the one format the lock sends and the fleet
# collector reads (docs/network.md). Sans-IO. Both messages are signed with the door's secret, so
# nobody on the broker can make up events for a door, or make a lock drop records it still holds by
# acknowledging them falsely.
#
#   events  "DKE1" | door id (16, NUL padded) | from u32 | last u32 | count u8 | count x (seq u32 |
#           boot u16 | slot 20) | HMAC-SHA256(door secret, every byte before) (32)
#           slot: the record exactly as the flash event log stores it (lockctl/eventlog.py); the
#           batch is every record the lock holds from seq `from` to `last` (a seq in between that is
#           not there was never written whole, or the full ring dropped it, which a DROPPED record
#           says; a span with none left is a batch of no entries)
#   ack     "DKA1" | door id (16) | from u32 | last u32 | HMAC-SHA256(door secret, every byte before)
#           the collector holds every record of that span in its database (committed before it
#           sends this); the lock moves its upload cursor to `last` once it holds the acks of
#           everything before `from`
import struct

from micropython import const

from lockctl.bundle import door_field
from lockctl.eventlog import SLOT, encode_slot, decode_slot, TORN
from lockctl.hmac256 import hmac_sha256, equal

EV_MAGIC = b"DKE1"
ACK_MAGIC = b"DKA1"
ENTRY = const(26)  # seq u32 + boot u16 + slot
_EHEAD = const(29)
_MAC = const(32)
ACK_SIZE = const(60)
MAX_BATCH = const(32)  # records per message: 29 + 32 * 26 + 32 = 893 bytes


class UploadError(Exception):
    pass


class Batcher:
    """The lock's side: a signed batch of records in one preallocated buffer."""

    def __init__(self, secret, door_id, size=MAX_BATCH):
        self.secret = secret
        self._buf = bytearray(_EHEAD + size * ENTRY + _MAC)
        self._mv = memoryview(self._buf)
        self._buf[0:4] = EV_MAGIC
        self._buf[4:20] = door_field(door_id)
        self.size = size
        self.n = 0
        self.first = 0
        self.last = 0

    def clear(self, start):
        """A new batch covering the records from seq `start` on."""
        self.n = 0
        self.first = start
        self.last = start - 1

    def add(self, record):
        """record: (seq, boot, wall, t, code, arg, who) as EventLog.records() yields it. -> False
        when the batch is full (nothing added). ValueError for a record the format cannot hold."""
        if self.n >= self.size:
            return False
        seq, boot, wall, t, code, arg, who = record
        i = _EHEAD + self.n * ENTRY
        struct.pack_into("<IH", self._buf, i, seq, boot & 0xFFFF)
        encode_slot(self._mv[i + 6:i + 6 + SLOT], (t, code, arg, who), t, wall)
        self.last = seq
        self.n += 1
        return True

    def message(self):
        """The signed message (a view of the buffer: send it before the next add or clear)."""
        n = self.n
        struct.pack_into("<IIB", self._buf, 20, self.first, self.last, n)
        end = _EHEAD + n * ENTRY
        self._buf[end:end + _MAC] = hmac_sha256(self.secret, self._mv[:end])
        return self._mv[:end + _MAC]


def read_events(buf, secret, door_id):
    """The collector's side: -> (from, last, [(seq, boot, wall, t, code, arg, who)]); UploadError
    for a message that is not a batch of this door's, does not verify, or holds a torn record."""
    n = len(buf)
    if n < _EHEAD + _MAC or bytes(buf[0:4]) != EV_MAGIC:
        raise UploadError("not a doorkit event batch")
    start, last, count = struct.unpack_from("<IIB", buf, 20)
    if n != _EHEAD + count * ENTRY + _MAC:
        raise UploadError("event batch length does not match its count")
    if bytes(buf[4:20]) != door_field(door_id):
        raise UploadError("event batch of another door")
    mv = memoryview(buf)
    if not equal(hmac_sha256(secret, mv[:n - _MAC]), bytes(mv[n - _MAC:])):
        raise UploadError("event batch signature does not verify")
    out = []
    for k in range(count):
        i = _EHEAD + k * ENTRY
        seq, boot = struct.unpack_from("<IH", buf, i)
        r = decode_slot(bytes(mv[i + 6:i + 6 + SLOT]))
        if r is None or r is TORN:
            raise UploadError("event batch holds a record that does not decode (seq %d)" % seq)
        if seq < start or seq > last or (out and seq <= out[-1][0]):
            raise UploadError("event batch out of order (seq %d)" % seq)
        out.append((seq, boot, r[0], r[1], r[2], r[3], r[4]))
    if last < start - 1:
        raise UploadError("event batch span %d..%d" % (start, last))
    return start, last, out


def ack(secret, door_id, start, last):
    """The collector's acknowledgement of every record from seq start to last."""
    body = ACK_MAGIC + door_field(door_id) + struct.pack("<II", start, last)
    return body + hmac_sha256(secret, body)


def read_ack(buf, secret, door_id):
    """The lock's side: -> (from, last), or UploadError."""
    if len(buf) != ACK_SIZE or bytes(buf[0:4]) != ACK_MAGIC:
        raise UploadError("not a doorkit ack")
    if bytes(buf[4:20]) != door_field(door_id):
        raise UploadError("ack for another door")
    mv = memoryview(buf)
    if not equal(hmac_sha256(secret, mv[:28]), bytes(mv[28:])):
        raise UploadError("ack signature does not verify")
    return struct.unpack_from("<II", buf, 20)
