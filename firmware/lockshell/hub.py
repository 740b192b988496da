# The hub: the lock's MQTT link to the fleet side (docs/network.md). Hub is the link's logic without
# a socket: bytes from the broker and the link's own clock in (ms, any monotonic int: `now` below),
# bytes to send out (take()); what it does to the lock happens at the App's time (App.now_ms()),
# so records keep the App's time base. run_hub() is the small
# asyncio task that owns the socket, reconnecting forever with back-off and jitter. Nothing here
# waits on the network inside the App's loop: the App runs in its own task and only ever sees
# submit() / set_clock() / note() calls, each as quick as a button press.
#
# Topics under PREFIX/DOOR (PREFIX "doorkit" by default):
#   online  retained "online" / "offline" (the last will: the broker says it when the link dies)
#   state   retained JSON: bolt, door, battery, error, firmware, keys version, link status
#   events  QoS 1: signed batches of flash log records (lockctl/upload.py), in sequence order
#           from the log's upload cursor; a record leaves the lock's care only when the collector
#           acknowledges it on `ack` (after its database commit), never on the broker's PUBACK
#   ack     (subscribed) signed acks from the collector
#   cmd     (subscribed) signed commands (lockctl/command.py); never acted on when retained
#   result  QoS 1 JSON: {"counter", "op", "ok", "reason": R_* or 0} for each command
import json

from micropython import const

from lockctl import mqtt as M
from lockctl.command import Gate, CommandError, mac4, result_mac
from lockctl.upload import Batcher, read_ack, UploadError, MAX_BATCH
from lockctl.tally import T_CMD_COUNTER, T_CMD_MAC
from lockctl.names import STATE_NAMES, BATTERY_NAMES, OP_NAMES, LINK_NAMES
from lockctl.codes import (EV_REMOTE, EV_CONFIG, LOG_COMMAND, LOG_COMMAND_REFUSED, LOG_LINK, OP_LOCK, OP_UNLOCK,
                           OP_CONFIG, OP_CLOCK, OP_URL_KEY, OP_BUNDLE, OP_STATUS, R_DUPLICATE, R_FORMAT, R_CORRUPT, R_REPLAY,
                           R_BUSY, R_NO_MEMORY, JAMMED)

# link status (state "link", LINK records, the LED): what "hub not online" means, by stage
LINK_OFF = const(0)  # no network configured
LINK_WIFI = const(1)  # joining the Wi-Fi
LINK_WIFI_FAILED = const(2)  # the Wi-Fi refused us (wrong password) or is not there
LINK_CONNECTING = const(3)  # TCP to the broker
LINK_UNREACHABLE = const(4)  # no answer from the broker's address (or the connection dropped)
LINK_REFUSED = const(5)  # the broker refused the CONNECT (credentials, client id)
LINK_PROTOCOL = const(6)  # the broker broke the protocol, or went silent (keepalive)
LINK_ONLINE = const(7)
LINK_DENIED = const(8)  # the broker refused the subscription to commands and acks (its ACL)
LINK_TLS = const(9)  # TLS failed: the broker's certificate is not the pinned one, or the handshake

TX = const(1000)  # the session's buffers: an event batch (893 bytes) and its topic go out in one
RX = const(1150)  # packet; a command (at most 38 + 1024 + 32 bytes) and its topic come in in one
WINDOW = const(16)  # event batches out and not yet acknowledged by the collector (no RAM each: a resend reads the flash)
RESEND_MS = const(30000)  # no ack for this long: send again from the cursor (the collector dedupes)
STATE_MIN_MS = const(1000)  # at most one state message a second (a moving bolt changes it often)


