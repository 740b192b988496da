# The hub's network settings (/net.json, written by `doorkit provision` / `doorkit image`) and the
# tasks that bring the link up: Wi-Fi where the board has it (network.WLAN), then the hub's MQTT
# link (lockshell/hub.py). docs/network.md.
#
#   {"broker": "192.168.1.10", "port": 1883, "prefix": "doorkit", "keepalive": 60,
#    "user": null, "password": null, "wifi": {"ssid": "...", "password": "..."} or null}
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
    return {"broker": d["broker"], "port": port, "prefix": str(d.get("prefix") or "doorkit"), "keepalive": ka,
            "user": d.get("user"), "password": d.get("password"), "wifi": w}


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

    def connect():
        return asyncio.open_connection(cfg["broker"], cfg["port"])

    async def both():
        asyncio.create_task(wifi(hub, cfg, asyncio.sleep_ms))
        await run_hub(hub, connect, Clock(time.ticks_ms, time.ticks_diff), rand, asyncio.sleep_ms)
    return both()
