# Byte-level stand-ins for a PN532 on a UART, an I2C bus and an SPI bus, in the MicroPython subset
# (the CPython emulator in sim/pn532.py cannot run there). FakeChip is scripted: it ACKs every
# command frame and answers with replies[cmd], bytes written by hand or by chip_frame() below, a
# frame builder of its own (not the driver's). Nothing here allocates once set up with record=False.

ACK = b"\x00\x00\xff\x00\xff\x00"


def chip_frame(code, data=b"", tfi=0xD5):
    # a PN532 -> host information frame (normal, or extended past 254 data bytes) as bytes
    body = bytearray([tfi, code]) + bytearray(data)
    n = len(body)
    if n < 256:
        head = bytearray([0, 0, 0xFF, n, (0x100 - n) & 0xFF])
    else:
        head = bytearray([0, 0, 0xFF, 0xFF, 0xFF, n >> 8, n & 0xFF, (0x200 - (n >> 8) - (n & 0xFF)) & 0xFF])
    total = 0
    for b in body:
        total += b
    return bytes(head + body + bytearray([(0x100 - (total & 0xFF)) & 0xFF, 0]))


def app_error():
    return b"\x00\x00\xff\x01\xff\x7f\x81\x00"


class FakeChip:
    # replies[cmd]: bytes (sent after the ACK, again on each NACK) or a list of bytes used in turn
    # (the last one repeats), e.g. [corrupt, good]. silent: ignores everything. no_ack: skips ACKs.
    def __init__(self, replies=None, record=True):
        self.replies = replies if replies is not None else {}
        self.record = record
        self.cmds = []  # command codes received
        self.frames = []  # command frames received, as bytes
        self.aborts = 0  # ACK frames from the host
        self.nacks = 0  # NACK frames from the host
        self.wakes = 0  # HSU wake preambles
        self.silent = False
        self.no_ack = False
        self.q = [None, None, None, None]  # outgoing frames (a tiny ring)
        self.qh = 0
        self.qn = 0
        self.sent = {}  # cmd -> times its reply was sent
        self.last_cmd = -1

    def push(self, frame):
        self.q[(self.qh + self.qn) & 3] = frame
        self.qn += 1

    def pop(self):
        if not self.qn:
            return None
        f = self.q[self.qh]
        self.q[self.qh] = None
        self.qh = (self.qh + 1) & 3
        self.qn -= 1
        return f

    def _reply(self, cmd):
        r = self.replies.get(cmd)
        if r is None:
            return
        if isinstance(r, list):
            k = self.sent.get(cmd, 0)
            self.sent[cmd] = k + 1
            r = r[k] if k < len(r) else r[-1]
        self.push(r)

    def host_write(self, buf):
        n = len(buf)
        if self.silent or n == 0:
            return
        if buf[0] == 0x55:
            self.wakes += 1
            return
        if n == 6 and buf[2] == 0xFF and buf[3] == 0 and buf[4] == 0xFF:
            self.aborts += 1
            while self.qn:
                self.pop()
            return
        if n == 6 and buf[2] == 0xFF and buf[3] == 0xFF and buf[4] == 0:
            self.nacks += 1
            if self.last_cmd >= 0:
                self._reply(self.last_cmd)
            return
        i = 8 if buf[3] == 0xFF and buf[4] == 0xFF else 5  # TFI
        cmd = buf[i + 1]
        self.last_cmd = cmd
        if self.record:
            self.cmds.append(cmd)
            self.frames.append(bytes(buf))
        if not self.no_ack:
            self.push(ACK)
        self._reply(cmd)


