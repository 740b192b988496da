# Board entry point: compose the board, restore settings, run the lock loop forever.
import asyncio
import time

import machine

from lockshell import board
from lockshell.app import App, run
from lockshell.store import JsonStore
from lockctl.keys import KeyList


def main():
    b = board.make_board(machine, 0)
    store = JsonStore("/lock.json")
    app = App(b, store, KeyList())
    asyncio.run(run(app, time.ticks_ms, time.ticks_diff, asyncio.sleep_ms))


main()
