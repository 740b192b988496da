"""Serve the PN532 emulator (sim/pn532.py) on a pseudo-terminal, in real time, so that host stacks that
talk to a PN532 over a serial port (libnfc's pn532_uart, nfcpy's tty driver, anything using pyserial)
can be pointed at it as at a USB-serial adapter wired to a PN532 board:

    python -m doorkit.sim.pn532_pty --card mifare --seconds 60
    # prints the slave's path, e.g. /dev/pts/5, then serves until the time is up
    LIBNFC_DEVICE=pn532_uart:/dev/pts/5 nfc-list

The host's serial speed (set with termios on the slave, e.g. after SetSerialBaudRate) is handed to the
emulator's UART, so a host and chip at different rates do not understand each other, as on a wire.
Every chunk each way can be recorded (PtyServer.log: (ms, "host"|"chip", bytes)). The slave stays open
here too, so one client after another can open and close it.
"""
import argparse
import os
import signal
import sys
import termios
import threading
import time
import tty

from . import pn532 as _pn532

SPEEDS = {getattr(termios, "B%d" % b): b for b in (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
          if hasattr(termios, "B%d" % b)}

CARDS = {
    "mifare": _pn532.mifare_classic,
    "ntag": _pn532.ntag215,
    "uid10": _pn532.triple_uid_card,
    "suica": _pn532.suica,
    "phone": lambda: _pn532.phone(lambda apdu: b"\x6a\x82"),  # an HCE phone without our app
}


class PtyServer:
    def __init__(self, emu=None, record=True):
        self.emu = emu or _pn532.PN532Emulator()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.log = [] if record else None
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()
        self._inbox = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._t0 = time.monotonic()

    def _speed(self):
        try:
            attrs = termios.tcgetattr(self.slave)
        except termios.error:
            return None
        return SPEEDS.get(attrs[5])  # ospeed

    def _note(self, who, data):
        if self.log is not None and data:
            self.log.append((int((time.monotonic() - self._t0) * 1000), who, bytes(data)))

    def _drain(self):
        # a blocking reader of its own takes the host's bytes off the pty at once, as a UART puts
        # them on the wire: a host that flushes its output right after a write (nfcpy closes the
        # port with tcflush(TCOFLUSH) just after the ACK that completes SetSerialBaudRate) loses
        # only what a real adapter would not have sent yet either
        while not self._stop.is_set():
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if data:
                speed = self._speed()  # the rate the host had set when it wrote these bytes
                with self._lock:
                    self._inbox.append((speed, data))

    def step(self, wait_s=0.0005):
        """Move bytes both ways once: what the host wrote goes to the chip, what the chip has due
        goes to the host."""
        uart = self.emu.uart
        time.sleep(wait_s)
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for speed, data in inbox:
            if speed:
                uart.baudrate = speed
            self._note("host", data)
            uart.write(data)
        if not inbox:
            speed = self._speed()
            if speed:
                uart.baudrate = speed
        out = uart.read(4096)
        if out:
            self._note("chip", out)
            os.write(self.master, out)

    def serve(self, seconds=None):
        if not self._reader.is_alive():
            self._reader.start()
        end = None if seconds is None else time.monotonic() + seconds
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            self.step()

    def start(self):
        self._thread = threading.Thread(target=self.serve, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def commands(log):
    """The command codes the host sent (from the recorded host chunks, frames parsed afresh)."""
    buf = b"".join(d for _, who, d in log if who == "host")
    out = []
    i = 0
    while True:
        i = buf.find(b"\x00\xff", i)
        if i < 0 or i + 4 > len(buf):
            return out
        ln, lcs = buf[i + 2], buf[i + 3]
        if (ln, lcs) == (0xFF, 0xFF) and i + 7 <= len(buf):
            ln = buf[i + 4] * 256 + buf[i + 5]
            head = i + 7
        elif (ln + lcs) & 0xFF == 0 and ln:
            head = i + 4
        else:
            i += 2
            continue
        if head + ln <= len(buf) and buf[head] == 0xD4:
            out.append(buf[head + 1])
            i = head + ln
        else:
            i += 2


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m doorkit.sim.pn532_pty",
                                 description="Serve the PN532 emulator on a pseudo-terminal.")
    ap.add_argument("--card", action="append", default=[], choices=sorted(CARDS),
                    help="a card in the field from the start (repeatable)")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")
    ap.add_argument("--lowvbat", choices=("answer", "sam-first"), default="answer")
    ap.add_argument("--log", metavar="FILE", help="write what went each way (ms who hex) at the end")
    args = ap.parse_args(argv)
    srv = PtyServer(_pn532.PN532Emulator(lowvbat=args.lowvbat), record=bool(args.log))
    for name in args.card:
        srv.emu.enter(CARDS[name]())
    print(srv.path, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))  # stopped by a test or a shell: log first
    try:
        srv.serve(args.seconds)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.stop()
        if args.log:
            with open(args.log, "w") as f:
                for t, who, data in srv.log:
                    f.write("%d %s %s\n" % (t, who, data.hex()))
                f.write("# commands: %s\n" % " ".join("%02x" % c for c in commands(srv.log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
