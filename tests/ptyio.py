"""A pseudo-terminal for the tests that run `doorkit sim` as a user at a terminal would (Linux)."""
import os
import select
import time


class Pty:
    """A pty pair; the child gets the slave end. out collects what the child wrote to it."""

    def __init__(self, rows=None, cols=None):
        import pty
        self.master, self.slave = pty.openpty()
        if rows is not None:
            import fcntl
            import struct
            import termios
            fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = b""

    def child_started(self):
        """Call once the child has the slave end: the test keeps only the master."""
        os.close(self.slave)
        self.slave = None

    def _read(self, wait_s):
        r, _, _ = select.select([self.master], [], [], wait_s)
        if not r:
            return None
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed its end
            return b""
        self.out += chunk
        return chunk

    def read_until(self, needle, seconds=20):
        """Read until needle has been written (True) or seconds pass (a safety net, not a timing)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and needle not in self.out:
            if self._read(0.05) == b"":
                break
        return needle in self.out

    def drain(self, quiet_s=0.2):
        """Read whatever is left, until the child's end is closed or quiet for quiet_s."""
        while self._read(quiet_s):
            pass
        return self.out

    def write(self, data):
        os.write(self.master, data)

    def close(self):
        if self.slave is not None:
            os.close(self.slave)
        os.close(self.master)

    def text(self):
        return self.out.decode("utf-8", "replace")
