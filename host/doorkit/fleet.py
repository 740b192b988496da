"""The fleet side of the hub (docs/network.md): a collector that stores every door's events, state
and command results, and the remote commands.

    db = FleetDB("fleet.sqlite")                 # or "postgresql://user@host/db" (psycopg)
    c = Collector(db, doors, host="127.0.0.1", port=1883).start()   # doors: {door_id: secret}
    ...
    c.stop()

A batch of events from a lock (lockctl.upload, signed with the door's secret) is stored in one
transaction, duplicates ignored by the primary key (door, seq), and only after the commit is the
lock sent its ack: a collector that dies between the two simply gets the batch again (the lock
resends what is not acknowledged) and stores nothing twice. Several collectors on one broker share
the events through an MQTT shared subscription ($share/GROUP/...: each batch goes to one of them)
and one database, so no event is stored twice either way.

Commands (`doorkit remote`): Remote(door dir) signs each with the door's secret and the next counter,
kept in the door directory and saved before the command is sent (a counter is never used twice),
publishes it QoS 1 (never retained) and waits for the lock's result."""
import json
import threading
import time

import paho.mqtt.client as paho

from doorkit.history import _enc, _dec

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        door TEXT NOT NULL, seq BIGINT NOT NULL, boot INTEGER NOT NULL, wall INTEGER NOT NULL,
        t BIGINT NOT NULL, code INTEGER NOT NULL, arg TEXT NOT NULL, who TEXT NOT NULL,
        received DOUBLE PRECISION NOT NULL, PRIMARY KEY (door, seq))""",
    """CREATE TABLE IF NOT EXISTS state (
        door TEXT PRIMARY KEY, body TEXT NOT NULL, online INTEGER NOT NULL, updated DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS results (
        door TEXT NOT NULL, counter BIGINT NOT NULL, body TEXT NOT NULL, received DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (door, counter))""",
)


class FleetError(Exception):
    pass


def _nodelay(client, userdata, sock):
    """paho's socket without Nagle's delay: a command or an ack is one small packet, sent now."""
    import socket
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


class FleetDB:
    """The collector's database: SQLite by path (the default: embedded, nothing to set up) or
    PostgreSQL by a postgresql:// URL (psycopg 3). Safe to use from several threads."""

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError:
                raise FleetError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'")
            try:
                self.conn = psycopg.connect(url)
            except psycopg.Error as e:
                raise FleetError("database %s: %s" % (url, str(e).strip().splitlines()[0]))
            self.pg = True
            self.p = "%s"
        else:
            import sqlite3
            try:
                self.conn = sqlite3.connect(url, check_same_thread=False, timeout=30)
                self.conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as e:
                raise FleetError("database %s: %s" % (url, e))
            self.pg = False
            self.p = "?"
        with self.lock:
            for s in SCHEMA:
                self.conn.execute(s)
            self.conn.commit()

    def _q(self, sql):
        return sql.replace("?", self.p)

    def add_events(self, door, records, now=None):
        """Store records (seq, boot, wall, t, code, arg, who) of a door in one transaction;
        -> the records that were new (the others were stored before). Committed on return."""
        now = time.time() if now is None else now
        sql = self._q("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (door, seq) DO NOTHING")
        new = []
        with self.lock:
            try:
                cur = self.conn.cursor()
                for r in records:
                    cur.execute(sql, (door, r[0], r[1], int(r[2]), r[3], r[4], _enc(r[5]), _enc(r[6]), now))
                    if cur.rowcount == 1:
                        new.append(r)
                self.conn.commit()
            except Exception:
                self.conn.rollback()
                raise
        return new

    def count(self, door=None):
        with self.lock:
            cur = self.conn.cursor()
            if door is None:
                cur.execute("SELECT COUNT(*) FROM events")
            else:
                cur.execute(self._q("SELECT COUNT(*) FROM events WHERE door = ?"), (door,))
            return cur.fetchone()[0]

    def set_state(self, door, body=None, online=None, now=None):
        now = time.time() if now is None else now
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._q("SELECT body, online FROM state WHERE door = ?"), (door,))
            row = cur.fetchone()
            b = body if body is not None else (row[0] if row else "{}")
            o = int(online) if online is not None else (row[1] if row else 0)
            cur.execute(self._q("INSERT INTO state VALUES (?, ?, ?, ?) ON CONFLICT (door) DO UPDATE SET "
                                "body = excluded.body, online = excluded.online, updated = excluded.updated"),
                        (door, b, o, now))
            self.conn.commit()

    def add_result(self, door, counter, body, now=None):
        now = time.time() if now is None else now
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._q("INSERT INTO results VALUES (?, ?, ?, ?) ON CONFLICT (door, counter) DO NOTHING"),
                        (door, counter, body, now))
            self.conn.commit()

    def records(self, door):
        """(seq, boot, wall, t, code, arg, who) of a door in seq order."""
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._q("SELECT seq, boot, wall, t, code, arg, who FROM events WHERE door = ? ORDER BY seq"),
                        (door,))
            return [(r[0], r[1], bool(r[2]), r[3], r[4], _dec(r[5]), _dec(r[6])) for r in cur.fetchall()]

    def doors(self):
        with self.lock:
            cur = self.conn.cursor()
            cur.execute("SELECT DISTINCT door FROM events UNION SELECT door FROM state")
            return sorted(r[0] for r in cur.fetchall())

    def state(self, door):
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._q("SELECT body, online FROM state WHERE door = ?"), (door,))
            row = cur.fetchone()
        return None if row is None else dict(json.loads(row[0]), online=bool(row[1]))

    def result(self, door, counter):
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._q("SELECT body FROM results WHERE door = ? AND counter = ?"), (door, counter))
            row = cur.fetchone()
        return None if row is None else json.loads(row[0])

    def clear(self):
        """Delete every row (tests)."""
        with self.lock:
            cur = self.conn.cursor()
            for t in ("events", "state", "results"):
                cur.execute("DELETE FROM " + t)
            self.conn.commit()

    def close(self):
        with self.lock:
            self.conn.close()


