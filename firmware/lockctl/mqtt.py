# MQTT 3.1.1 for the hub, sans-IO (docs/network.md): bytes in, events out; the caller owns the socket
# and the clock. Nothing here blocks, sleeps or allocates per byte; a session's transmit and receive
# buffers are allocated once.
#
#   s = Session(b"door-1", keepalive=60, will=(b"doors/door-1/online", b"offline", 1, True))
#   sock.write(s.connect(now))              # CONNECT; s.state CONNECTING
#   n = sock.readinto(s.space()); s.filled(n, now)
#   while (ev := s.next_event()) ...        # (CONNACK, present, rc) (PUBLISH, topic, payload, qos,
#                                           # retain, dup, pid) (PUBACK, pid) (SUBACK, pid, codes)
#   sock.write(s.publish(b"t", b"p", 1, True, now))   # s.last_pid is its packet id
#   out = s.poll(now)                       # PINGREQ when the keepalive is due (or None)
#   s.next_deadline()                       # when poll() has something to do
#
# Like h11, an error is sticky: a malformed packet, a protocol violation, a refused CONNACK or a
# silent broker (no byte for 1.5 keepalives) puts the session in DEAD with .error set; every later
# call raises MqttError until start() again on a new connection. An incoming PUBLISH larger than the
# receive buffer is not an error: its bytes are skipped and (TOO_BIG, topic, qos, pid, length)
# reported, so a huge retained message can never wedge the link in a reconnect loop.
from micropython import const

CONNECT = const(1)
CONNACK = const(2)
PUBLISH = const(3)
PUBACK = const(4)
SUBSCRIBE = const(8)
SUBACK = const(9)
UNSUBSCRIBE = const(10)
UNSUBACK = const(11)
PINGREQ = const(12)
PINGRESP = const(13)
DISCONNECT = const(14)
TOO_BIG = const(100)  # an event, not a packet type: an incoming PUBLISH the buffer could not hold

IDLE = const(0)  # no connection yet
CONNECTING = const(1)  # CONNECT sent, waiting for CONNACK
UP = const(2)
DEAD = const(3)  # an error or a disconnect: start() on a new connection

# CONNACK return codes (MQTT 3.1.1 table 3.1) and the session's own error codes
RC_NAMES = {1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
            4: "bad user name or password", 5: "not authorized"}
E_MALFORMED = const(-1)
E_PROTOCOL = const(-2)
E_TIMEOUT = const(-3)  # no CONNACK / nothing from the broker for 1.5 keepalives
E_CLOSED = const(-4)  # the caller closed it (lost the socket, or disconnect())
E_REFUSED = const(-5)  # CONNACK with a non-zero return code
E_DENIED = const(-6)  # a SUBACK refused a subscription (raised by the caller: its policy)

_MAX_REMAINING = const(268435455)
_PROTO = b"\x00\x04MQTT\x04"


class MqttError(Exception):
    """.code: E_* or, for E_REFUSED, the CONNACK return code in .rc."""

    def __init__(self, code, msg, rc=0):
        super().__init__(msg)
        self.code = code
        self.rc = rc


def _put_len(buf, i, n):
    # remaining length varint at buf[i]; -> next index
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            buf[i] = b | 0x80
            i += 1
        else:
            buf[i] = b
            return i + 1


def _len_size(n):
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4


def _put_str(buf, i, s):
    n = len(s)
    if n > 65535:
        raise ValueError("an MQTT string is at most 65535 bytes")
    buf[i] = n >> 8
    buf[i + 1] = n & 0xFF
    buf[i + 2:i + 2 + n] = s
    return i + 2 + n


def _b(s):
    return s.encode() if isinstance(s, str) else bytes(s)


