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
    try:
        asyncio.run(run(app, time.ticks_ms, time.ticks_diff, asyncio.sleep_ms))
    except KeyboardInterrupt:  # Ctrl-C from the host: never leave the motor driven
        b.motor.brake()
        b.motor.coast()


main()