def _tls(client, ca):
    """TLS to the broker, trusting the certificate file `ca` (PEM) and checking the broker's name."""
    if ca is None:
        return
    try:
        client.tls_set(ca_certs=str(ca))
    except (OSError, ValueError) as e:  # (ssl.SSLError is an OSError)
        raise FleetError("the broker's certificate %s: %s" % (ca, getattr(e, "strerror", None) or e))


def _connect(client, host, port):
    import ssl
    try:
        client.connect(host, port, 30)
    except ssl.SSLCertVerificationError as e:
        raise FleetError("TLS to the broker at %s:%d failed: its certificate is not the trusted one (%s)"
                         % (host, port, e.verify_message or e.reason))
    except ssl.SSLError as e:
        raise FleetError("TLS to the broker at %s:%d failed: %s" % (host, port, e.reason or e))
    except OSError as e:
        raise FleetError("no MQTT broker at %s:%d (%s)" % (host, port, e.strerror or e))


def result_signed(secret, door_id, r):
    """Whether a result dict (as published on PREFIX/DOOR/result) carries the door's own MAC
    (lockctl.command.result_mac): results made up on the broker are not taken for the lock's."""
    import struct
    from lockctl.command import result_mac
    from lockctl.hmac256 import equal
    from lockctl.names import OP_NAMES
    try:
        op = OP_NAMES.index(r["op"]) if r["op"] != "?" else 0
        last = int(r.get("last", 0))
        want = result_mac(secret, door_id.encode(), int(r["counter"]), op, int(r["reason"]), last)
        return (r["ok"] is (r["reason"] == 0)) and equal(bytes.fromhex(r["mac"]), want)
    except (KeyError, TypeError, ValueError, AttributeError, struct.error):  # (a field missing or out of range)
        return False


