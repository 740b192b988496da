# The simulated NOR flash (sim/nor.py): bits only clear when programmed, erase sets a block to 0xFF,
# and a power cut lands a prefix of one program and refuses everything after it.
from sim.nor import NorFlash, Partition


def test_program_only_clears_bits():
    d = NorFlash(4)
    d.writeblocks(1, b"\x0f\xf0", 10)
    d.writeblocks(1, b"\xf3\x3f", 10)
    b = bytearray(2)
    d.readblocks(1, b, 10)
    assert bytes(b) == b"\x03\x30"
    assert d.programs == 2 and d.reads == 1 and d.programmed == 4


def test_erase_sets_the_block_to_ff():
    d = NorFlash(4)
    d.writeblocks(2, b"\x00" * 8, 4000)
    assert d.ioctl(6, 2) == 0
    b = bytearray(8)
    d.readblocks(2, b, 4000)
    assert bytes(b) == b"\xff" * 8 and d.erases == 1 and d.wear[2] == 1


def test_a_cut_lands_a_prefix_then_refuses_every_write():
    d = NorFlash(4)
    d.writeblocks(0, b"\x00" * 4, 0)  # op 0
    d.cut_at(1, keep=3)
    assert d.writeblocks(0, b"\x11" * 8, 8) == -5  # op 1: the cut
    assert d.writeblocks(0, b"\x00", 100) == -5
    assert d.ioctl(6, 0) == -5
    b = bytearray(12)
    d.readblocks(0, b, 0)
    assert bytes(b) == b"\x00" * 4 + b"\xff" * 4 + b"\x11" * 3 + b"\xff"
    d2 = d.power_cycle()
    assert d2.writeblocks(0, b"\x00", 100) == 0  # the next boot writes again


def test_partition_window():
    d = NorFlash(8)
    p = Partition(d, 3, 2)
    assert p.ioctl(4, 0) == 2 and p.ioctl(5, 0) == 4096
    p.writeblocks(1, b"\x00", 0)
    assert p.readblocks(2, bytearray(1)) == -5 and p.ioctl(6, 2) == -5
    b = bytearray(1)
    d.readblocks(4, b, 0)
    assert b[0] == 0