class Hub:
    """app: lockshell.App; storage: lockshell.flash.Storage (its event log and tally); door_id,
    secret: bytes. version: the firmware's version text for the state message."""

    def __init__(self, app, storage, door_id, secret, prefix=b"doorkit", keepalive=60, version="",
                 user=None, password=None, batch=MAX_BATCH):
        self.app = app
        self.door_id = bytes(door_id)
        self.fl = storage
        self.log = storage.log
        self.tally = storage.tally
        self.version = version
        base = bytes(prefix) + b"/" + bytes(door_id)
        self.t_online = base + b"/online"
        self.t_state = base + b"/state"
        self.t_events = base + b"/events"
        self.t_ack = base + b"/ack"
        self.t_cmd = base + b"/cmd"
        self.t_result = base + b"/result"
        self.session = M.Session(b"doorkit-" + bytes(door_id), keepalive, will=(self.t_online, b"offline", 1, True),
                                 clean=True, user=user, password=password, tx=TX, rx=RX)
        t = self.tally
        self.gate = Gate(secret, door_id, t.get(T_CMD_COUNTER) if t is not None else 0,
                         t.get(T_CMD_MAC, b"", None) if t is not None else None)
        self.batch = Batcher(secret, door_id, batch)
        self.status = LINK_OFF
        self.resend_ms = RESEND_MS
        self.connects = 0
        self.acked = 0  # collector acks taken
        self.refused = 0  # commands refused
        self.last_error = None  # an unexpected exception the task caught (then it reconnected)
        self.unsendable = 0  # records the event batch could not encode (left out of their span)
        self._quiet_until = None  # (now) refusals of unverified messages are logged at most once a minute
        self._out = []
        self.send = None  # fn(view): write a packet now (the task's stream writer); None: keep for take()
        self._sent = 0  # highest seq sent on this connection
        self._flight = []  # [(from, last, ms sent)] of batches not yet acknowledged
        self._early = []  # acknowledged spans not yet joined to the cursor (an earlier ack is missing)
        self._state = None  # the last state message sent
        self._state_at = 0
        self._last_result = None  # (counter, message) of the last command: a duplicate gets it again
        self._bundle = None  # (total, received) of a bundle coming in pieces

    # -- the link ---------------------------------------------------------------------------------

    def start(self, now):
        """A new connection is open: -> the CONNECT packet."""
        self._out = []
        self._flight = []
        self._early = []
        self._sent = self.log.cursor if self.log is not None else 0
        self._state = None
        self.set_status(now, LINK_CONNECTING)
        return bytes(self.session.connect(now))

    def lost(self, now, status=LINK_UNREACHABLE):
        """The connection failed or dropped."""
        self.session.closed()
        self.set_status(now, status)

    def set_status(self, now, status):
        """A new link status: logged (LINK record) and shown in the state once online."""
        if status != self.status:
            self.status = status
            self.app.note(self.app.now_ms(), LOG_LINK, status)

    def space(self):
        """Where the task reads the broker's bytes into (no allocation); then filled(n, now)."""
        return self.session.space()

    def filled(self, n, now):
        self.session.filled(n, now)
        self._events(now)

    def receive(self, data, now):
        """Bytes from the broker. MqttError when the session died (then lost())."""
        mv = memoryview(data)
        i = 0
        while i < len(mv):
            i += self.session.receive(mv[i:], now)
            self._events(now)

    def poll(self, now):
        """Keepalive, the upload and the state: call it every few hundred ms while connected."""
        s = self.session
        self._send(s.poll(now))
        if s.state != M.UP:
            return
        self._upload(now)
        self._publish_state(now, False)

    def next_deadline(self):
        d = self.session.next_deadline()
        if self._flight:
            r = self._flight[0][2] + self.resend_ms
            d = r if d is None or r < d else d
        return d

    def take(self):
        """Everything to send now, as one bytes object (b"" when nothing)."""
        out = b"".join(self._out)
        self._out = []
        return out

    def pending(self):
        """Records on the lock not yet acknowledged by the collector."""
        return (self.log.next_seq - 1 - self.log.cursor) if self.log is not None else 0

    # -- internals --------------------------------------------------------------------------------

    def _send(self, view):
        if view is None:
            return
        if self.send is not None:
            self.send(view)  # (a view of the session's buffer: written, or copied, before the next packet)
        else:
            self._out.append(bytes(view))

    def _events(self, now):
        s = self.session
        while True:
            ev = s.next_event()
            if ev is None:
                return
            k = ev[0]
            if k == M.CONNACK:
                self.connects += 1
                self.set_status(now, LINK_ONLINE)
                self._send(s.subscribe([(self.t_cmd, 1), (self.t_ack, 1)], now))
                self._send(s.publish(self.t_online, b"online", 1, True, now))
                self._publish_state(now, True)
            elif k == M.PUBLISH:
                topic, payload, qos, retain, pid = ev[1], ev[2], ev[3], ev[4], ev[6]
                if topic == self.t_ack:
                    self._ack(payload, now)
                elif topic == self.t_cmd:
                    self._command(payload, retain, now)
                if qos:
                    self._send(s.puback(pid, now))  # after it was handled (acted on, or refused)
            elif k == M.SUBACK and b"\x80" in ev[2]:  # (no acks would ever arrive, no commands)
                raise M.MqttError(M.E_DENIED, "broker refused the subscription (its ACL)")
            elif k == M.TOO_BIG:
                if ev[2]:
                    self._send(s.puback(ev[3], now))
                if ev[1] == self.t_cmd:
                    self._refused(now, CommandError(R_CORRUPT, "command larger than the receive buffer"))

    def _ack(self, payload, now):
        try:
            span = read_ack(payload, self.gate.secret, self.door_id)
        except UploadError:
            return  # not the collector's: ignored (a forged ack drops nothing)
        log = self.log
        if log is None:
            return
        self.acked += 1
        early = self._early
        early.append(span)
        moved = True
        while moved:  # the cursor moves over every span that starts at or before it, in any order
            moved = False
            for sp in early:
                if sp[0] <= log.cursor + 1:
                    early.remove(sp)
                    if sp[1] > log.cursor:
                        log.ack(sp[1])  # durable: these records may now be dropped when the ring needs room
                    moved = True
                    break
        if len(early) > WINDOW:  # spans past a gap that never closed: a resend acks them again
            early.pop(0)
        self._flight = [f for f in self._flight if f[1] > log.cursor]

    def _upload(self, now):
        log = self.log
        if log is None:
            return
        cur = log.cursor
        if self._flight and now - self._flight[0][2] >= self.resend_ms:
            self._flight = []  # no ack came: everything after the cursor goes again
            self._sent = cur
        if self._sent < cur:
            self._sent = cur
        top = log.next_seq - 1
        while len(self._flight) < WINDOW and self._sent < top:
            b = self.batch
            b.clear(self._sent + 1)
            for r in log.records(self._sent + 1):
                try:
                    if not b.add(r):
                        break
                except ValueError:  # a record the batch cannot carry: counted, never a stuck upload
                    self.unsendable += 1
            if not b.n:  # nothing left on flash up to top (torn, or dropped by a full ring): say so
                b.last = top
            self._send(self.session.publish(self.t_events, b.message(), 1, False, now))
            self._sent = b.last
            self._flight.append((b.first, b.last, now))

    def state(self):
        """The state message's fields (a dict)."""
        app = self.app
        core = app.core
        err = ""
        if core is not None:
            if core.state == JAMMED:
                err = "jammed"
            elif core.reader_down:
                err = "reader"
            elif not core.door_known:
                err = "door-sensor"
        if not err and self.fl.faults:
            err = "storage"
        return {"bolt": STATE_NAMES[core.state] if core is not None else "?",
                "door": ("open" if core.door_open else "closed") if core is not None and core.door_known else "unknown",
                "battery": BATTERY_NAMES[core.battery] if core is not None else "?",
                "error": err, "firmware": self.version, "keys": getattr(self.fl.keys, "version", 0),
                "credentials": len(self.fl.keys),
                "link": LINK_NAMES[self.status], "pending": self.pending()}

    def _publish_state(self, now, force):
        if not force and now - self._state_at < STATE_MIN_MS:
            return
        msg = json.dumps(self.state())
        if force or msg != self._state:
            self._send(self.session.publish(self.t_state, msg.encode(), 1, True, now))
            self._state = msg
            self._state_at = now

    # -- commands ---------------------------------------------------------------------------------

    def _command(self, payload, retained, now):
        try:
            cmd = self.gate.check(payload, self.app.wall_at(self.app.now_ms()), retained)
        except CommandError as e:
            if e.reason == R_DUPLICATE and self._last_result is not None and self._last_result[0] == e.counter:
                self._send(self.session.publish(self.t_result, self._last_result[1], 1, False, now))
                return  # a redelivery: the result again, nothing done again
            self._refused(now, e)
            return
        if self.tally is not None:  # durable before anything is done (the MAC first: a cut between the
            self.tally.set(T_CMD_MAC, b"", mac4(cmd.mac))  # two leaves the old counter, nothing acted)
            self.tally.set(T_CMD_COUNTER, b"", cmd.counter)
        self.gate.accepted(cmd)
        reason = self._act(cmd, now)
        if reason:
            self.app.note(self.app.now_ms(), LOG_COMMAND_REFUSED, (reason, cmd.op), cmd.user)
        else:
            self.app.note(self.app.now_ms(), LOG_COMMAND, (cmd.op, cmd.counter), cmd.user)
        self._last_result = (cmd.counter, self._result(now, cmd.counter, cmd.op, reason))

    def _refused(self, now, e):
        self.refused += 1
        if not e.verified:
            # a message nobody signed (forged, foreign, junk, retained): logged at most once a minute
            # (a flood must not fill the flash log), answered without a counter (it proves nothing)
            q = self._quiet_until
            if q is None or now - q >= 0:
                self._quiet_until = now + 60000
                self.app.note(self.app.now_ms(), LOG_COMMAND_REFUSED, (e.reason, e.op if 0 < e.op < len(OP_NAMES) else 0),
                              None)
            self._result(now, 0, e.op, e.reason)
            return
        self.app.note(self.app.now_ms(), LOG_COMMAND_REFUSED, (e.reason, e.op if 0 < e.op < len(OP_NAMES) else 0), e.user)
        self._result(now, e.counter, e.op, e.reason)

    def _result(self, now, counter, op, reason):
        op = op if 0 < op < len(OP_NAMES) else 0
        d = {"counter": counter, "op": OP_NAMES[op], "ok": not reason,
             "reason": reason}  # (R_*: lockctl.record names it)
        last = self.gate.counter if reason == R_REPLAY else 0
        if last:
            d["last"] = last  # the sender's counter is behind: where to go on from
        d["mac"] = result_mac(self.gate.secret, self.door_id, counter, op, reason, last).hex()
        msg = json.dumps(d).encode()
        self._send(self.session.publish(self.t_result, msg, 1, False, now))
        return msg

    def _act(self, cmd, now):
        """Carry out an accepted command: -> 0, or the reason it could not be (R_*)."""
        op = cmd.op
        app = self.app
        if op == OP_URL_KEY or (op == OP_UNLOCK and cmd.args):
            try:
                from lockshell.urlcmd import act  # (loaded on the first one)
            except MemoryError:
                import gc
                gc.collect()  # (what the failed load had taken: the refusal is logged and sent next)
                return R_NO_MEMORY
            return act(self, cmd)
        if op == OP_LOCK or op == OP_UNLOCK:
            if cmd.args:
                return R_FORMAT
            app.submit(app.now_ms(), EV_REMOTE, ("lock" if op == OP_LOCK else "unlock", cmd.user))
            return 0
        if op == OP_STATUS:
            self._publish_state(now, True)
            return 0
        if op == OP_CLOCK:
            if len(cmd.args) != 4:
                return R_FORMAT
            app.set_clock(app.now_ms(), int.from_bytes(cmd.args, "little"))
            return 0
        if op == OP_CONFIG:
            try:
                changes = json.loads(cmd.args)
                if type(changes) is not dict:
                    return R_FORMAT
                app.submit(app.now_ms(), EV_CONFIG, changes)
            except ValueError:  # not JSON, or a setting the core refuses (LockError): nothing changed
                return R_FORMAT
            return 0
        if op == OP_BUNDLE:
            return self._bundle_piece(cmd.args, now)
        return R_FORMAT

    def _bundle_piece(self, args, now):
        from lockctl.bundle import HEADER
        if len(args) < 8:
            return R_FORMAT
        off = int.from_bytes(args[0:4], "little")
        total = int.from_bytes(args[4:8], "little")
        data = args[8:]
        app = self.app
        t = app.now_ms()
        if off == 0:
            if len(data) < HEADER or total < HEADER:
                return R_FORMAT
            self._bundle = None
            app.last_fault = None
            if not app.bundle_begin(t, data[:HEADER]):
                if app.last_fault is not None:  # not the bundle's fault: say what on the console
                    from lockshell.app import report_fault
                    report_fault(app.last_fault)
                return app.bundle_result[1]
            self._bundle = [total, HEADER]
            data = data[HEADER:]
        b = self._bundle
        if b is None or (off and off != b[1]):
            return R_CORRUPT  # a piece out of order: the host starts the bundle again
        if app.bundle_busy():
            return R_BUSY  # the last piece is still being written: the host sends this one again
        if data and not app.bundle_feed(t, data):
            self._bundle = None
            return app.bundle_result[1]
        b[1] += len(data)
        if b[1] >= b[0]:
            self._bundle = None
            if not app.bundle_end(t):
                return app.bundle_result[1]
        return 0


