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


def storage():
    """lockshell.flash.Storage on the "keys" and "log" partitions, or None on a board without
    them or without a provisioned identity (then no credential opens)."""
    try:
        import esp32
        from lockshell.flash import Storage, read_identity, board_partitions
    except ImportError:
        return None
    ident = read_identity("/door.json")
    keys, log = board_partitions(esp32)
    if ident is None or keys is None or log is None:
        return None
    return Storage(keys, log, ident[1], ident[0])


def main():
    fl = storage()
    phones = (fl.keys, fl.keys.door_id) if fl is not None and hasattr(fl.keys, "door_id") else None
    b = board.make_board(machine, 0, phones=phones, keypad=True, battery=True)
    app = App(b, JsonStore("/lock.json"), None, flash=fl, clock=RtcClock(machine.RTC()))
    asyncio.run(run(app, time.ticks_ms, time.ticks_diff, asyncio.sleep_ms))


main()