class Collector:
    """Subscribes to PREFIX/+/events, state, online and result of the doors it knows (doors:
    {door_id text: secret bytes}), stores them in db, acks each stored batch to its lock.
    group: an MQTT shared-subscription group for the events (several collectors, one broker)."""

    def __init__(self, db, doors, host="127.0.0.1", port=1883, prefix="doorkit", group=None, client_id=None,
                 on_event=None, ha=None, ha_commands=None, tls_ca=None):
        """ha: {door_id: name} to announce to Home Assistant (doorkit.homeassistant), or None;
        ha_commands: {door_id: next_counter(at_least=0)} to bridge Home Assistant's LOCK/UNLOCK
        on PREFIX/DOOR/ha/set into signed commands, or None (off)."""
        self.db = db
        self.ha = ha
        self.ha_commands = ha_commands or {}
        self.names = {}  # door -> {user index: name} for the last-user sensor (set by the caller)
        self.doors = {d: bytes(s) for d, s in doors.items()}
        self.host = host
        self.port = port
        self.prefix = prefix
        self.group = group
        self.on_event = on_event  # fn(door, record) for each new record (notifications), or None
        self.stored = 0  # records newly stored
        self.batches = 0
        self.duplicates = 0  # records received again (resends)
        self.refused = 0  # messages that did not verify, or of unknown doors
        self.bridged = 0  # Home Assistant commands sent on as signed ones
        self.errors = []
        self.connected = threading.Event()
        self.crash_before_ack = False  # (fault tests) die after the commit, before the ack
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or "", clean_session=True)
        self.c.on_connect = self._on_connect
        self.c.on_socket_open = _nodelay
        self.c.on_disconnect = lambda *a: self.connected.clear()
        self.c.on_message = self._on_message
        self.c.reconnect_delay_set(0.2, 5)
        _tls(self.c, tls_ca)

    def start(self, timeout=20):
        _connect(self.c, self.host, self.port)
        self.c.loop_start()
        if not self.connected.wait(timeout):
            self.stop()
            raise FleetError("the broker at %s:%d did not accept the collector within %g s" % (
                self.host, self.port, timeout))
        return self

    def stop(self):
        self.c.loop_stop()
        try:
            self.c.disconnect()
        except Exception:
            pass

    def _on_connect(self, c, userdata, flags, rc, props=None):
        if rc != 0:
            self.errors.append("broker refused the collector: %s" % rc)
            return
        p = self.prefix
        ev = "%s/+/events" % p
        subs = [("$share/%s/%s" % (self.group, ev) if self.group else ev, 1), ("%s/+/state" % p, 1),
                ("%s/+/online" % p, 1), ("%s/+/result" % p, 1)]
        if self.ha_commands:
            subs.append(("%s/+/ha/set" % p, 1))
        c.subscribe(subs)
        if self.ha is not None:
            from doorkit import homeassistant
            homeassistant.publish(c, self.ha, p)
        self.connected.set()

    def _on_message(self, c, userdata, m):
        try:
            self._handle(m.topic, m.payload)
        except Exception as e:  # one bad message never stops the collector
            self.errors.append("%s: %s" % (m.topic, e))

    def _handle(self, topic, payload):
        from lockctl.upload import read_events, ack, UploadError
        parts = topic.split("/")
        if len(parts) == 4 and parts[0] == self.prefix and parts[2:] == ["ha", "set"]:
            return self._ha_set(parts[1], payload)
        if len(parts) != 3 or parts[0] != self.prefix:
            return
        door, kind = parts[1], parts[2]
        secret = self.doors.get(door)
        if secret is None:
            self.refused += 1
            return
        if kind == "events":
            try:
                start, last, recs = read_events(payload, secret, door.encode())
            except UploadError as e:
                self.refused += 1
                self.errors.append("%s: %s" % (topic, e))
                return
            new = self.db.add_events(door, recs)  # committed
            self.batches += 1
            self.stored += len(new)
            self.duplicates += len(recs) - len(new)
            if self.crash_before_ack:
                return
            self.c.publish("%s/%s/ack" % (self.prefix, door), ack(secret, door.encode(), start, last), qos=1)
            if self.on_event is not None:
                for r in new:
                    self.on_event(door, r)
            if self.ha is not None:
                self._last_user(door, new)
        elif kind == "state":
            try:
                json.loads(payload)
            except ValueError:
                return
            self.db.set_state(door, body=payload.decode())
        elif kind == "online":
            self.db.set_state(door, online=payload == b"online")
        elif kind == "result":
            try:
                r = json.loads(payload)
            except ValueError:
                return
            if not isinstance(r, dict) or not result_signed(secret, door, r):
                self.refused += 1  # made up on the broker (or mangled): not the lock's
                return
            self.db.add_result(door, int(r["counter"]), payload.decode())



    def _last_user(self, door, new):
        from lockctl.codes import LOG_UNLOCK
        for r in reversed(new):
            if r[4] == LOG_UNLOCK and type(r[6]) is int:
                who = self.names.get(door, {}).get(r[6], "user %d" % r[6])
                self.c.publish("%s/%s/ha/last_user" % (self.prefix, door), who, qos=1, retain=True)
                return

    def _ha_set(self, door, payload):
        """Home Assistant's LOCK / UNLOCK, bridged into a signed command (only when enabled)."""
        from lockctl.codes import OP_LOCK, OP_UNLOCK
        from lockctl.command import build
        nxt = self.ha_commands.get(door)
        op = {b"LOCK": OP_LOCK, b"UNLOCK": OP_UNLOCK}.get(bytes(payload).strip().upper())
        if nxt is None or op is None or door not in self.doors:
            self.refused += 1
            return
        msg = build(self.doors[door], door.encode(), nxt(), op, int(time.time()) + 60)
        self.c.publish("%s/%s/cmd" % (self.prefix, door), msg, qos=1, retain=False)
        self.bridged += 1


