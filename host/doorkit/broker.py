"""Real MQTT brokers on loopback for the demo, the tests and `doorkit fleet serve --broker embedded`:
amqtt (pure Python, installed with doorkit: the embedded default) or mosquitto (when installed; CI
installs Debian's). Each runs as its own process with its own configuration and persistence
directory, so a test can stop and restart it mid-upload as a real broker restart.

    with Broker("amqtt") as b:          # b.host, b.port, b.url ("mqtt://127.0.0.1:PORT")
        ...
        b.restart()                      # stop (SIGTERM), start again on the same port
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KINDS = ("amqtt", "mosquitto")


class BrokerError(Exception):
    pass


def mosquitto_binary():
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None)


def available():
    """The broker kinds this machine can run."""
    return [k for k in KINDS if k == "amqtt" or mosquitto_binary()]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    def __init__(self, kind="amqtt", port=0, host="127.0.0.1", workdir=None, tls=None, subscribe_acl=None):
        """tls: (certificate PEM file, key PEM file): the listener speaks MQTT over TLS only.
        subscribe_acl: (amqtt) the topic filters anyone may subscribe to; others get SUBACK 0x80
        (mosquitto 2.0's acl_file grants every subscription and filters the messages instead)."""
        if subscribe_acl is not None and kind != "amqtt":
            raise BrokerError("a subscribe ACL here is amqtt's, not %s's" % kind)
        self.subscribe_acl = subscribe_acl
        if kind not in KINDS:
            raise BrokerError("broker kind %r: one of %s" % (kind, ", ".join(KINDS)))
        if kind == "mosquitto" and mosquitto_binary() is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.kind = kind
        self.host = host
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="doorkit-broker-")
        self.proc = None
        self.starts = 0
        self.tls = None
        if tls is not None:  # (copied in, readable: mosquitto started by root reads them as its own user)
            os.chmod(self.dir, 0o755)
            self.tls = []
            for src, name in zip(tls, ("cert.pem", "key.pem")):
                dst = os.path.join(self.dir, name)
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o644)
                self.tls.append(dst)

    @property
    def url(self):
        return "%s://%s:%d" % ("mqtts" if self.tls else "mqtt", self.host, self.port)

    def _command(self):
        if self.kind == "amqtt":
            conf = os.path.join(self.dir, "amqtt.yaml")
            with open(conf, "w") as f:
                f.write("listeners:\n  default:\n    type: tcp\n    bind: %s:%d\n%s"
                        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                        "    allow_anonymous: true\n" % (self.host, self.port, "    ssl: true\n    certfile: %s\n"
                                                      "    keyfile: %s\n" % tuple(self.tls) if self.tls else ""))
                if self.subscribe_acl is not None:
                    # (amqtt 0.12's "acl" is the subscribe ACL: its "subscribe-acl" does not load)
                    f.write("  amqtt.plugins.topic_checking.TopicAccessControlListPlugin:\n    acl:\n"
                            "      anonymous: [%s]\n" % ", ".join(json.dumps(t) for t in self.subscribe_acl))
            exe = os.path.join(os.path.dirname(sys.executable), "amqtt")
            return [exe if os.path.exists(exe) else "amqtt", "-c", conf]
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d %s\nallow_anonymous true\npersistence true\npersistence_location %s/\nset_tcp_nodelay true\n"
                    "autosave_interval 1\nmax_queued_messages 0\n"
                    % (self.port, self.host, self.dir))
            if self.tls:
                f.write("certfile %s\nkeyfile %s\n" % tuple(self.tls))

        return [mosquitto_binary(), "-c", conf]

    def start(self, timeout=20.0):
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = open(os.path.join(self.dir, "broker.log"), "ab")
        self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True)
        log.close()
        end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BrokerError("%s exited at start (code %d): see %s" % (
                    self.kind, self.proc.returncode, os.path.join(self.dir, "broker.log")))
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > end:
                    self.stop()
                    raise BrokerError("%s did not listen on %s:%d within %g s" % (
                        self.kind, self.host, self.port, timeout))
                time.sleep(0.05)
        self.starts += 1
        return self

    def stop(self, kill=False):
        p = self.proc
        if p is None:
            return
        self.proc = None
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)

    def restart(self, kill=False):
        self.stop(kill)
        return self.start()

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
