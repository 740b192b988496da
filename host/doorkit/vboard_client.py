"""The Python API of a virtual board's control channel (`doorkit vboard` serves it; one JSON line
each way): drive the physical world around the board and read its state.

    from doorkit.vboard_client import Control
    vb = Control("127.0.0.1:8267")
    vb.tap("mifare"); vb.door("open"); vb.keypad("1234#"); vb.advance(10000); vb.status()

Every method returns the board's answer (a dict); a refused command raises ControlError with the
board's one-line reason, a board that is not there raises ControlError too.
"""
import json
import socket

DEFAULT_CONTROL = "127.0.0.1:8267"


class ControlError(Exception):
    """The control channel is not there (.kind "board"), the command's arguments are wrong
    ("usage": an unknown card, a bad duration), or the virtual board refused it ("refused")."""

    def __init__(self, msg, kind="board"):
        super().__init__(msg)
        self.kind = kind


def _addr(text):
    host, _, port = str(text).rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ControlError("a control address is HOST:PORT, not %r" % (text,), "usage")


class Control:
    def __init__(self, addr=DEFAULT_CONTROL, timeout=120):
        self.addr = _addr(addr)
        try:
            self._s = socket.create_connection(self.addr, timeout=timeout)
        except OSError as e:
            raise ControlError("no virtual board's control channel at %s:%d (%s)" % (self.addr + (e.strerror or e,)))
        self._f = self._s.makefile("rwb")

    def command(self, cmd, **args):
        try:
            self._f.write(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
            self._f.flush()
            line = self._f.readline()
        except OSError as e:
            raise ControlError("the virtual board at %s:%d went away (%s)" % (self.addr + (e.strerror or e,)))
        if not line:
            raise ControlError("the virtual board at %s:%d closed the control channel" % self.addr)
        r = json.loads(line)
        if not r.pop("ok", False):
            raise ControlError(r.get("error") or "refused", r.get("kind") or "refused")
        return r

    def tap(self, card, hold_ms=1000):
        return self.command("tap", card=card, hold_ms=hold_ms)

    def door(self, what):
        return self.command("door", what=what)

    def button(self, ms=150):
        return self.command("button", ms=ms)

    def turn(self, where, ms=600):
        return self.command("turn", where=where, ms=ms)

    def keypad(self, keys, hold_ms=120, gap_ms=150):
        return self.command("keypad", keys=keys, hold_ms=hold_ms, gap_ms=gap_ms)

    def jam(self, at=None, moves=None):
        return self.command("jam", at=at, moves=moves)

    def unjam(self):
        return self.command("unjam")

    def power_cut(self, off_ms=0, after_bytes=None, delay_ms=0):
        """Cut the power now, or (after_bytes) once the serial client has sent that many more
        bytes, delay_ms later: a cut at an exact point of a host tool's conversation."""
        if after_bytes is not None:
            return self.command("power-cut", after_bytes=after_bytes, delay_ms=delay_ms)
        return self.command("power-cut", off_ms=off_ms)

    def reset(self):
        return self.command("reset")

    def download(self):
        """Download mode (BOOT held, EN pressed): {"port": the pty esptool talks to}."""
        return self.command("download")

    def advance(self, ms):
        return self.command("advance", ms=ms)

    def status(self):
        return self.command("status")

    def close(self):
        try:
            self._f.close()
            self._s.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