# -- the task ------------------------------------------------------------------------------------

POLL_MS = const(250)  # the hub wakes at least this often while connected (new records go up)
BACKOFF_MS = const(1000)  # the first wait before connecting again; doubled each failure ...
BACKOFF_MAX_MS = const(60000)  # ... up to this, each wait jittered to 50..100 % (a fleet that lost
STABLE_MS = const(60000)  #      its broker does not come back at once); online this long: reset


class Backoff:
    """Waits between connection attempts: BACKOFF_MS doubling to BACKOFF_MAX_MS, each drawn from
    50..100 % of its step with rand() in [0, 1), so many doors do not reconnect in step."""

    def __init__(self, rand, first=BACKOFF_MS, most=BACKOFF_MAX_MS):
        self.rand = rand
        self.first = first
        self.most = most
        self.step = first

    def next(self):
        s = self.step
        self.step = s * 2 if s * 2 < self.most else self.most
        return s // 2 + int(s // 2 * self.rand())

    def reset(self):
        self.step = self.first


class Clock:
    """A monotonic ms count from a wrapping tick (time.ticks_ms / ticks_diff), for the link's
    deadlines (a keepalive must not break when the tick wraps)."""

    def __init__(self, ticks_ms, ticks_diff):
        self.ticks_ms = ticks_ms
        self.ticks_diff = ticks_diff
        self._last = ticks_ms()
        self.t = 0

    def now(self):
        t = self.ticks_ms()
        self.t += self.ticks_diff(t, self._last)
        self._last = t
        return self.t


