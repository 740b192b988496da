# PN532 NFC controller (NXP) over HSU (UART), I2C or SPI, in three layers (design: docs/pn532.md):
#
#   frames  frame(), frame_begin() / frame_end() build normal and extended information frames into a
#           caller's buffer; ACK and NACK are constants.
#   parser  FrameParser: incremental receive parser. Bytes go in as they arrive (feed), events come
#           out (next): EV_ACK, EV_NACK, EV_FRAME, EV_APP_ERROR or a negative ERR_* (bad LCS, bad DCS,
#           bad length, truncated). It never raises on bad bytes: after an error it rescans from the
#           byte after the failed start code, so a frame hidden in noise or in a broken frame is found.
#   engine  PN532: one command at a time, never blocking. start_*(now_ms, ...) sends a command, then
#           poll(now_ms) does bounded work (reads what is there, never waits) and returns BUSY, DONE
#           or a negative E_* code. Each stage has a deadline: a silent reader yields E_NO_ACK.
#           HsuLink / I2cLink / SpiLink wrap the injected bus (and the SPI chip-select pin).
#
# Nothing is allocated per poll once warmed up: preallocated bytearrays, memoryviews cached per
# length. Times are compared modulo 2**30, so time.ticks_ms() can be passed directly.
from micropython import const

from drivers.ticks import ticks_diff as _since, ticks_add

# results of start_*() and poll()
BUSY = const(0)
DONE = const(1)
E_NO_ACK = const(-1)  # no ACK within ack_ms: silent, unplugged, asleep or reset (SAMConfiguration again)
E_TIMEOUT = const(-2)  # ACKed but no response in time; the command was aborted with an ACK
E_CHECKSUM = const(-3)  # the response stayed broken through every NACK (resend request)
E_APP = const(-4)  # the PN532 answered with its application error frame (our command's syntax)
E_PROTO = const(-5)  # a response that does not parse
E_STATUS = const(-6)  # the response's status byte reports an error: see .status
E_ORDER = const(-7)  # SAMConfiguration first: after construction, E_NO_ACK and power-up (LowVbat)
E_INUSE = const(-8)  # a command is still running
E_ABORTED = const(-9)  # abort() was called

# FrameParser.next() events (0: nothing more yet)
EV_ACK = const(1)
EV_NACK = const(2)
EV_FRAME = const(3)  # payload (TFI + data) at buf[off:off + len]
EV_APP_ERROR = const(4)  # LEN 01, TFI 7F
ERR_LCS = const(-1)
ERR_DCS = const(-2)
ERR_LEN = const(-3)  # LEN 0, or larger than the buffer can hold
ERR_TRUNC = const(-4)  # truncate() called in the middle of a frame

TFI_HOST = const(0xD4)
TFI_CHIP = const(0xD5)

CMD_GET_FIRMWARE_VERSION = const(0x02)
CMD_SET_PARAMETERS = const(0x12)
CMD_SAM_CONFIGURATION = const(0x14)
CMD_POWER_DOWN = const(0x16)
CMD_RF_CONFIGURATION = const(0x32)
CMD_IN_DATA_EXCHANGE = const(0x40)
CMD_IN_LIST_PASSIVE_TARGET = const(0x4A)
CMD_IN_RELEASE = const(0x52)

KIND_NONE = const(0)
KIND_A = const(1)  # ISO14443A 106 kbps
KIND_FELICA = const(2)

ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
_WAKE = b"\x55\x55\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # HSU wake: 55 55 + 14 x 00

MAX_DATA = const(262)  # InDataExchange data bytes in one frame (the PN532's buffer)
_TX_CAP = const(276)  # extended header 8 + TFI + code + Tg + MAX_DATA + DCS + postamble, rounded up
_RX_CAP = const(336)  # parser: extended header 5 + TFI, code, status, MAX_DATA, DCS = 271, + slack
_DATA_CAP = const(268)  # response bytes after the response code

