# The simulated world. The modules named here are written in the MicroPython subset: tests/fw and
# bench/ run them inside the unix port too (compiled into a `sim` package next to the firmware).
MICROPYTHON_MODULES = ("__init__.py", "nor.py", "powercut.py")