class FakeUart:
    # write(buf) goes to the chip; what the chip sends appears at once (hold=True keeps it back);
    # push(data) puts raw bytes (noise) on the line. any() / readinto(buf, nbytes) like machine.UART.
    def __init__(self, chip=None, cap=1024, record=True):
        self.chip = chip
        self.buf = bytearray(cap)
        self.h = 0
        self.t = 0
        self.hold = False
        self.record = record
        self.written = bytearray()  # everything the host wrote, if record
        self.reads = 0

    def push(self, data):
        n = len(data)
        if self.t + n > len(self.buf):
            k = self.t - self.h
            i = 0
            while i < k:
                self.buf[i] = self.buf[self.h + i]
                i += 1
            self.h = 0
            self.t = k
        i = 0
        while i < n:
            self.buf[self.t] = data[i]
            self.t += 1
            i += 1

    def _pull(self):
        c = self.chip
        if c is not None and not self.hold:
            while c.qn:
                self.push(c.pop())

    def any(self):
        self._pull()
        return self.t - self.h

    def readinto(self, buf, nbytes=-1):
        self._pull()
        n = len(buf) if nbytes < 0 else nbytes
        k = self.t - self.h
        if n > k:
            n = k
        i = 0
        while i < n:
            buf[i] = self.buf[self.h]
            self.h += 1
            i += 1
        if self.h == self.t:
            self.h = self.t = 0
        self.reads += 1
        return n if n else None

    def write(self, buf):
        if self.record:
            self.written.extend(buf)
        if self.chip is not None:
            self.chip.host_write(buf)
        return len(buf)


class FakeI2c:
    # MicroPython-style writeto / readfrom_into at addr. A read offers the chip's next frame: status
    # byte 01 then the frame, zero padded; a read longer than the status byte consumes the frame.
    # busy: the next N transactions fail with OSError (address NACK). absent: every one fails.
    def __init__(self, chip, addr=0x24):
        self.chip = chip
        self.addr = addr
        self.cur = None
        self.busy = 0
        self.absent = False
        self.reads = 0
        self.writes = 0
        self.read_sizes = []
        self.record = True

    def _check(self, addr):
        if addr != self.addr or self.absent:
            raise OSError(19)
        if self.busy:
            self.busy -= 1
            raise OSError(116)

    def writeto(self, addr, buf, stop=True):
        self._check(addr)
        self.writes += 1
        self.chip.host_write(buf)
        return 1

    def readfrom_into(self, addr, buf, stop=True):
        self._check(addr)
        self.reads += 1
        if self.record:
            self.read_sizes.append(len(buf))
        if self.cur is None:
            self.cur = self.chip.pop()
        f = self.cur
        n = len(buf)
        i = 1
        if f is None:
            buf[0] = 0
        else:
            buf[0] = 1
            k = len(f)
            while i < n and i - 1 < k:
                buf[i] = f[i - 1]
                i += 1
            if n > 1:
                self.cur = None
        while i < n:
            buf[i] = 0
            i += 1


def bitrev(b):
    r = 0
    k = 0
    while k < 8:
        r = (r << 1) | ((b >> k) & 1)
        k += 1
    return r


class FakeSpi:
    # an MSB-first SPI bus with a PN532 behind it: every byte on the wire is bit-reversed here.
    # The first byte after CS goes low is the prefix: 01 data write, 02 status read, 03 data read.
    def __init__(self, chip, cs):
        self.chip = chip
        self.cs = cs  # fakes.FakePin
        self.mode = 0
        self.cur = None
        self.errors = []

    def write(self, buf):
        if self.cs.level != 0:
            self.errors.append("write with CS high")
            return
        p = bitrev(buf[0])
        if p == 0x01:
            data = bytearray(len(buf) - 1)
            i = 1
            while i < len(buf):
                data[i - 1] = bitrev(buf[i])
                i += 1
            self.chip.host_write(data)
            self.mode = 0
        else:
            self.mode = p

    def readinto(self, buf, write=0):
        if self.cs.level != 0:
            self.errors.append("read with CS high")
            return
        n = len(buf)
        if self.mode == 0x02:
            if self.cur is None:
                self.cur = self.chip.pop()
            buf[0] = bitrev(1 if self.cur is not None else 0)
            i = 1
        elif self.mode == 0x03:
            if self.cur is None:
                self.cur = self.chip.pop()
            f = self.cur
            i = 0
            if f is not None:
                while i < n and i < len(f):
                    buf[i] = bitrev(f[i])
                    i += 1
                self.cur = None
        else:
            self.errors.append("read without prefix")
            i = 0
        while i < n:
            buf[i] = 0
            i += 1
        self.mode = 0
