"""TLS to the broker end to end, as an installer sets it up: `doorkit provision broker-cert` makes
the site broker's certificate, `provision network --tls-ca` pins it in the door, `doorkit image`
puts it on the board; the unmodified firmware on a virtual board (the unix port's ssl, mbedtls)
talks MQTT over TLS to a real broker (amqtt; mosquitto when installed) with the collector and
`doorkit remote` on TLS too. A door pinned to another certificate never gets online: its LINK
records say tls. No plain connection is ever made: the broker has no plain listener."""
import base64
import subprocess

from doorkit.fleet import Collector, FleetDB
from doorkit.provision import load_door
from doorkit.sim.vboard.supervisor import VirtualBoard
from lockctl.codes import LOG_UNLOCK, SRC_REMOTE
from lockshell import net as N
from conftest import DOORKIT, doorkit_cli, link_statuses, wait_for


def dk(*argv, **kw):
    p = doorkit_cli(*argv, **kw)
    return p.stdout + p.stderr


def _try(fn):
    try:
        return fn()
    except AssertionError:
        return None


def _door(tmp_path, name, broker, ca):
    d = tmp_path / "doors" / name
    dk("provision", "new", d, "--door-id", name)
    out = dk("provision", "network", d, "--broker", "127.0.0.1:%d" % broker.port, "--tls-ca", ca, "--keepalive", "10")
    assert "TLS pinned to CN=127.0.0.1 (127.0.0.1)" in out, out
    dk("image", "--format", "raw", "--door", d, "--out", tmp_path / (name + ".img"))
    return d, VirtualBoard(str(tmp_path / (name + ".img")), listen=("127.0.0.1", 0)).start()


def test_a_door_pinned_to_the_brokers_certificate_works_over_tls_one_pinned_to_another_never_connects(
        tmp_path, tls_broker):
    broker, cert = tls_broker
    other = tmp_path / "other"
    dk("provision", "broker-cert", other, "--ip", "127.0.0.1")  # the same address, another key
    b = ("--broker", "127.0.0.1:%d" % broker.port)
    front, vb = _door(tmp_path, "front", broker, cert)
    back, vb2 = _door(tmp_path, "back", broker, other / "broker.pem")
    db = FleetDB(str(tmp_path / "fleet.sqlite"))
    col = Collector(db, {"front": load_door(front).secret, "back": load_door(back).secret}, broker.host, broker.port,
                    tls_ca=cert).start()
    try:
        wait_for(lambda: (db.state("front") or {}).get("link") == "online", "the board online over TLS",
                 show=lambda: db.state("front"))
        dk("calibrate", "--port", "socket://%s:%d" % vb.listen_addr)
        wait_for(lambda: (db.state("front") or {}).get("link") == "online", "the board online again")
        ca = ("--broker-ca", cert)
        assert "clock done" in wait_for(lambda: _try(lambda: dk("remote", "clock", front, *b, *ca, "--timeout", "5")),
                                        "the door online again for a command")
        assert "unlock done" in dk("remote", "unlock", front, *b, *ca)
        wait_for(lambda: any(r[4] == LOG_UNLOCK and r[5] == SRC_REMOTE for r in db.records("front")),
                 "the remote unlock's record, uploaded over TLS")
        # the host tools check the broker too: trusting another certificate, or none, they stop
        err = dk("remote", "status", front, *b, "--broker-ca", other / "broker.pem", code=4)
        assert "TLS to the broker at 127.0.0.1:%d failed: its certificate is not the trusted one" % broker.port in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        err = dk("remote", "status", front, *b, "--broker-ca", tmp_path / "nope.pem", code=2)
        assert "nope.pem" in err and "Traceback" not in err
        dk("fleet", "serve", "--doors", tmp_path / "doors", *b, "--broker-ca", other / "broker.pem", "--db",
           tmp_path / "f2.sqlite", "--for", "1", code=4)
        # the door pinned to the other certificate: its link says tls, over and over; never online
        links = link_statuses(vb2, back, "tls")
        assert "online" not in links and links[:2] == ["connecting", "tls"], links
        assert db.state("back") is None and db.records("back") == []
    finally:
        col.stop()
        vb.stop()
        vb2.stop()


