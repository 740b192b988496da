# Hardware drivers for the lock board. Pins, PWMs and ADCs are passed in (nothing here imports
# machine or time) and the time is passed in as now_ms, so the same code runs on the ESP32, in the
# simulator and under the tests on CPython and the MicroPython unix port.