class Remote:
    """Signed commands to one door over the broker. next_counter(at_least=0): -> the counter to use,
    above at_least, saved durably before it is returned (provision.next_command_counter)."""

    def __init__(self, door_id, secret, next_counter, host="127.0.0.1", port=1883, prefix="doorkit", tls_ca=None):
        self.door = door_id
        self.secret = bytes(secret)
        self.next_counter = next_counter
        self.prefix = prefix
        self.results = {}
        self.forged = 0
        self.cv = threading.Condition()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        self.c.on_message = self._on_message
        self.c.on_socket_open = _nodelay
        self.ready = threading.Event()
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.states = 0  # state messages seen
        self.last_state = None
        _tls(self.c, tls_ca)
        _connect(self.c, host, port)
        self.c.loop_start()
        self.c.subscribe([("%s/%s/result" % (prefix, door_id), 1), ("%s/%s/state" % (prefix, door_id), 1)])
        if not self.ready.wait(20):
            self.close()
            raise FleetError("the broker at %s:%d did not answer" % (host, port))

    def _on_message(self, c, u, m):
        try:
            r = json.loads(m.payload)
            with self.cv:
                if m.topic.endswith("/state"):
                    self.states += 1
                    self.last_state = r
                elif isinstance(r, dict) and result_signed(self.secret, self.door, r):
                    self.results[int(r["counter"])] = r
                else:
                    self.forged += 1  # a result the door did not sign: never taken for its answer
                self.cv.notify_all()
        except (ValueError, KeyError, TypeError):
            pass

    def wait_state(self, pred, timeout=30.0):
        """The door's next state message for which pred(state) is true (FleetError after timeout)."""
        end = time.monotonic() + timeout
        with self.cv:
            while self.last_state is None or not pred(self.last_state):
                left = end - time.monotonic()
                if left <= 0:
                    raise FleetError("door %s did not report the expected state within %g s" % (self.door, timeout))
                self.cv.wait(left)
            return self.last_state

    def send(self, op, args=b"", user=None, ttl=60, timeout=30.0, now=None):
        """Sign and publish one command; -> the lock's result dict ({"counter", "op", "ok",
        "reason"}), or FleetError when none came within timeout (the command may still act: its
        expiry bounds when). A lock that says the counter is behind its own ("replay", with its
        last one) gets the command once more, with a counter past it."""
        from lockctl.codes import R_REPLAY
        counter = self.next_counter()
        r = self._send(op, args, user, ttl, timeout, now, counter)
        if r.get("reason") == R_REPLAY and isinstance(r.get("last"), int) and r["last"] > counter:
            # (r["last"] == counter: the lock took this very command before, its answer lost: it
            # acted once and must not be sent again under another number)
            r = self._send(op, args, user, ttl, timeout, now, self.next_counter(r["last"]))
        return r

    def _send(self, op, args, user, ttl, timeout, now, counter):
        from lockctl.command import build
        now = int(time.time()) if now is None else now
        msg = build(self.secret, self.door.encode(), counter, op, now + ttl, args, user)
        self.c.publish("%s/%s/cmd" % (self.prefix, self.door), msg, qos=1, retain=False).wait_for_publish(timeout)
        end = time.monotonic() + timeout
        with self.cv:
            while counter not in self.results:
                left = end - time.monotonic()
                if left <= 0:
                    raise FleetError("no answer from door %s within %g s (is it online?)" % (self.door, timeout))
                self.cv.wait(left)
            return self.results[counter]

    def close(self):
        self.c.loop_stop()
        try:
            self.c.disconnect()
        except Exception:
            pass