async def run_hub(hub, open_connection, clock, rand, sleep_ms, rounds=-1, tls=None):
    """Keep the hub connected forever. open_connection(): an awaitable of (reader, writer) for the
    broker (asyncio.open_connection(host, port[, ssl])); clock: Clock; rand() in [0, 1);
    sleep_ms: asyncio.sleep_ms on the board. rounds: connections to make (tests), -1 forever.
    tls(e): whether an exception is a TLS failure (lockshell.net's; None without TLS).
    Each connection has two tasks: this one polls (keepalive, upload, state) every POLL_MS or
    sooner, a reader task hands what arrives to the hub and sends its answers at once. Nothing is
    ever cancelled mid-read (MicroPython's streams do not take that well)."""
    import asyncio
    back = Backoff(rand)
    while rounds:
        if rounds > 0:
            rounds -= 1
        try:
            reader, writer = await open_connection()
        except Exception as e:  # OSError: unreachable; MemoryError and the like: reported, tried again later
            t = tls is not None and tls(e)
            if not t and not isinstance(e, OSError):
                hub.last_error = e
                from lockshell.app import report_fault
                report_fault(e)
            hub.lost(clock.now(), LINK_TLS if t else LINK_UNREACHABLE)
            await sleep_ms(back.next())
            continue
        began = clock.now()
        link = _Link(hub, reader, writer, clock, tls)
        reading = asyncio.create_task(link.pump())
        await link.serve(sleep_ms)
        hub.send = None
        try:
            writer.close()
            await writer.wait_closed()
        except Exception:
            pass
        waited = 0
        while not link.pumped and waited < 5000:  # the reader sees its socket closed
            await sleep_ms(20)
            waited += 20
        if not link.pumped:  # (it did not: it must not read into the next connection's buffer)
            reading.cancel()
        now = clock.now()
        hub.lost(now, link.status)
        if now - began >= STABLE_MS:
            back.reset()
        await sleep_ms(back.next())


