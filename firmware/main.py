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
    phones = (fl.keys, fl.keys.door_id) if fl is not None and hasattr(fl.keys, "door_id") else None
    b = board.make_board(machine, 0, phones=phones, keypad=True, battery=True)
    app = App(b, JsonStore("/lock.json"), None, flash=fl, clock=RtcClock(machine.RTC()))
    lock = run(app, time.ticks_ms, time.ticks_diff, asyncio.sleep_ms)
    link = _hub(app, fl)
    try:
        asyncio.run(_both(lock, link) if link is not None else lock)
    except KeyboardInterrupt:  # Ctrl-C from the host: never leave the motor driven
        b.motor.brake()
        b.motor.coast()



def _hub(app, fl):
    """The hub's task when /net.json configures one (lockshell/net.py), else None. A settings
    file that is wrong costs the link, never the lock: the reason goes to the console."""
    from lockshell import net
    cfg = net.load()
    if cfg is None or fl is None or fl.log is None:
        return None
    if type(cfg) is tuple:
        print("doorkit: /net.json:", cfg[1], "- no hub link")
        return None
    from lockshell.flash import read_identity
    ident = read_identity("/door.json")
    if ident is None:
        return None
    return net.hub_task(app, fl, cfg, ident[0], ident[1], VERSION)[1]


async def _both(lock, link):
    asyncio.create_task(link)
    await lock


VERSION = "0.9"

main()