def test_the_lock_reads_its_pinned_certificate_and_refuses_what_is_not_one(tmp_path):
    cert = tmp_path / "c"
    dk("provision", "broker-cert", cert, "--ip", "10.0.0.2")
    pem = (cert / "broker.pem").read_text()
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))

    def load(tls):
        p = tmp_path / "net.json"
        import json
        p.write_text(json.dumps({"broker": "10.0.0.2", "port": 8883, "tls": tls}))
        return N.load(str(p))
    got = load({"ca": base64.b64encode(der).decode(), "name": None})
    assert got["tls"] == {"ca": der, "name": None}
    ctx = N.tls_context(got["tls"]["ca"])  # CPython's ssl takes it as the firmware's does
    assert ctx.verify_mode == 2  # CERT_REQUIRED
    assert load({"ca": "not base64!"}) == (None, "tls ca is not a base64 DER certificate")
    assert load({"ca": base64.b64encode(b"\x31" * 100).decode()}) == (None, "tls ca is not a base64 DER certificate")
    assert load({"ca": 5}) == (None, "tls needs a ca (base64 DER) and a name or null")
    assert load("yes") == (None, "tls needs a ca (base64 DER) and a name or null")
    assert load({"ca": base64.b64encode(der).decode(), "name": 7})[0] is None
    # an image of a door whose door.toml was edited by hand with a broken certificate: refused, one line
    d = tmp_path / "d"
    dk("provision", "new", d, "--door-id", "d")
    dk("provision", "network", d, "--broker", "10.0.0.2", "--tls-ca", cert / "broker.pem")
    toml = (d / "door.toml").read_text()
    (d / "door.toml").write_text(toml.replace('ca = "MII', 'ca = "!!!'))
    p = subprocess.run([DOORKIT, "image", "--format", "raw", "--door", str(d), "--out", str(tmp_path / "x.img")],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and "tls ca is not a base64 DER certificate" in p.stderr and "Traceback" not in p.stderr


def test_the_installers_tls_options_and_their_one_line_errors(tmp_path):
    d, certs = tmp_path / "front", tmp_path / "certs"
    dk("provision", "new", d, "--door-id", "front")
    dk("provision", "broker-cert", certs, "--ip", "192.168.1.10", "--name", "broker.lan")
    assert "exists" in dk("provision", "broker-cert", certs, "--ip", "192.168.1.10", code=7)  # never overwritten
    assert oct((certs / "broker-key.pem").stat().st_mode & 0o777) == "0o600"
    assert "not an IPv4 address" in dk("provision", "broker-cert", tmp_path / "c2", "--ip", "192.168.1", code=2)
    assert "needs --ip" in dk("provision", "broker-cert", tmp_path / "c3", code=2)
    out = dk("provision", "network", d, "--broker", "192.168.1.10", "--tls-ca", certs / "broker.pem")
    assert "broker 192.168.1.10:8883" in out and "TLS pinned to CN=broker.lan (192.168.1.10, broker.lan)" in out
    assert "as broker.lan" in dk("provision", "network", d, "--tls-name", "broker.lan")
    assert "TLS pinned" in dk("provision", "show", d)
    assert "not an X.509 certificate" in dk("provision", "network", d, "--tls-ca", d / "door.toml", code=6)
    assert "--off takes no other setting" in dk("provision", "network", d, "--off", "--no-tls", code=2)
    assert "--no-tls takes no" in dk("provision", "network", d, "--no-tls", "--tls-ca", certs / "broker.pem", code=2)
    out = dk("provision", "network", d, "--no-tls")
    assert "broker 192.168.1.10:1883" in out and "TLS" not in out  # back to plain MQTT's port
    assert "--tls-name needs --tls-ca" in dk("provision", "network", d, "--tls-name", "x", code=2)
    assert "TLS" not in dk("provision", "show", d)
    assert "the embedded one is plain MQTT" in dk("fleet", "serve", "--doors", d, "--broker", "embedded",
                                                  "--broker-ca", certs / "broker.pem", code=2)
