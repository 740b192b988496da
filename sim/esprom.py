"""An emulated ESP32 serial bootloader on a pty: enough of the ROM loader (and of the flasher stub
esptool uploads to it) for the stock esptool to detect the chip, read the SPI flash id, erase,
write (plain or deflated), check MD5s and leave, against a bytearray that is the board's flash.

    rom = EspRom(chip="esp32", flash_size=0x400000)   # rom.port is the pty's name, e.g. /dev/pts/7
    ... esptool talks to rom.port ...
    rom.flash[0x8000:0x8C00]                          # what landed there
    rom.close()

The wire protocol (esptool's loader.py): SLIP frames (0xC0 ends, 0xDB 0xDC / 0xDB 0xDD escape
0xC0 / 0xDB); a request is <dir=0, op, len, checksum> + data, a reply <dir=1, op, len, value> + data
+ status bytes (the ROM sends 4, the stub 2; a non-zero first status byte is an error, the second
its reason). The registers are a dict: WRITE_REG stores, READ_REG reads (0 where never written),
except the chip-detect magic and a UART divider of a 40 MHz crystal; a write of the SPI "user
command" bit runs the command in SPI_USR2 (0x9F RDID answers the flash's JEDEC id) and clears the
bit. Uploading to RAM and jumping to it (MEM_END with an entry point) starts the "stub": it greets
with OHAI and then answers as the stub does (2 status bytes, raw MD5, ERASE_FLASH/ERASE_REGION).
Flash writes are NOR writes: bits only go from 1 to 0, erase sets a 4 KB sector to 0xFF.

chip="esp32s3" answers GET_SECURITY_INFO with the ESP32-S3's chip id instead (esptool detects
newer chips that way): a board of the wrong kind for an ESP32 firmware.
"""
import hashlib
import os
import pty
import select
import struct
import threading
import tty
import zlib

SECTOR = 0x1000

# esptool's command numbers (loader.py ESP_CMDS)
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14
ERASE_FLASH, ERASE_REGION = 0xD0, 0xD1

# the status reasons the ROM gives (esptool's FatalError.WithResult names them)
ERR_INVALID_MESSAGE = 0x05
ERR_BAD_DATA_CHECKSUM = 0x07
ERR_BAD_DATA_LEN = 0xC1

CHIP_DETECT_MAGIC_REG = 0x40001000
CHIPS = {
    # name: (magic value at CHIP_DETECT_MAGIC_REG or None, chip id from GET_SECURITY_INFO or None,
    #        SPI0 register base, UART0 clock divider register)
    "esp32": (0x00F01D83, None, 0x3FF42000, 0x3FF40014),
    "esp32s3": (None, 9, 0x60002000, 0x60000014),
}
SPI_CMD_USR = 1 << 18
SPI_USR2_OFFS = 0x24
SPI_W0_OFFS = {"esp32": 0x80, "esp32s3": 0x58}
JEDEC_VENDOR = 0xEF  # Winbond
JEDEC_TYPE = 0x40
JEDEC_CAPACITY = {0x100000: 0x14, 0x200000: 0x15, 0x400000: 0x16, 0x800000: 0x17, 0x1000000: 0x18}


def slip(frame):
    return b"\xC0" + frame.replace(b"\xDB", b"\xDB\xDD").replace(b"\xC0", b"\xDB\xDC") + b"\xC0"


