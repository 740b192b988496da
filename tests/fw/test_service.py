# lockshell.service, the maintenance API the host calls in the raw REPL, over a file-backed
# Storage (the simulated NOR flash of keykit / offlinerig): status, install from a bundle file
# (streamed, then removed), log records, ack.
import gc
import os

from keykit import rec, cards, full, flash, SECRET, DOOR, ALWAYS
import lockctl.bundle as B
from lockctl.codes import KIND_ISO14443A
from lockctl.plan import TALLY_BLOCKS
from lockshell.flash import Storage
from lockshell import service
from sim.nor import Partition

MP_HEAP = "96wK"  # the service runs inside the whole firmware (Storage + key store + log)
KEY_BLOCKS = 8
LOG_BLOCKS = TALLY_BLOCKS + 4


def _door():
    gc.collect()
    dev = flash(KEY_BLOCKS + LOG_BLOCKS)
    fl = Storage(Partition(dev, 0, KEY_BLOCKS), Partition(dev, KEY_BLOCKS, LOG_BLOCKS), SECRET, DOOR)
    service.use(fl)
    return dev, fl


def _file(data):
    """The bundle (bytes, or an iterable of pieces) written to a file."""
    path = "%s/doorkit-service-bundle.bin" % (os.getenv("DOORKIT_TMP") or "/tmp")
    with open(path, "wb") as f:
        for piece in ((data,) if isinstance(data, bytes) else data):
            f.write(piece)
    return path


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _bundle(version=1, n=3, secret=SECRET, door=DOOR):
    recs = [rec(KIND_ISO14443A, "%08X" % i, i + 1) for i in range(n)]
    return full(recs, version, secret=secret, door=door)


def test_status_of_a_fresh_store():
    _door()
    st = service.status()
    assert st["door"] == "door-1"
    assert st["keys_version"] == 0 and st["keys_count"] == 0
    assert st["boots"] == 1 and st["cursor"] == 0 and st["next_seq"] >= 1
    service.use(None)


def test_install_streams_the_file_and_removes_it():
    path = _file(B.chunks(SECRET, DOOR, B.FULL, 1, 0, [ALWAYS], sorted(cards(120))))  # streamed to the file
    gc.collect()
    _, fl = _door()
    assert service.install(path) == "ok"
    assert not _exists(path)
    st = service.status()
    assert st["keys_version"] == 1 and st["keys_count"] == 120
    assert fl.keys.check(KIND_ISO14443A, "00000077", None)[0] is not None
    service.use(None)


def test_install_refusals_are_named_and_install_nothing():
    _door()
    assert service.install(_file(_bundle(2))) == "ok"
    cases = ((_bundle(2), "old_version"), (_bundle(3, door=b"door-2"), "wrong_door"),
             (_bundle(3, secret=b"x" * 32), "bad_signature"), (_bundle(3)[:-5], "corrupt"), (b"DKB1", "corrupt"))
    for data, want in cases:
        path = _file(data)
        assert service.install(path) == want, want
        assert not _exists(path)
        assert service.status()["keys_version"] == 2
    service.use(None)


def test_log_and_ack():
    _, fl = _door()
    for i in range(5):
        fl.log.append((i * 10, 8, None, None), i * 10, False)  # LOG_DOOR_OPEN
    recs = service.log(0, 3)
    assert len(recs) == 3 and [r[0] for r in recs] == [1, 2, 3]
    assert eval(repr(recs)) == recs
    assert [r[0] for r in service.log(4, 10)] == [4, 5]
    assert service.ack(3) == 3 and service.status()["cursor"] == 3
    assert service.ack(99) == 5  # beyond the last acknowledges what was issued
    assert service.log(6, 10) == []
    service.use(None)


def test_set_clock_reads_back():
    from test_clock import FakeRTC
    r = FakeRTC()
    assert service.clock(r) is None  # never set since power-up
    assert service.set_clock(1767225600, r) == 1767225600
    assert service.clock(r) == 1767225600