_SCAN = const(0)  # parser: looking for 00 FF
_HDR = const(1)  # parser: start code seen, header not complete
_BODY = const(2)  # parser: header valid, waiting for TFI..DCS

_IDLE = const(0)  # engine stages
_SEND = const(1)  # the bus refused the write (I2C address NACK): retry
_WAIT_ACK = const(2)
_WAIT_RESP = const(3)

_GAP_MS = const(15)  # HSU: a frame with no new byte for this long was truncated
_RETRIES = const(3)  # NACKs (resend requests) per command
_ACK_LEN = const(6)


def _view(cache, buf, n):
    # memoryview of buf[:n], made once per length (slicing a memoryview allocates in MicroPython)
    v = cache.get(n)
    if v is None:
        v = memoryview(buf)[:n]
        cache[n] = v
    return v


# --- frames ----------------------------------------------------------------------------------------

def frame_begin(buf, tfi, n):
    # header for a frame of TFI + n bytes; returns the index where those n bytes go
    ln = n + 1
    buf[0] = 0
    buf[1] = 0
    buf[2] = 0xFF
    if ln <= 255:
        buf[3] = ln
        buf[4] = (256 - ln) & 0xFF
        buf[5] = tfi
        return 6
    hi = ln >> 8
    lo = ln & 0xFF
    buf[3] = 0xFF
    buf[4] = 0xFF
    buf[5] = hi
    buf[6] = lo
    buf[7] = (512 - hi - lo) & 0xFF
    buf[8] = tfi
    return 9


def frame_end(buf, p, n):
    # DCS and postamble after the n bytes at buf[p:]; returns the frame's total length
    s = buf[p - 1]  # TFI
    e = p + n
    i = p
    while i < e:
        s += buf[i]
        i += 1
    buf[e] = (256 - (s & 0xFF)) & 0xFF
    buf[e + 1] = 0
    return e + 2


def frame(buf, tfi, data, n=-1):
    # the whole frame for TFI + data[:n] into buf; returns its length
    if n < 0:
        n = len(data)
    p = frame_begin(buf, tfi, n)
    i = 0
    while i < n:
        buf[p + i] = data[i]
        i += 1
    return frame_end(buf, p, n)


# --- receive parser --------------------------------------------------------------------------------