class EspRom:
    """The emulated board: a thread answers esptool on the pty `self.port` until close()."""

    def __init__(self, chip="esp32", flash_size=0x400000, flash=None):
        if chip not in CHIPS or flash_size not in JEDEC_CAPACITY:
            raise ValueError("chip %r / flash size %#x not emulated" % (chip, flash_size))
        self.chip = chip
        self.magic, self.chip_id, self.spi_base, uart_div_reg = CHIPS[chip]
        self.flash = bytearray(b"\xFF" * flash_size) if flash is None else flash
        assert len(self.flash) == flash_size
        self.regs = {uart_div_reg: 40000000 // 115200}  # a 40 MHz crystal at the ROM's 115200 baud
        self.stub = False
        self.commands = []  # op of every request, in order (what the test may look at)
        self.resets = 0  # FLASH_END asking to run the app / leaving the stub
        self.sector_erases = 0
        self.chip_erases = 0
        self._write = None  # (next address, end address, decompressor or None) during FLASH_*BEGIN..
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="esprom", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the line
    def close(self):
        os.write(self._stop_w, b"x")
        self._thread.join(10)
        for fd in (self.master, self._slave, self._stop_r, self._stop_w):
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _serve(self):
        frame, esc, inside = bytearray(), False, False
        while True:
            r, _, _ = select.select([self.master, self._stop_r], [], [])
            if self._stop_r in r:
                return
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for b in data:
                if b == 0xC0:
                    if inside and frame:
                        self._request(bytes(frame))
                    frame, esc, inside = bytearray(), False, True
                elif not inside:
                    continue  # line noise between frames
                elif esc:
                    frame.append({0xDC: 0xC0, 0xDD: 0xDB}.get(b, b))
                    esc = False
                elif b == 0xDB:
                    esc = True
                else:
                    frame.append(b)

    def _send(self, frame):
        os.write(self.master, slip(frame))

    def _reply(self, op, value=0, data=b"", error=0, stub=None):
        status = bytes([1, error]) if error else b"\x00\x00"
        if not (self.stub if stub is None else stub):
            status += b"\x00\x00"  # the ROM's two reserved status bytes
        body = data + status
        self._send(struct.pack("<BBHI", 1, op, len(body), value) + body)

    # ------------------------------------------------------------------ the commands
    def _request(self, frame):
        if len(frame) < 8 or frame[0] != 0:
            return
        _, op, size, chk = struct.unpack("<BBHI", frame[:8])
        data = frame[8:]
        self.commands.append(op)
        if len(data) != size:
            return self._reply(op, error=ERR_BAD_DATA_LEN)
        handler = getattr(self, "_op_%02x" % op, None)
        if handler is None:
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        handler(op, data, chk)

    def _op_08(self, op, data, chk):  # SYNC: the ROM answers 8 times, with a non-zero value
        if data[:4] != b"\x07\x07\x12\x20":
            return
        for _ in range(8):
            self._reply(op, value=0 if self.stub else 0x20120707)

    def _op_0a(self, op, data, chk):  # READ_REG
        (addr,) = struct.unpack("<I", data[:4])
        if addr == CHIP_DETECT_MAGIC_REG and self.magic is not None:
            return self._reply(op, value=self.magic)
        self._reply(op, value=self.regs.get(addr, 0))

    def _op_09(self, op, data, chk):  # WRITE_REG: (addr, value, mask, delay) each 16 bytes
        for i in range(0, len(data) - 15, 16):
            addr, value, mask, _ = struct.unpack("<IIII", data[i:i + 16])
            self.regs[addr] = (self.regs.get(addr, 0) & ~mask | value & mask) & 0xFFFFFFFF
            if addr == self.spi_base and self.regs[addr] & SPI_CMD_USR:
                self._spi_user_command()
        self._reply(op)

    def _spi_user_command(self):
        cmd = self.regs.get(self.spi_base + SPI_USR2_OFFS, 0) & 0xFF
        w0 = self.spi_base + SPI_W0_OFFS[self.chip]
        if cmd == 0x9F:  # RDID: manufacturer, memory type, capacity
            self.regs[w0] = JEDEC_VENDOR | JEDEC_TYPE << 8 | JEDEC_CAPACITY[len(self.flash)] << 16
        else:  # status registers, SFDP: nothing set
            self.regs[w0] = 0
        self.regs[self.spi_base] &= ~SPI_CMD_USR

    def _op_0b(self, op, data, chk):  # SPI_SET_PARAMS
        self._reply(op)

    def _op_0d(self, op, data, chk):  # SPI_ATTACH
        self._reply(op)

    def _op_0f(self, op, data, chk):  # CHANGE_BAUDRATE (a pty has no baud rate)
        self._reply(op)

    def _op_14(self, op, data, chk):  # GET_SECURITY_INFO: ESP32-S3 and later only
        if self.chip_id is None:
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        self._reply(op, data=struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, self.chip_id, 0))

    # --- RAM: the stub upload
    def _op_05(self, op, data, chk):  # MEM_BEGIN
        self._reply(op)

    def _op_07(self, op, data, chk):  # MEM_DATA
        n = struct.unpack("<I", data[:4])[0]
        if n != len(data) - 16:
            return self._reply(op, error=ERR_BAD_DATA_LEN)
        if self._checksum(data[16:]) != chk:
            return self._reply(op, error=ERR_BAD_DATA_CHECKSUM)
        self._reply(op)

    def _op_06(self, op, data, chk):  # MEM_END: (no-entry flag, entry point)
        stay, entry = struct.unpack("<II", data[:8])
        self._reply(op)
        if not stay and entry:
            self.stub = True
            self._send(b"OHAI")

    # --- flash
    @staticmethod
    def _checksum(data):
        c = 0xEF
        for b in data:
            c ^= b
        return c

    def _erase(self, start, end):
        start -= start % SECTOR
        end = min(len(self.flash), -(-end // SECTOR) * SECTOR)
        for a in range(start, end, SECTOR):
            self.flash[a:a + SECTOR] = b"\xFF" * SECTOR
            self.sector_erases += 1

    def _program(self, addr, data):
        end = addr + len(data)
        if end > len(self.flash):
            return False
        old = self.flash[addr:end]
        self.flash[addr:end] = bytes(a & b for a, b in zip(old, data))  # NOR: 1 -> 0 only
        return True

    def _begin(self, op, data, deflated):
        size, _blocks, _blocksize, offset = struct.unpack("<IIII", data[:16])
        if offset % SECTOR or offset + size > len(self.flash):
            return self._reply(op, error=ERR_BAD_DATA_LEN)
        self._erase(offset, offset + size)  # ROM: all up front; the stub erases as it goes, same result
        self._write = [offset, offset + size, zlib.decompressobj() if deflated else None]
        self._reply(op)

    def _data(self, op, data, chk, deflated):
        n = struct.unpack("<I", data[:4])[0]
        block = data[16:]
        if self._write is None or n != len(block):
            return self._reply(op, error=ERR_BAD_DATA_LEN)
        if self._checksum(block) != chk:
            return self._reply(op, error=ERR_BAD_DATA_CHECKSUM)
        addr, end, dec = self._write
        if deflated:
            if dec is None:
                return self._reply(op, error=ERR_INVALID_MESSAGE)
            try:
                block = dec.decompress(block)
            except zlib.error:
                return self._reply(op, error=ERR_INVALID_MESSAGE)
        if addr + len(block) > end + (0 if deflated else SECTOR) or not self._program(addr, block):
            return self._reply(op, error=ERR_BAD_DATA_LEN)
        self._write[0] = addr + len(block)
        self._reply(op)

    def _end(self, op, data):
        stay = struct.unpack("<I", data[:4])[0] if len(data) >= 4 else 1
        self._write = None
        was_stub = self.stub
        if not stay:  # (the state changes before the reply: whoever got the reply sees it)
            self.resets += 1
            self.stub = False  # the app (or, from the stub, the ROM again) runs
        self._reply(op, stub=was_stub)

    def _op_02(self, op, data, chk):
        self._begin(op, data, False)

    def _op_03(self, op, data, chk):
        self._data(op, data, chk, False)

    def _op_04(self, op, data, chk):
        self._end(op, data)

    def _op_10(self, op, data, chk):
        self._begin(op, data, True)

    def _op_11(self, op, data, chk):
        self._data(op, data, chk, True)

    def _op_12(self, op, data, chk):
        self._end(op, data)

    def _op_13(self, op, data, chk):  # SPI_FLASH_MD5: (addr, size, 0, 0)
        addr, size = struct.unpack("<II", data[:8])
        if addr + size > len(self.flash):
            return self._reply(op, error=ERR_BAD_DATA_LEN)
        md5 = hashlib.md5(self.flash[addr:addr + size])
        self._reply(op, data=md5.digest() if self.stub else md5.hexdigest().encode())

    def _op_d0(self, op, data, chk):  # ERASE_FLASH (stub only)
        if not self.stub:
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        self.flash[:] = b"\xFF" * len(self.flash)
        self.chip_erases += 1
        self._reply(op)

    def _op_d1(self, op, data, chk):  # ERASE_REGION (stub only): (offset, size)
        if not self.stub:
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        offset, size = struct.unpack("<II", data[:8])
        self._erase(offset, offset + size)
        self._reply(op)
