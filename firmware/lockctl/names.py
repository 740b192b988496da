# The few name tables the firmware itself sends (the hub's state and results, docs/network.md);
# lockctl/record.py, the one text form of records, takes them from here. Kept apart so the board
# does not load record.py's larger tables to name a bolt state.
STATE_NAMES = ("uncalibrated", "locked", "unlocking", "unlocked", "locking", "jammed", "calibrating")  # LockCore.state
BATTERY_NAMES = ("ok", "low", "critical")  # BATT_* (0..2)
OP_NAMES = ("?", "lock", "unlock", "config", "clock", "url-key", "bundle", "status")  # OP_*
LINK_NAMES = ("off", "wifi", "wifi-failed", "connecting", "unreachable", "refused", "protocol", "online", "denied", "tls")  # LINK_*