class FrameParser:
    # Parse rule: skip 00s up to 00 FF; then 00 FF = ACK, FF 00 = NACK, FF FF = extended
    # (LENM LENL LCS), else LEN LCS; then TFI + data + DCS. Bytes since the start code stay in buf
    # until the frame completes, so an error rescans them from the byte after that start code.
    def __init__(self, cap=_RX_CAP):
        self.buf = bytearray(cap)
        self.cap = cap
        self.limit = cap - 6  # largest LEN accepted: a frame must fit once compacted
        self.off = 0  # EV_FRAME: payload (TFI first) at buf[off:off + len], valid until the next feed
        self.len = 0
        self.noise = 0  # bytes skipped outside frames (each counted once, not again on a rescan)
        self.errors = 0
        self.base = 0  # stream position of buf[0], modulo 2**30
        self.pos = 0  # stream position of the last EV_FRAME's TFI (tests locate frames with it)
        self.reset()

    def reset(self):
        self.n = 0  # bytes held
        self.r = 0  # scan position
        self.s = 0  # first byte after the start code of the frame being parsed
        self.p = 0  # first payload byte (TFI)
        self.ln = 0  # LEN
        self.z = 0  # last scanned byte was 00
        self.hw = 0  # bytes before this index have been looked at already
        self.st = _SCAN

    def busy(self):
        # True in the middle of a frame
        return self.st != _SCAN

    def space(self):
        # drop what is no longer needed; return how many bytes feed() can take now
        keep = self.r if self.st == _SCAN else self.s
        if keep:
            buf = self.buf
            n = self.n
            i = keep
            j = 0
            while i < n:
                buf[j] = buf[i]
                i += 1
                j += 1
            self.n = n - keep
            self.r -= keep
            self.s -= keep
            self.p -= keep
            self.hw = self.hw - keep if self.hw > keep else 0
            self.base = ticks_add(self.base, keep)
        return self.cap - self.n

    def feed(self, src, start, end):
        # copy src[start:end] in (as much as fits); returns the number of bytes taken
        room = self.space()
        if end - start > room:
            end = start + room
        buf = self.buf
        n = self.n
        i = start
        while i < end:
            buf[n] = src[i]
            n += 1
            i += 1
        self.n = n
        return end - start

    def _fail(self, err, seen):
        if seen > self.hw:
            self.hw = seen
        self.r = self.s
        self.st = _SCAN
        self.z = 0
        self.errors += 1
        return err

    def truncate(self):
        # the stream stopped in the middle of a frame: report it and rescan its bytes
        if self.st == _SCAN:
            return 0
        return self._fail(ERR_TRUNC, self.n)

    def next(self):
        # the next event from the bytes held, or 0 when more bytes are needed
        buf = self.buf
        while True:
            n = self.n
            st = self.st
            if st == _SCAN:
                r = self.r
                z = self.z
                hw = self.hw
                found = False
                while r < n:
                    b = buf[r]
                    r += 1
                    if b == 0:
                        z = 1
                    elif b == 0xFF and z:
                        found = True
                        break
                    else:
                        z = 0
                        if r > hw:
                            self.noise += 1
                self.r = r
                if r > hw:
                    self.hw = r
                if not found:
                    self.z = z
                    return 0
                self.s = r
                self.z = 0
                self.st = _HDR
                continue
            s = self.s
            if st == _HDR:
                if n - s < 2:
                    return 0
                b1 = buf[s]
                b2 = buf[s + 1]
                if b1 == 0 and b2 == 0xFF:
                    self._done(s + 2)
                    return EV_ACK
                if b1 == 0xFF and b2 == 0:
                    self._done(s + 2)
                    return EV_NACK
                if b1 == 0xFF and b2 == 0xFF:
                    if n - s < 5:
                        return 0
                    if (buf[s + 2] + buf[s + 3] + buf[s + 4]) & 0xFF:
                        return self._fail(ERR_LCS, s + 5)
                    ln = (buf[s + 2] << 8) | buf[s + 3]
                    p = s + 5
                else:
                    if (b1 + b2) & 0xFF:
                        return self._fail(ERR_LCS, s + 2)
                    ln = b1
                    p = s + 2
                if ln == 0 or ln > self.limit:
                    return self._fail(ERR_LEN, p)
                self.p = p
                self.ln = ln
                self.st = _BODY
                continue
            p = self.p
            e = p + self.ln + 1
            if n < e:
                return 0
            sm = 0
            i = p
            while i < e:
                sm += buf[i]
                i += 1
            if sm & 0xFF:
                return self._fail(ERR_DCS, e)
            self.off = p
            self.len = self.ln
            self.pos = ticks_add(self.base, p)
            self._done(e)
            if self.ln == 1 and buf[p] == 0x7F:
                return EV_APP_ERROR
            return EV_FRAME

    def _done(self, e):
        self.r = e
        self.st = _SCAN
        self.z = 0


# --- links: the injected bus -----------------------------------------------------------------------
# wake(): what wakes the chip before a command; send(buf) -> False when the bus refused the write;
# recv(parser, size) -> bytes fed (bounded work, never waits); stream: bytes trickle in (HSU) rather
# than one read per frame (I2C, SPI: `size` bytes are read once the chip says it is ready).

