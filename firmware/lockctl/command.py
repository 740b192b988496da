# Signed remote commands: the one format the host (doorkit remote, the fleet side) builds and the lock
# checks (docs/network.md). Sans-IO: bytes, the door's secret, the last counter and the time in;
# a Command or a CommandError(reason) out.
#
#   offset size
#    0     4   magic "DKC1"
#    4    16   door id, NUL padded
#   20     4   counter u32: strictly increasing per door (the host keeps the next one in the door dir)
#   24     4   not before, Unix s UTC (0: none)
#   28     4   expiry, Unix s UTC
#   32     1   op (OP_*)
#   33     1   0
#   34     2   user u16: the key book's user index it is done for (logged with it), 0xffff: nobody
#   36     2   args length (0..ARGS_MAX)
#   38     .   args
#   end  -32   HMAC-SHA256(door secret, every byte before)
#
# Gate.check() refuses, in this order: a retained message (R_RETAINED: a retained "unlock" must never
# fire again on reconnect), a malformed one (R_CORRUPT / R_FORMAT), another door's (R_WRONG_DOOR), a
# MAC that does not verify (R_BAD_SIGNATURE), the last accepted command again (R_DUPLICATE: a QoS 1
# redelivery; the shell reports its result again and does not act), an older counter (R_REPLAY), and
# a time outside [not before, expiry] (R_NOT_YET / R_EXPIRED; R_CLOCK_UNSET while the lock has no
# wall clock, except for OP_CLOCK, which is how it gets one). The caller persists the counter, then
# calls accepted(), then acts: a command that acted once can never act again, even across a power cut.
import struct

from micropython import const

from lockctl.codes import (R_CORRUPT, R_FORMAT, R_WRONG_DOOR, R_BAD_SIGNATURE, R_DUPLICATE, R_REPLAY, R_NOT_YET,
                           R_EXPIRED, R_CLOCK_UNSET, R_RETAINED, OP_CLOCK, OP_LAST)
from lockctl.hmac256 import hmac_sha256, equal
from lockctl.bundle import door_field

MAGIC = b"DKC1"
HEAD = const(38)
MAC = const(32)
NOBODY = const(0xFFFF)
ARGS_MAX = const(1024)
_FMT = "<4s16sIIIBBHH"



class CommandError(Exception):
    """.reason: R_*; .counter, .op: the command's when it could be read (else 0); .user: its user
    (None, or when the MAC did not verify); .verified: the door's secret signed it (the refusal
    came after the MAC check)."""

    def __init__(self, reason, msg, counter=0, op=0, user=None, verified=False):
        super().__init__(msg)
        self.reason = reason
        self.counter = counter
        self.op = op
        self.user = user
        self.verified = verified


class Command:
    __slots__ = ("op", "counter", "not_before", "expiry", "user", "args", "mac")

    def __init__(self, op, counter, not_before, expiry, user, args, mac):
        self.op = op
        self.counter = counter
        self.not_before = not_before
        self.expiry = expiry
        self.user = user
        self.args = args
        self.mac = mac


def build(secret, door_id, counter, op, expiry, args=b"", user=None, not_before=0):
    """Host side: the signed command as bytes. user: a user index or None."""
    u = NOBODY if user is None else user
    a = bytes(args)
    if user is not None and not 0 <= user < NOBODY:
        raise ValueError("a command's user is a user index 0..65534")
    if len(a) > ARGS_MAX:
        raise ValueError("a command's args are at most %d bytes" % ARGS_MAX)
    if not 0 < op <= OP_LAST:
        raise ValueError("op %r" % (op,))
    if not 0 < counter <= 0xFFFFFFFF:
        raise ValueError("the counter is 1..2**32-1")
    body = struct.pack(_FMT, MAGIC, door_field(door_id), counter, not_before, expiry, op, 0, u, len(a)) + a
    return body + hmac_sha256(secret, body)


class Gate:
    """The lock's side. counter: the last accepted counter (persisted; 0 for none)."""

    def __init__(self, secret, door_id, counter=0, mac4=None):
        """counter, mac4: the last accepted command's counter and the first 4 bytes of its MAC as
        a u32 (both persisted by the caller: a redelivery after a reboot is still a duplicate)."""
        self.secret = secret
        self.door = door_field(door_id)
        self.counter = counter
        self.mac4 = mac4
        self._mac = None  # the last accepted command's MAC (a duplicate matches it)

    def check(self, buf, now, retained=False):
        """buf: the message payload; now: Unix s UTC or None (clock unset); retained: the MQTT
        retain flag. -> Command, or CommandError."""
        n = len(buf)
        if n < HEAD + MAC:
            raise CommandError(R_CORRUPT, "command shorter than its header")
        if bytes(buf[0:4]) != MAGIC:
            raise CommandError(R_FORMAT, "not a doorkit command")
        (_, door, counter, nb, exp, op, _z, user, al) = struct.unpack_from(_FMT, buf, 0)
        if al > ARGS_MAX or n != HEAD + al + MAC:
            raise CommandError(R_CORRUPT, "command length does not match its header", counter, op)
        if retained:
            raise CommandError(R_RETAINED, "a retained command is never acted on", counter, op)
        if door != self.door:
            raise CommandError(R_WRONG_DOOR, "command for another door", counter, op)
        mv = memoryview(buf)
        mac = hmac_sha256(self.secret, mv[:n - MAC])
        if not equal(mac, bytes(mv[n - MAC:])):
            raise CommandError(R_BAD_SIGNATURE, "command signature does not verify", counter, op)
        user = None if user == NOBODY else user
        if counter == self.counter and (equal(mac, self._mac) if self._mac is not None else
                                        self.mac4 is not None and mac4(mac) == self.mac4):
            raise CommandError(R_DUPLICATE, "the last command again (acted on once)", counter, op, user, True)
        if counter <= self.counter:
            raise CommandError(R_REPLAY, "counter %d is not above %d" % (counter, self.counter), counter, op, user,
                               True)
        if not 0 < op <= OP_LAST:
            raise CommandError(R_FORMAT, "command op %d" % op, counter, op, user, True)
        if now is None:
            if op != OP_CLOCK:
                raise CommandError(R_CLOCK_UNSET, "the lock's clock is unset: cannot check the expiry", counter,
                                   op, user, True)
        elif now > exp:
            raise CommandError(R_EXPIRED, "command expired", counter, op, user, True)
        elif now < nb:
            raise CommandError(R_NOT_YET, "command not valid yet", counter, op, user, True)
        return Command(op, counter, nb, exp, user, bytes(mv[HEAD:HEAD + al]), mac)

    def accepted(self, cmd):
        """The caller has persisted mac4(cmd.mac), then cmd.counter: it is the last one now."""
        self.counter = cmd.counter
        self._mac = cmd.mac
        self.mac4 = mac4(cmd.mac)


def result_mac(secret, door_id, counter, op, reason, last=0):
    """What a result carries as "mac" (hex): HMAC-SHA256(door secret, "DKR1", door id, counter u32,
    op u8, reason u8, last u32), its first 16 bytes. Only the lock (and whoever holds the door's
    secret) can make one, so a result made up on the broker is told from the lock's own."""
    return hmac_sha256(secret, b"DKR1" + door_field(door_id) + struct.pack("<IBBI", counter, op, reason, last))[:16]


def mac4(mac):
    """The first 4 bytes of a MAC as a u32 (what the lock keeps on flash of its last command)."""
    return mac[0] | mac[1] << 8 | mac[2] << 16 | mac[3] << 24
