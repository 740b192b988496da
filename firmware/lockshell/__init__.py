# lockshell: the firmware shell. Composes the drivers (board.py: the ESP32 pin map), runs the card
# reader's polling policy (nfc.py), persists settings (store.py) and feeds the lock core from its
# ports, carrying out the core's actions (app.py: App and the asyncio loop run()).