class HsuLink:
    stream = True
    wake_bit = 0x10  # PowerDown WakeUpEnable bit for this interface

    def __init__(self, uart, chunk=64):
        self.uart = uart  # write(buf), any(), readinto(buf, nbytes)
        self.chunk = bytearray(chunk)

    def wake(self):
        self.uart.write(_WAKE)

    def send(self, buf):
        self.uart.write(buf)
        return True

    def drain(self):
        # discard what is waiting (a stale frame), at most 8 chunks
        c = self.chunk
        k = 8
        while k:
            a = self.uart.any()
            if not a:
                return
            if a > len(c):
                a = len(c)
            self.uart.readinto(c, a)
            k -= 1

    def recv(self, parser, size):
        a = self.uart.any()
        if not a:
            return 0
        room = parser.space()
        if a > room:
            a = room
        c = self.chunk
        if a > len(c):
            a = len(c)
        if a <= 0:
            return 0
        got = self.uart.readinto(c, a)
        if not got:
            return 0
        return parser.feed(c, 0, got)


class I2cLink:
    stream = False
    wake_bit = 0x80

    def __init__(self, i2c, addr=0x24):
        self.i2c = i2c  # writeto(addr, buf), readfrom_into(addr, buf); OSError while the chip is busy
        self.addr = addr
        self.buf = bytearray(1 + _RX_CAP)
        self._views = {}

    def wake(self):
        pass

    def drain(self):
        pass

    def send(self, buf):
        try:
            self.i2c.writeto(self.addr, buf)
        except OSError:  # the chip NACKs its address while busy or waking up
            return False
        return True

    def recv(self, parser, size):
        # every read starts with the status byte (bit 0: ready); the frame follows in the same read
        buf = self.buf
        if size > len(buf) - 1:
            size = len(buf) - 1
        try:
            self.i2c.readfrom_into(self.addr, _view(self._views, buf, 1))
            if not buf[0] & 1:
                return 0
            self.i2c.readfrom_into(self.addr, _view(self._views, buf, size + 1))
        except OSError:
            return 0
        if not buf[0] & 1:
            return 0
        return parser.feed(buf, 1, size + 1)


class SpiLink:
    # mode 0, LSB first; MicroPython's SPI is MSB first, so bytes are bit-reversed here (256-byte
    # table). reverse=False for a bus already set to LSB first. Prefixes 01 write, 02 status, 03 read.
    stream = False
    wake_bit = 0x20

    def __init__(self, spi, cs, reverse=True):
        self.spi = spi  # write(buf), readinto(buf)
        self.cs = cs  # chip select pin: value(0/1)
        cs.value(1)
        t = bytearray(256)
        i = 0
        while i < 256:
            v = i
            if reverse:
                v = 0
                x = i
                k = 0
                while k < 8:
                    v = (v << 1) | (x & 1)
                    x >>= 1
                    k += 1
            t[i] = v
            i += 1
        self.rev = t
        self.buf = bytearray(1 + _RX_CAP)
        self.one = bytearray(1)
        self._views = {}

    def wake(self):
        pass

    def drain(self):
        pass

    def send(self, src):
        n = len(src)
        buf = self.buf
        rev = self.rev
        buf[0] = rev[0x01]
        i = 0
        while i < n:
            buf[i + 1] = rev[src[i]]
            i += 1
        self.cs.value(0)
        try:
            self.spi.write(_view(self._views, buf, n + 1))
        finally:
            self.cs.value(1)
        return True

    def recv(self, parser, size):
        rev = self.rev
        one = self.one
        buf = self.buf
        if size > len(buf):
            size = len(buf)
        self.cs.value(0)
        try:
            one[0] = rev[0x02]
            self.spi.write(one)
            self.spi.readinto(one)
        finally:
            self.cs.value(1)
        if not rev[one[0]] & 1:
            return 0
        self.cs.value(0)
        try:
            one[0] = rev[0x03]
            self.spi.write(one)
            self.spi.readinto(_view(self._views, buf, size))
        finally:
            self.cs.value(1)
        i = 0
        while i < size:
            buf[i] = rev[buf[i]]
            i += 1
        return parser.feed(buf, 0, size)


# --- command engine --------------------------------------------------------------------------------

