# lockctl: the sans-IO lock controller shared by the firmware, the simulator and the host tools.