class MqttLink:
    """The board calls a key push needs (doorkit.provision.push: call("status"), put(), call("install"))
    over the broker instead of the USB line: the bundle goes as signed OP_BUNDLE pieces (offset,
    total, up to 1016 bytes each), a piece the lock is still writing the last one for is sent again,
    and the install is done when the door's state shows the new version."""

    PIECE = 1016

    def __init__(self, remote, timeout=60.0):
        self.r = remote
        self.timeout = timeout
        self.port = "mqtt door %s" % remote.door
        self._data = None

    def call(self, name, *args):
        from lockctl.codes import OP_STATUS
        if name == "status":
            before = self.r.states
            res = self.r.send(OP_STATUS, timeout=self.timeout)
            if not res.get("ok"):
                return {"door": None}
            st = self.r.wait_state(lambda s: self.r.states > before, self.timeout)
            return {"door": self.r.door, "keys_version": st.get("keys"), "keys_count": st.get("credentials")}
        if name == "install":
            return self._install()
        raise FleetError("no board call %s over MQTT" % name)

    def put(self, data, path):
        self._data = bytes(data)

    def _install(self):
        import struct
        from lockctl.bundle import HEADER, BundleError, parse_header
        from lockctl.codes import OP_BUNDLE, R_BUSY
        from lockctl.record import reason_name
        data = self._data
        total = len(data)
        try:
            version = parse_header(data[:HEADER], self.r.secret, self.r.door.encode())[2]
        except BundleError as e:
            return reason_name(e.reason).replace("-", "_")
        off = 0
        while off < total:
            piece = data[off:off + self.PIECE]
            args = struct.pack("<II", off, total) + piece
            end = time.monotonic() + self.timeout
            while True:
                r = self.r.send(OP_BUNDLE, args, timeout=self.timeout)
                if r.get("reason") != R_BUSY or time.monotonic() > end:
                    break
                time.sleep(0.05)  # the lock is writing the last piece: this one again
            if not r.get("ok"):
                return reason_name(r.get("reason")).replace("-", "_")
            off += len(piece)
        self.r.wait_state(lambda s: s.get("keys") == version, self.timeout)
        return "ok"