class PN532:
    def __init__(self, link, ack_ms=30):
        self.link = link
        self.ack_ms = ack_ms
        self.parser = FrameParser(_RX_CAP)
        self.tx = bytearray(_TX_CAP)
        self.rx = bytearray(_DATA_CAP)  # the last response after its code (InDataExchange: status first)
        self.rx_len = 0
        self.result = DONE  # what poll() returns while idle
        self.configured = False  # SAMConfiguration done (LowVbat left)
        self.awake = False  # HSU: False -> the wake preamble goes before the next command
        self.stray = 0  # well-formed frames that did not answer the running command
        self.nacks = 0  # resend requests sent
        self.status = 0  # error bits (5..0) of the last status byte
        self.more = False  # InDataExchange: the target has more data (status bit 6)
        self.ic = self.ver = self.rev = self.support = 0  # GetFirmwareVersion
        self.nbtg = 0  # InListPassiveTarget: targets found; the first one is described below
        self.kind = KIND_NONE
        self.tg = 0
        self.sens_res = 0
        self.sak = 0
        self.uid = bytearray(10)
        self.uid_len = 0
        self.ats_off = 0  # ATS (TL first) at rx[ats_off:ats_off + ats_len], until the next command
        self.ats_len = 0
        self.idm = bytearray(8)
        self.pmm = bytearray(8)
        self.sys_code = -1  # FeliCa system code when requested (RC 01), else -1
        self._st = _IDLE
        self._cmd = 0
        self._p0 = 0
        self._t0 = 0
        self._t_rx = 0
        self._resp_ms = 0
        self._expect = 0
        self._retries = 0
        self._big = False
        self._noise = 0
        self._brty = 0
        self._rc = 0
        self._txv = None
        self._views = {}

    @property
    def busy(self):
        return self._st != _IDLE

    def next_deadline(self):
        """While a command runs: the tick at which poll() acts with no new byte from the chip (the
        ACK or response time-out, or the end of a quiet gap that truncates a frame); a tick already
        past means poll again at once (an I2C write the bus refused). None while idle. New bytes
        can arrive at any moment: poll often while busy."""
        st = self._st
        if st == _IDLE:
            return None
        if st == _SEND:
            return self._t0
        d = ticks_add(self._t0, self.ack_ms if st == _WAIT_ACK else self._resp_ms)
        if self.parser.busy() or self.parser.noise != self._noise:
            g = ticks_add(self._t_rx, _GAP_MS)
            if _since(g, d) < 0:
                d = g
        return d

    # -- commands: each returns BUSY (sent; poll until it is not BUSY) or E_INUSE / E_ORDER --

    def start_sam_configuration(self, now, mode=1, timeout=0x14, irq=1, timeout_ms=100):
        i = self._begin(CMD_SAM_CONFIGURATION, 3)
        if i < 0:
            return i
        t = self.tx
        t[i] = mode
        t[i + 1] = timeout
        t[i + 2] = irq
        return self._go(now, 3, timeout_ms, 4)

    def start_firmware_version(self, now, timeout_ms=100):
        i = self._begin(CMD_GET_FIRMWARE_VERSION, 0)
        if i < 0:
            return i
        return self._go(now, 0, timeout_ms, 8)

    def start_max_retries(self, now, passive=1, atr=0xFF, psl=0x01, timeout_ms=100):
        # RFConfiguration item 05. passive 0xFF waits for a card forever; finite -> NbTg 0 answers
        i = self._begin(CMD_RF_CONFIGURATION, 4)
        if i < 0:
            return i
        t = self.tx
        t[i] = 0x05
        t[i + 1] = atr
        t[i + 2] = psl
        t[i + 3] = passive
        return self._go(now, 4, timeout_ms, 4)

    def start_set_parameters(self, now, flags, timeout_ms=100):
        i = self._begin(CMD_SET_PARAMETERS, 1)
        if i < 0:
            return i
        self.tx[i] = flags
        return self._go(now, 1, timeout_ms, 4)

    def start_list_a(self, now, max_tg=1, timeout_ms=300):
        # InListPassiveTarget 106 kbps type A
        i = self._begin(CMD_IN_LIST_PASSIVE_TARGET, 2)
        if i < 0:
            return i
        t = self.tx
        t[i] = max_tg
        t[i + 1] = 0x00
        self._brty = 0
        return self._go(now, 2, timeout_ms, 72)

    def start_list_felica(self, now, system_code=0xFFFF, request=1, kbps424=False, timeout_ms=300):
        # InListPassiveTarget FeliCa 212/424 with the polling payload 00 SC_hi SC_lo RC TSN(00)
        i = self._begin(CMD_IN_LIST_PASSIVE_TARGET, 7)
        if i < 0:
            return i
        t = self.tx
        t[i] = 1
        t[i + 1] = 0x02 if kbps424 else 0x01
        t[i + 2] = 0x00
        t[i + 3] = (system_code >> 8) & 0xFF
        t[i + 4] = system_code & 0xFF
        t[i + 5] = request
        t[i + 6] = 0x00
        self._brty = t[i + 1]
        self._rc = request
        return self._go(now, 7, timeout_ms, 48)

    def start_exchange(self, now, tg, data, n=-1, more=False, timeout_ms=500):
        # InDataExchange: data[:n] to target tg; more=True sets the MI bit (more to send after this)
        if n < 0:
            n = len(data)
        if n > MAX_DATA:
            raise ValueError("data")
        i = self._begin(CMD_IN_DATA_EXCHANGE, n + 1)
        if i < 0:
            return i
        t = self.tx
        t[i] = (tg | 0x40) if more else tg
        i += 1
        k = 0
        while k < n:
            t[i + k] = data[k]
            k += 1
        return self._go(now, n + 1, timeout_ms, MAX_DATA + 1)

    def start_release(self, now, tg=0, timeout_ms=100):
        i = self._begin(CMD_IN_RELEASE, 1)
        if i < 0:
            return i
        self.tx[i] = tg
        return self._go(now, 1, timeout_ms, 4)

    def start_power_down(self, now, wake_enable=-1, timeout_ms=100):
        # wake_enable defaults to this link's interface bit; the next HSU command wakes it first
        i = self._begin(CMD_POWER_DOWN, 1)
        if i < 0:
            return i
        self.tx[i] = self.link.wake_bit if wake_enable < 0 else wake_enable
        return self._go(now, 1, timeout_ms, 4)

    def start_command(self, now, cmd, params, n=-1, timeout_ms=100, expect=MAX_DATA + 1):
        # any other command; the response after its code lands in rx[:rx_len]
        if n < 0:
            n = len(params)
        if n > MAX_DATA + 1:
            raise ValueError("params")
        i = self._begin(cmd, n)
        if i < 0:
            return i
        t = self.tx
        k = 0
        while k < n:
            t[i + k] = params[k]
            k += 1
        return self._go(now, n, timeout_ms, expect)

    def abort(self):
        # stop the running command (an ACK from the host aborts it in the PN532)
        if self._st != _IDLE:
            self.link.send(ACK)
            self._finish(E_ABORTED)

    # -- results (these allocate; the fields above do not) --

    def uid_bytes(self):
        return bytes(self.uid[:self.uid_len])

    def ats_bytes(self):
        return bytes(self.rx[self.ats_off:self.ats_off + self.ats_len])

    def data_bytes(self):
        # InDataExchange: the data after the status byte
        return bytes(self.rx[1:self.rx_len])

    # -- the state machine --

    def poll(self, now):
        st = self._st
        if st == _IDLE:
            return self.result
        if st == _SEND:
            if self.link.send(self._txv):
                self._st = _WAIT_ACK
            elif _since(now, self._t0) >= self.ack_ms:
                return self._no_ack()
            return BUSY
        link = self.link
        p = self.parser
        if st == _WAIT_ACK and not self._big:
            size = _ACK_LEN
        else:
            size = self._expect + 12 if not self._big else _RX_CAP
        r = BUSY
        if link.recv(p, size):
            self._t_rx = now
            r = self._drain(now)
            if r == BUSY and not link.stream:
                r = self._flush(now)  # one read holds one whole frame: what is left is truncated
                if r == BUSY and p.noise != self._noise:
                    r = self._event(ERR_TRUNC, now)  # bytes but no frame: its start code was lost
        elif _since(now, self._t_rx) >= _GAP_MS:  # HSU: the line has been quiet
            if p.busy():
                r = self._flush(now)
            elif p.noise != self._noise:
                r = self._event(ERR_TRUNC, now)
        if r != BUSY:
            return r
        limit = self.ack_ms if self._st == _WAIT_ACK else self._resp_ms
        if _since(now, self._t0) >= limit:
            if self._st == _WAIT_ACK:
                return self._no_ack()
            link.send(ACK)  # abort the command in the PN532
            return self._finish(E_TIMEOUT)
        return BUSY

    def _begin(self, cmd, n):
        if self._st != _IDLE:
            return E_INUSE
        if not self.configured and cmd != CMD_SAM_CONFIGURATION:
            return E_ORDER
        i = frame_begin(self.tx, TFI_HOST, n + 1)
        self.tx[i] = cmd
        self._p0 = i
        self._cmd = cmd
        return i + 1

    def _go(self, now, n, resp_ms, expect):
        end = frame_end(self.tx, self._p0, n + 1)
        self._txv = _view(self._views, self.tx, end)
        self.parser.reset()
        self._noise = self.parser.noise
        link = self.link
        link.drain()
        self._resp_ms = resp_ms
        self._expect = expect
        self._retries = 0
        self._big = False
        self._t0 = now
        self._t_rx = now
        self.result = BUSY
        self.rx_len = 0
        if not self.awake:
            link.wake()
        self._st = _WAIT_ACK if link.send(self._txv) else _SEND
        return BUSY

    def _finish(self, code):
        self._st = _IDLE
        self.result = code
        if code != DONE and self._cmd == CMD_POWER_DOWN:
            self.awake = False  # its answer was lost, but the chip may well be asleep: wake it first
        return code

    def _no_ack(self):
        self.link.send(ACK)
        self.awake = False
        self.configured = False
        return self._finish(E_NO_ACK)

    def _drain(self, now):
        p = self.parser
        while True:
            ev = p.next()
            if ev == 0:
                return BUSY
            r = self._event(ev, now)
            if r != BUSY:
                return r

    def _flush(self, now):
        p = self.parser
        while p.busy():
            r = self._event(p.truncate(), now)
            if r != BUSY:
                return r
            r = self._drain(now)
            if r != BUSY:
                return r
        return BUSY

    def _event(self, ev, now):
        self._noise = self.parser.noise  # noise after this point, and no frame, means a lost frame
        if ev == EV_ACK:
            if self._st == _WAIT_ACK:
                self._st = _WAIT_RESP
                self._t0 = now
                self.awake = True
            return BUSY
        if ev == EV_NACK:  # the chip asks for our frame again (only meaningful before its ACK)
            if self._st == _WAIT_ACK and self._retries < _RETRIES:
                self._retries += 1
                self.link.send(self._txv)
            return BUSY
        if ev < 0:  # broken frame: ask the PN532 to send its last frame again
            if not self.link.stream:
                self._big = True
            return self._resend(now, E_CHECKSUM)
        if ev == EV_APP_ERROR:
            return self._finish(E_APP)
        p = self.parser
        buf = p.buf
        off = p.off
        ln = p.len
        if ln < 2 or buf[off] != TFI_CHIP or buf[off + 1] != self._cmd + 1:
            self.stray += 1
            return BUSY
        n = ln - 2
        if n > _DATA_CAP:
            return self._finish(E_PROTO)
        rx = self.rx
        i = 0
        off += 2
        while i < n:
            rx[i] = buf[off + i]
            i += 1
        self.rx_len = n
        self.awake = True
        r = self._decode()
        if r == E_PROTO:
            # it passed both checksums yet does not parse: damaged in a way the checksums cannot
            # see (a lost 00 before a 00 postamble), so ask for it again like a broken frame
            return self._resend(now, E_PROTO)
        return self._finish(r)

    def _resend(self, now, give_up):
        """NACK: the PN532 sends its last frame again; after _RETRIES, finish with give_up."""
        if self._retries >= _RETRIES:
            return self._finish(give_up)
        self._retries += 1
        self.nacks += 1
        self.link.send(NACK)
        self._t0 = now
        return BUSY

    def _decode(self):
        c = self._cmd
        d = self.rx
        n = self.rx_len
        if c == CMD_GET_FIRMWARE_VERSION:
            if n < 4:
                return E_PROTO
            self.ic = d[0]
            self.ver = d[1]
            self.rev = d[2]
            self.support = d[3]
            return DONE
        if c == CMD_SAM_CONFIGURATION:
            self.configured = True
            return DONE
        if c == CMD_IN_LIST_PASSIVE_TARGET:
            return self._decode_list(d, n)
        if c == CMD_IN_DATA_EXCHANGE or c == CMD_IN_RELEASE or c == CMD_POWER_DOWN:
            if n < 1:
                return E_PROTO
            s = d[0]
            self.status = s & 0x3F
            self.more = c == CMD_IN_DATA_EXCHANGE and (s & 0x40) != 0
            if self.status:
                return E_STATUS
            if c == CMD_POWER_DOWN:
                self.awake = False
            return DONE
        return DONE

    def _decode_list(self, d, n):
        self.kind = KIND_NONE
        self.uid_len = 0
        self.ats_len = 0
        self.sys_code = -1
        if n < 1:
            self.nbtg = 0
            return E_PROTO
        self.nbtg = d[0]
        if self.nbtg == 0:
            return DONE
        if self._brty == 0:
            # Tg SENS_RES(2) SEL_RES NFCIDLength NFCID [ATS]
            if n < 6:
                return E_PROTO
            ul = d[5]
            if (ul != 4 and ul != 7 and ul != 10) or 6 + ul > n:
                return E_PROTO
            self.tg = d[1]
            self.sens_res = (d[2] << 8) | d[3]
            self.sak = d[4]
            i = 0
            while i < ul:
                self.uid[i] = d[6 + i]
                i += 1
            self.uid_len = ul
            i = 6 + ul
            self.ats_off = i
            if self.sak & 0x20 and i < n:
                tl = d[i]  # TL counts itself
                if tl < 1 or i + tl > n:
                    self.uid_len = 0
                    return E_PROTO
                self.ats_len = tl
            # one target must account for every byte: a frame that lost a 00 before a 00
            # postamble still passes both checksums, but then it is one byte off here
            if self.nbtg == 1 and i + self.ats_len != n:
                self.uid_len = 0
                self.ats_len = 0
                return E_PROTO
            self.kind = KIND_A
            return DONE
        # Tg POL_RES-length(0x12 / 0x14, counting itself) 01 IDm(8) PMm(8) [system code(2)]
        if n < 3:
            return E_PROTO
        pl = d[2]
        if (pl != 0x12 and pl != 0x14) or 2 + pl > n or d[3] != 0x01:
            return E_PROTO
        if self.nbtg == 1 and 2 + pl != n:
            return E_PROTO  # one target must account for every byte (see type A)
        self.tg = d[1]
        i = 0
        while i < 8:
            self.idm[i] = d[4 + i]
            self.pmm[i] = d[12 + i]
            i += 1
        if pl == 0x14 and self._rc == 1:
            self.sys_code = (d[20] << 8) | d[21]
        self.kind = KIND_FELICA
        return DONE
