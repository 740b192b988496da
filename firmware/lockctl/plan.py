# Partition plans: where each part of the lock lives on a 4 MB and an 8 MB ESP32 flash.
#
# One table for the firmware (which finds its data partitions by label: esp32.Partition.find), the
# host (which writes the partition table and the factory image, issue 8) and the simulator (which
# lays out its simulated flash the same way). (label, type, subtype, offset, size); type "app" or
# "data"; data subtypes as ESP-IDF names them (raw data partitions use "undefined", 0x06 is not
# used; "romfs" is MicroPython's subtype 0x8f for a ROMFS partition, as in its own
# partitions-4MiB-romfs.csv: the firmware's compiled modules live there and run in place, since as
# .mpy files loaded into RAM they would not fit the heap of an ESP32 without PSRAM). Offsets and
# sizes are multiples of the 4096-byte erase block; apps start 64 KB-aligned.
from micropython import const

BLOCK = const(4096)

# the bootloader (0x1000) and the partition table (0x8000) come first on every ESP32
PLANS = {
    "4M": (
        ("nvs", "data", "nvs", 0x9000, 0x6000),
        ("phy_init", "data", "phy", 0xF000, 0x1000),
        ("factory", "app", "factory", 0x10000, 0x1D0000),  # MicroPython: 1.81 MB
        ("romfs", "data", "romfs", 0x1E0000, 0x20000),  # the firmware's .mpy, run in place (128 KB)
        ("vfs", "data", "fat", 0x200000, 0x40000),  # littlefs: code, settings, door secret (256 KB)
        ("log", "data", "undefined", 0x240000, 0x100000),  # event log + tally (1 MB)
        ("keys", "data", "undefined", 0x340000, 0xC0000),  # key store, two slots (768 KB)
    ),
    "8M": (
        ("nvs", "data", "nvs", 0x9000, 0x6000),
        ("phy_init", "data", "phy", 0xF000, 0x1000),
        ("factory", "app", "factory", 0x10000, 0x1D0000),
        ("romfs", "data", "romfs", 0x1E0000, 0x20000),
        ("vfs", "data", "fat", 0x200000, 0x80000),  # 512 KB
        ("log", "data", "undefined", 0x280000, 0x100000),  # 1 MB
        ("keys", "data", "undefined", 0x380000, 0x480000),  # 4.5 MB: two slots of 2.25 MB
    ),
}
FLASH_SIZES = {"4M": 0x400000, "8M": 0x800000}
TALLY_BLOCKS = const(2)  # the first blocks of "log" hold the tally (lockctl/tally.py)


def partition(plan, label):
    """(label, type, subtype, offset, size) of label in plan ("4M" / "8M"); KeyError if absent."""
    for p in PLANS[plan]:
        if p[0] == label:
            return p
    raise KeyError(label)


def blocks(plan, label):
    return partition(plan, label)[4] // BLOCK


def capacities(plan):
    """What the plan holds: {"credentials": n, "records": n} (from the formats themselves)."""
    from lockctl.keystore import MAX_BLOCKS, PER_BLOCK
    from lockctl.eventlog import SLOTS
    slot = blocks(plan, "keys") // 2
    ring = blocks(plan, "log") - TALLY_BLOCKS
    # the ring keeps one sector in hand to erase before the head reaches it
    return {"credentials": min(slot - 1, MAX_BLOCKS) * PER_BLOCK, "records": (ring - 1) * SLOTS}
