# Board entry point: compose the board and its flash, restore settings, run the lock loop forever.
# Nothing here moves the bolt; nothing here formats or rewrites flash it cannot read (the faults are
# logged as STORE_FAULT and the lock runs on: the button and the knob always let people out).
import asyncio
import time

import machine

from lockshell import board
from lockshell.app import App, run
from lockshell.clock import RtcClock
from lockshell.store import JsonStore
from lockshell.service import storage, use


def main():
    fl = storage()
    use(fl)  # the maintenance API (lockshell.service) serves the same open storage after Ctrl-C
    hub, cfg = _hub(fl)  # (before the App: the link's buffers while the heap is in one piece)
    try:
        b, app = _lock(fl)
    except MemoryError:
        if hub is None:
            raise
        hub = cfg = None  # the link is the least of the board's jobs: the lock runs without it
        import gc
        gc.collect()
        print("doorkit: no memory for the hub link")
        b, app = _lock(fl)
    lock = run(app, time.ticks_ms, time.ticks_diff, asyncio.sleep_ms)
    if hub is not None:
        from lockshell.net import hub_task
        hub.app = app
        lock = _both(lock, hub_task(hub, cfg))
    import gc
    gc.collect()
    try:
        asyncio.run(lock)
    except KeyboardInterrupt:  # Ctrl-C from the host: never leave the motor driven
        b.motor.brake()
        b.motor.coast()


def _lock(fl):
    phones = (fl.keys, fl.keys.door_id) if fl is not None and hasattr(fl.keys, "door_id") else None
    b = board.make_board(machine, 0, phones=phones, keypad=True, battery=True)
    return b, App(b, JsonStore("/lock.json"), None, flash=fl, clock=RtcClock(machine.RTC()))


def _hub(fl):
    """(the Hub, its settings) when /net.json configures one (lockshell/net.py), else (None,
    None). Settings that are wrong cost the link, never the lock: the reason goes to the console."""
    from lockshell import net
    cfg = net.load()
    if cfg is None or fl is None or fl.log is None:
        return None, None
    if type(cfg) is tuple:
        print("doorkit: /net.json:", cfg[1], "- no hub link")
        return None, None
    from lockshell.flash import read_identity
    ident = read_identity("/door.json")
    if ident is None:
        return None, None
    try:
        return net.make_hub(fl, cfg, ident[0], ident[1], VERSION), cfg
    except MemoryError:  # the link is the least of the board's jobs: the lock runs without it
        print("doorkit: no memory for the hub link")
        return None, None


async def _both(lock, link):
    asyncio.create_task(link)
    await lock


VERSION = "0.9"

main()
