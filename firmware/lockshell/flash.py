# The lock's data on flash: the key store, the event log and the tally (use counts, the wrong-PIN
# count, the boot count, the log's upload cursor), opened from the "keys" and "log" partitions of
# the partition plan (lockctl/plan.py). On the board the partitions are esp32.Partition objects; the
# simulator and the tests give sim.nor.Partition windows of a simulated NOR flash.
#
# Opening never formats or rewrites anything: what cannot be read is reported in `faults` as
# (STORE_*, code) pairs, which the App logs as STORE_FAULT records after BOOT, and the lock runs on
# with what it has (a key store that cannot be read opens nothing: the button and the knob still
# let people out).
from lockctl.codes import STORE_KEYS, STORE_LOG, R_STORE, LOG_CLOCK_SET
from lockctl.keystore import KeyStore
from lockctl.eventlog import EventLog
from lockctl.tally import Tally, T_BOOTS, T_PIN_FAILS
from lockctl.plan import TALLY_BLOCKS


class _NoKeys:
    """The key store could not even be opened: every credential is refused R_STORE."""
    version = 0
    count = 0

    def check(self, kind, ident, local):
        return None, R_STORE

    def consume(self, kind, ident):
        return False

    def key_for(self, phone_id):
        return None

    def __len__(self):
        return 0


class Storage:
    """Storage(keys_part, log_part, secret, door_id): .keys, .log (EventLog or None), .tally (or
    None), .boots (this boot's count, counted durably at open), .faults [(STORE_*, code)]."""

    def __init__(self, keys_part, log_part, secret, door_id):
        self.faults = []
        self.tally = None
        self.log = None
        self.boots = 0
        try:
            self.tally = Tally(log_part, 0)
            if self.tally.corrupt:  # no block of it checks: the counts are lost (its first set
                self.faults.append((STORE_LOG, -1))  # starts it again), and that is said
            self.boots = self.tally.get(T_BOOTS) + 1
            self.tally.set(T_BOOTS, b"", self.boots)
        except Exception as e:
            self.faults.append((STORE_LOG, _code(e)))
        if self.tally is not None:
            try:
                n = log_part.ioctl(4, 0)
                self.log = EventLog(log_part, self.tally, self.boots, TALLY_BLOCKS, n - TALLY_BLOCKS)
                if self.log.bad_sectors:
                    self.faults.append((STORE_LOG, -self.log.bad_sectors))
            except Exception as e:
                self.faults.append((STORE_LOG, _code(e)))
        try:
            self.keys = KeyStore(keys_part, secret, door_id, self.tally)
            self.keys.verify()  # every block read once: a corrupt store is reported at boot
            if self.keys.error is not None:
                self.faults.append((STORE_KEYS, -max(1, self.keys.bad)))
        except Exception as e:
            self.keys = _NoKeys()
            self.faults.append((STORE_KEYS, _code(e)))

    # the App's persistent counters (A_SAVE "pin_fails")
    def pin_fails(self):
        return self.tally.get(T_PIN_FAILS) if self.tally is not None else 0

    def save_pin_fails(self, n):
        if self.tally is not None:
            self.tally.set(T_PIN_FAILS, b"", n)


def read_identity(path="/door.json"):
    """(door_id bytes, secret bytes) from the provisioned identity file (JSON: {"door_id": text,
    "secret": hex of 32 bytes}), or None for a door nobody provisioned (or a file that does not
    parse: the lock then opens with no credential, the button and the knob still work)."""
    import json
    from binascii import unhexlify
    try:
        with open(path) as f:
            d = json.load(f)
        door, secret = d["door_id"].encode(), unhexlify(d["secret"])
    except Exception:
        return None
    if not door or len(secret) < 16:
        return None
    return door, secret


def board_partitions(esp32):
    """The ("keys", "log") data partitions of the partition plan on the board (esp32.Partition),
    None for one the partition table does not have."""
    out = []
    for label in ("keys", "log"):
        found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label)
        out.append(found[0] if found else None)
    return out


def _code(e):
    """An int for a STORE_FAULT record: the errno of an OSError, else -1."""
    a = getattr(e, "args", None)
    if a and type(a[0]) is int:
        return a[0]
    return getattr(e, "errno", -1) if type(getattr(e, "errno", None)) is int else -1


class LogSink:
    """An App record sink that appends each record to the flash event log, durable before the App
    handles its next event. Time: wall-clock seconds when the clock is set, else ms since boot
    (the App's record time); a CLOCK_SET record's own ms-since-boot stays in its arg."""

    def __init__(self, app, log):
        self.app = app
        self.log = log
        self.appended = 0

    def __call__(self, rec):
        # the wall clock at the record's own time (an install or a fault may come long after the
        # core's last event)
        w = self.app.wall_at(rec[0])
        if rec[1] == LOG_CLOCK_SET:  # (the App put its arg on the records' time base)
            rec = (rec[0], rec[1], (rec[2][0], self.app.since_boot(rec[2][1])), rec[3])
        if w is None:
            self.log.append(rec, self.app.since_boot(rec[0]), False)
        else:
            self.log.append(rec, w, True)
        self.appended += 1