def _wait_ms(aw, ms):
    import asyncio
    w = getattr(asyncio, "wait_for_ms", None)  # MicroPython
    if w is not None:
        return w(aw, ms)
    return asyncio.wait_for(aw, ms / 1000)  # CPython (the simulator, the tests)


class _Link:
    """One connection of run_hub: the poll loop (serve) and the reader (pump)."""

    def __init__(self, hub, reader, writer, clock, tls):
        self.hub = hub
        self.tls = tls
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.status = LINK_UNREACHABLE  # why it ended
        self.done = False
        self.pumped = False

    def _failed(self, e):
        from lockctl.mqtt import MqttError, E_REFUSED, E_DENIED
        if isinstance(e, MqttError):
            self.status = LINK_REFUSED if e.code == E_REFUSED else LINK_DENIED if e.code == E_DENIED else LINK_PROTOCOL
        elif self.tls is not None and self.tls(e):
            self.status = LINK_TLS
        elif not isinstance(e, OSError):  # a bug in the link must not end it for good (nor touch the lock)
            self.hub.last_error = e
            self.status = LINK_PROTOCOL
            from lockshell.app import report_fault
            report_fault(e)  # (on the console, as the App reports its faults)
        self.done = True

    async def _flush(self):
        # a peer gone without a word (an access point switched off) never drains a full send
        # buffer: bounded by the keepalive, as the silence is
        try:
            await _wait_ms(self.writer.drain(), self.hub.session.keepalive_ms * 3 // 2)
        except Exception as e:
            if type(e).__name__ in ("TimeoutError", "CancelledError") and not self.done:
                raise OSError(110)  # ETIMEDOUT
            raise

    async def pump(self):
        hub = self.hub
        into = getattr(self.reader, "readinto", None)  # MicroPython: straight into the session's buffer
        try:
            while not self.done:
                if into is not None:
                    n = await into(hub.space())
                    if n is None:
                        continue  # (TLS: readable, but no whole record yet)
                    if not n:
                        break  # the broker closed the connection
                    hub.filled(n, self.clock.now())
                else:
                    data = await self.reader.read(512)
                    if not data:
                        break
                    hub.receive(data, self.clock.now())
                await self._flush()
        except Exception as e:
            self._failed(e)
        self.done = True
        self.pumped = True

    async def serve(self, sleep_ms):
        hub = self.hub
        try:
            self.writer.write(hub.start(self.clock.now()))
            hub.send = self.writer.write  # every packet goes out as it is made (no copies queued)
            await self.writer.drain()
            while not self.done:
                now = self.clock.now()
                d = hub.next_deadline()
                wait = POLL_MS if d is None or d - now > POLL_MS else max(0, d - now)
                await sleep_ms(wait)
                if self.done:
                    break
                hub.poll(self.clock.now())
                await self._flush()
        except Exception as e:
            self._failed(e)
        self.done = True
