# The hub's network settings (/net.json, written by `doorkit provision` / `doorkit image`) and the
# tasks that bring the link up: Wi-Fi where the board has it (network.WLAN), then the hub's MQTT
# link (lockshell/hub.py). docs/network.md.
#
#   {"broker": "192.168.1.10", "port": 1883, "prefix": "doorkit", "keepalive": 60,
#    "user": null, "password": null, "wifi": {"ssid": "...", "password": "..."} or null,
#    "tls": {"ca": "<base64 DER>", "name": "broker.lan" or null} or null}
#
# tls: the broker's certificate (or its CA's) in DER, base64: the one trust anchor, so the lock
# talks only to a broker that holds its key (pinning); name: what the certificate must name when
# it does not name the broker's IP address.
#
# The broker is an IP address: a name would need a DNS lookup, which blocks the whole board on
# MicroPython (the lock's loop with it).
from micropython import const

WIFI_RETRY_MS = const(10000)


def load(path="/net.json"):
    """The settings, or None for a board without a hub (no file), or (None, why) for a file that
    does not hold valid settings (the lock runs without the link; the reason is logged)."""
    import json
    try:
        with open(path) as f:
            d = json.load(f)
    except OSError:
        return None
    except ValueError:
        return (None, "not JSON")
    if type(d) is not dict or type(d.get("broker")) is not str:
        return (None, "no broker")
    parts = d["broker"].split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return (None, "broker is not an IPv4 address")
    port = d.get("port", 1883)
    ka = d.get("keepalive", 60)
    if type(port) is not int or not 0 < port < 65536 or type(ka) is not int or not 5 <= ka <= 3600:
        return (None, "port or keepalive out of range")
    w = d.get("wifi")
    if w is not None and (type(w) is not dict or type(w.get("ssid")) is not str):
        return (None, "wifi needs an ssid")
    t = d.get("tls")
    if t is not None:
        if type(t) is not dict or type(t.get("ca")) is not str or type(t.get("name") or "") is not str:
            return (None, "tls needs a ca (base64 DER) and a name or null")
        import binascii
        try:
            ca = binascii.a2b_base64(t["ca"])
        except ValueError:  # (binascii.Error on CPython is one)
            ca = b""
        if len(ca) < 64 or ca[0] != 0x30:
            return (None, "tls ca is not a base64 DER certificate")
        t = {"ca": ca, "name": t.get("name")}
    return {"broker": d["broker"], "port": port, "prefix": str(d.get("prefix") or "doorkit"), "keepalive": ka,
            "user": d.get("user"), "password": d.get("password"), "wifi": w, "tls": t}


def tls_context(ca):
    """An ssl context that trusts `ca` (DER) alone and checks the broker against it."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca)
    return ctx


def tls_failed(e):
    """Whether an exception from the connection is TLS failing: mbedtls on MicroPython raises
    ValueError naming the certificate check that failed, or OSError with its negative error code;
    CPython's ssl.SSLError (an OSError). Any other ValueError is a fault, reported as one."""
    if isinstance(e, ValueError):
        return "certificate" in str(e)
    if isinstance(e, OSError):
        a = e.args[0] if e.args else 0
        return (type(a) is int and a < 0) or type(e).__name__.startswith("SSL")
    return False


async def wifi(hub, cfg, sleep_ms):
    """Join the Wi-Fi and keep it joined (the hub's status says how it goes); returns at once on a
    board without network.WLAN (the unix port: its network is the host's)."""
    try:
        import network
    except ImportError:
        return
    from lockshell.hub import LINK_WIFI, LINK_WIFI_FAILED
    w = cfg["wifi"]
    if w is None:
        return
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    while True:
        if not sta.isconnected():
            hub.set_status(0, LINK_WIFI)
            try:
                sta.connect(w["ssid"], w.get("password") or "")
            except OSError:
                pass
            waited = 0
            while not sta.isconnected() and waited < WIFI_RETRY_MS:
                await sleep_ms(250)
                waited += 250
            if not sta.isconnected():
                hub.set_status(0, LINK_WIFI_FAILED)
        await sleep_ms(WIFI_RETRY_MS)


def make_hub(fl, cfg, door, secret, version=""):
    """The Hub for these settings, made before the App (its buffers, about 3 KB, taken while the
    heap is still in one piece); set hub.app before hub_task()."""
    import asyncio
    from lockshell.hub import Hub
    asyncio.open_connection  # noqa: B018  (asyncio loads its stream code on first use: now, not
    #                          at the first connect, in a heap the running lock has cut up)
    t = cfg["tls"]
    if t is not None and "ctx" not in t:  # (mbedtls's own memory is outside the heap on the ESP32)
        try:
            t["ctx"] = tls_context(t["ca"])
        except (ImportError, ValueError, OSError) as e:  # no ssl on this board, a certificate mbedtls refuses
            print("doorkit: /net.json tls:", e, "- no hub link")
            t["ctx"] = None  # (the link's status says tls)
        t["ca"] = None
    user = cfg["user"].encode() if cfg["user"] else None
    pw = cfg["password"].encode() if cfg["password"] else None
    return Hub(None, fl, door, secret, cfg["prefix"].encode(), cfg["keepalive"], version, user, pw)


def hub_task(hub, cfg):
    """The coroutine that runs the hub (and the Wi-Fi) on the board's asyncio loop."""
    import asyncio
    import os
    import time
    from lockshell.hub import Clock, run_hub

    def rand():
        return os.urandom(1)[0] / 256

    t = cfg["tls"]

    def connect():
        if t is None:
            return asyncio.open_connection(cfg["broker"], cfg["port"])
        return asyncio.open_connection(cfg["broker"], cfg["port"], ssl=t["ctx"], server_hostname=t["name"] or cfg["broker"])

    async def both():
        if t is not None and t["ctx"] is None:
            from lockshell.hub import LINK_TLS
            hub.set_status(0, LINK_TLS)
            return
        asyncio.create_task(wifi(hub, cfg, asyncio.sleep_ms))
        await run_hub(hub, connect, Clock(time.ticks_ms, time.ticks_diff), rand, asyncio.sleep_ms,
                      tls=None if t is None else tls_failed)
    return both()