class Session:
    """One MQTT client connection's state. client_id: bytes; keepalive: seconds (1..65535);
    will: (topic, payload, qos, retain) or None; tx/rx: buffer sizes (one packet each way)."""

    def __init__(self, client_id, keepalive=60, will=None, clean=True, user=None, password=None, tx=1024,
                 rx=1024):
        if not 0 < keepalive <= 65535:
            raise ValueError("keepalive is 1..65535 s")
        self.client_id = _b(client_id)
        self.keepalive_ms = keepalive * 1000
        self.will = will
        self.clean = clean
        self.user = _b(user) if user is not None else None  # (bytes: a length is of the UTF-8)
        self.password = _b(password) if password is not None else None
        self._tx = bytearray(tx)
        self._txv = memoryview(self._tx)
        self._rx = bytearray(rx)
        self._rxv = memoryview(self._rx)
        self.state = IDLE
        self.error = None
        self.session_present = False
        self.last_pid = 0
        self._pid = 0
        self._n = 0  # bytes in _rx
        self._skip = 0  # bytes still to discard of a too-big PUBLISH
        self._sent = 0  # time of the last packet sent / byte received
        self._heard = 0
        self._ping_out = False
        self.too_big = 0  # incoming PUBLISH packets skipped for size

    # -- connection ------------------------------------------------------------------------------

    def connect(self, now):
        """A new connection: reset everything and return the CONNECT packet to send."""
        self.state = CONNECTING
        self.error = None
        self._n = 0
        self._skip = 0
        self._ping_out = False
        self._heard = now
        flags = 0x02 if self.clean else 0
        will = self.will
        body = len(_PROTO) + 3 + 2 + len(self.client_id)
        if will is not None:
            wt, wp, wq, wr = will
            wt = _b(wt)
            wp = _b(wp)
            flags |= 0x04 | (wq << 3) | (0x20 if wr else 0)
            body += 4 + len(wt) + len(wp)
        if self.user is not None:
            flags |= 0x80
            body += 2 + len(self.user)
        if self.password is not None:
            flags |= 0x40
            body += 2 + len(self.password)
        b = self._start(CONNECT << 4, body)
        i = self._hdr
        b[i:i + 7] = _PROTO
        i += 7
        b[i] = flags
        ka = self.keepalive_ms // 1000
        b[i + 1] = ka >> 8
        b[i + 2] = ka & 0xFF
        i = _put_str(b, i + 3, self.client_id)
        if will is not None:
            i = _put_str(b, i, wt)
            i = _put_str(b, i, wp)
        if self.user is not None:
            i = _put_str(b, i, _b(self.user))
        if self.password is not None:
            i = _put_str(b, i, _b(self.password))
        return self._sent_at(i, now)

    def disconnect(self, now):
        """DISCONNECT (the broker then drops the will); the session is DEAD afterwards."""
        self._live()
        self._tx[0] = DISCONNECT << 4
        self._tx[1] = 0
        self._kill(E_CLOSED, "disconnected")
        return self._txv[:2]

    def closed(self):
        """The socket is gone (read 0 bytes, or an OSError): the session is DEAD."""
        if self.state != DEAD:
            self._kill(E_CLOSED, "connection closed")

    # -- sending ---------------------------------------------------------------------------------

    def publish(self, topic, payload, qos=0, retain=False, now=0, dup=False, pid=0):
        """A PUBLISH to send (a view of the session's transmit buffer: send it before the next
        call). QoS 1 takes a new packet id (last_pid) unless pid is given (a resend with dup)."""
        self._up()
        if qos not in (0, 1):
            raise ValueError("qos 0 or 1")
        body = 2 + len(topic) + len(payload) + (2 if qos else 0)
        b = self._start((PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0), body)
        i = _put_str(b, self._hdr, topic)
        if qos:
            pid = pid or self._next_pid()
            b[i] = pid >> 8
            b[i + 1] = pid & 0xFF
            i += 2
            self.last_pid = pid
        b[i:i + len(payload)] = payload
        return self._sent_at(i + len(payload), now)

    def subscribe(self, topics, now=0):
        """SUBSCRIBE to [(filter, qos)]; its packet id is last_pid (matched by a SUBACK event)."""
        self._up()
        body = 2
        for t, q in topics:
            body += 3 + len(t)
        b = self._start((SUBSCRIBE << 4) | 0x02, body)
        pid = self._next_pid()
        i = self._hdr
        b[i] = pid >> 8
        b[i + 1] = pid & 0xFF
        i += 2
        for t, q in topics:
            if q not in (0, 1):
                raise ValueError("qos 0 or 1")
            i = _put_str(b, i, t)
            b[i] = q
            i += 1
        self.last_pid = pid
        return self._sent_at(i, now)

    def puback(self, pid, now=0):
        self._up()
        b = self._tx
        b[0] = PUBACK << 4
        b[1] = 2
        b[2] = pid >> 8
        b[3] = pid & 0xFF
        return self._sent_at(4, now)

    def poll(self, now):
        """PINGREQ when the keepalive is due (a keepalive since the last packet sent or the last
        byte heard), else None; kills a session the broker left silent for 1.5 keepalives (or that
        got no CONNACK in one keepalive) and raises MqttError."""
        self._live()
        if self.state == CONNECTING:
            if now - self._heard >= self.keepalive_ms:
                self._die(E_TIMEOUT, "no CONNACK from the broker")
            return None
        if self.state != UP:
            return None
        if now - self._heard >= self.keepalive_ms * 3 // 2:
            self._die(E_TIMEOUT, "the broker has been silent for 1.5 keepalives")
        if not self._ping_out and now - min(self._sent, self._heard) >= self.keepalive_ms:
            self._ping_out = True
            self._tx[0] = PINGREQ << 4
            self._tx[1] = 0
            self._sent = now
            return self._txv[:2]
        return None

    def next_deadline(self):
        """The time poll() next has something to do (None when not connected)."""
        if self.state == CONNECTING:
            return self._heard + self.keepalive_ms
        if self.state != UP:
            return None
        dead = self._heard + self.keepalive_ms * 3 // 2
        if self._ping_out:
            return dead
        ping = min(self._sent, self._heard) + self.keepalive_ms
        return ping if ping < dead else dead

    # -- receiving -------------------------------------------------------------------------------

    def space(self):
        """Where to read the next bytes into (socket.readinto); then filled(n, now)."""
        self._live()
        if self._skip:
            return self._rxv[:min(self._skip, len(self._rx))]
        return self._rxv[self._n:]

    def filled(self, n, now):
        self._live()
        if n <= 0:
            return
        self._heard = now
        if self._skip:
            self._skip -= n
        else:
            self._n += n

    def receive(self, data, now):
        """Hand over bytes read elsewhere (copied in; at most len(space()) at a time: -> how many
        were taken)."""
        sp = self.space()
        k = min(len(sp), len(data))
        sp[:k] = data[:k]
        self.filled(k, now)
        return k

    def next_event(self):
        """The next complete packet as an event tuple, or None when more bytes are needed."""
        self._live()
        if self._skip:
            return None
        n = self._n
        if n < 2:
            return None
        b = self._rx
        # remaining length
        rem = 0
        mult = 1
        i = 1
        while True:
            if i >= n:
                return None
            c = b[i]
            rem += (c & 0x7F) * mult
            i += 1
            if not c & 0x80:
                break
            mult <<= 7
            if i > 4:
                return self._die(E_MALFORMED, "remaining length longer than 4 bytes")
        kind = b[0] >> 4
        flags = b[0] & 0x0F
        total = i + rem
        if total > len(b):
            if kind != PUBLISH:
                return self._die(E_MALFORMED, "a %d-byte packet of type %d" % (total, kind))
            return self._too_big(i, rem, flags)
        if n < total:
            return None
        ev = self._decode(kind, flags, i, rem)
        # drop the packet from the buffer
        b[0:n - total] = b[total:n]
        self._n = n - total
        return ev

    def _too_big(self, i, rem, flags):
        # the topic (and the packet id) must be in the buffer before the rest is skipped
        n = self._n
        b = self._rx
        qos = (flags >> 1) & 3
        if n < i + 2:
            return None
        tl = (b[i] << 8) | b[i + 1]
        need = i + 2 + tl + (2 if qos else 0)
        if need > len(b):
            return self._die(E_MALFORMED, "a PUBLISH topic longer than the receive buffer")
        if n < need:
            return None
        topic = bytes(b[i + 2:i + 2 + tl])
        pid = (b[need - 2] << 8) | b[need - 1] if qos else 0
        left = i + rem - n  # still to come after what is buffered
        self._n = 0
        self._skip = left
        self.too_big += 1
        return (TOO_BIG, topic, qos, pid, rem)

    def _decode(self, kind, flags, i, rem):
        b = self._rx
        end = i + rem
        st = self.state
        if kind == CONNACK:
            if st != CONNECTING or rem != 2 or flags:
                return self._die(E_PROTOCOL, "unexpected CONNACK")
            present = bool(b[i] & 1)
            rc = b[i + 1]
            if rc:
                self._die(E_REFUSED, "broker refused the connection: %s" % RC_NAMES.get(rc, "code %d" % rc), rc)
            self.state = UP
            self.session_present = present
            return (CONNACK, present, rc)
        if st != UP:
            return self._die(E_PROTOCOL, "packet type %d before CONNACK" % kind)
        if kind == PUBLISH:
            qos = (flags >> 1) & 3
            if qos > 1:
                return self._die(E_PROTOCOL, "QoS %d PUBLISH (subscribed at QoS 0/1 only)" % qos)
            if rem < 2:
                return self._die(E_MALFORMED, "PUBLISH without a topic")
            tl = (b[i] << 8) | b[i + 1]
            j = i + 2 + tl
            if j + (2 if qos else 0) > end:
                return self._die(E_MALFORMED, "PUBLISH topic past its end")
            topic = bytes(b[i + 2:j])
            pid = 0
            if qos:
                pid = (b[j] << 8) | b[j + 1]
                j += 2
                if not pid:
                    return self._die(E_MALFORMED, "QoS 1 PUBLISH with packet id 0")
            return (PUBLISH, topic, bytes(b[j:end]), qos, bool(flags & 1), bool(flags & 8), pid)
        if kind == PUBACK or kind == UNSUBACK:
            if rem != 2 or flags:
                return self._die(E_MALFORMED, "bad %s" % ("PUBACK" if kind == PUBACK else "UNSUBACK"))
            return (kind, (b[i] << 8) | b[i + 1])
        if kind == SUBACK:
            if rem < 3 or flags:
                return self._die(E_MALFORMED, "bad SUBACK")
            return (SUBACK, (b[i] << 8) | b[i + 1], bytes(b[i + 2:end]))
        if kind == PINGRESP:
            if rem or flags:
                return self._die(E_MALFORMED, "bad PINGRESP")
            self._ping_out = False
            return (PINGRESP,)
        return self._die(E_PROTOCOL, "packet type %d from the broker" % kind)

    # -- internals -------------------------------------------------------------------------------

    def _start(self, first, body):
        if body > _MAX_REMAINING:
            raise ValueError("packet too large for MQTT")
        hdr = 1 + _len_size(body)
        if hdr + body > len(self._tx):
            raise ValueError("packet of %d bytes exceeds the %d-byte transmit buffer" % (hdr + body, len(self._tx)))
        b = self._tx
        b[0] = first
        self._hdr = _put_len(b, 1, body)
        return b

    def _sent_at(self, n, now):
        self._sent = now
        return self._txv[:n]

    def _next_pid(self):
        p = self._pid % 65535 + 1
        self._pid = p
        return p

    def _live(self):
        if self.state == DEAD:
            raise self.error

    def _up(self):
        self._live()
        if self.state != UP:
            raise MqttError(E_PROTOCOL, "not connected")

    def _kill(self, code, msg, rc=0):
        self.state = DEAD
        self.error = MqttError(code, msg, rc)

    def _die(self, code, msg, rc=0):
        self._kill(code, msg, rc)
        raise self.error
