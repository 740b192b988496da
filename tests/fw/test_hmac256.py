# HMAC-SHA256 (lockctl/hmac256.py) against the RFC 4231 test vectors 1-7 (including the key longer
# than a block and the data longer than a block), key-length edges, two-part messages, and equal().
from lockctl.hmac256 import hmac_sha256, equal


def hexb(s):
    s = s.replace(" ", "")
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


LONG_KEY = b"\xaa" * 131

# (key, data, expected HMAC-SHA-256 in hex; case 5 is truncated to 128 bits)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation",
     "a3b6167473100ee06e0c796c2955552b"),
    (LONG_KEY, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (LONG_KEY, b"This is a test using a larger than block-size key and a larger than block-size data."
               b" The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


def check_case(k):
    key, data, want = RFC4231[k - 1]
    exp = hexb(want)
    got = hmac_sha256(key, data)
    assert len(got) == 32
    assert got[:len(exp)] == exp, "RFC 4231 case %d" % k


def test_rfc4231_case_1():
    check_case(1)


def test_rfc4231_case_2():
    check_case(2)


def test_rfc4231_case_3():
    check_case(3)


def test_rfc4231_case_4():
    check_case(4)


def test_rfc4231_case_5_truncated():
    check_case(5)


def test_rfc4231_case_6_long_key():
    check_case(6)


def test_rfc4231_case_7_long_key_long_data():
    check_case(7)
    assert len(RFC4231[6][1]) > 64


def test_buffer_types():
    key, data, want = RFC4231[1]
    exp = hexb(want)
    assert hmac_sha256(bytearray(key), bytearray(data)) == exp
    assert hmac_sha256(memoryview(key), memoryview(data)) == exp
    assert hmac_sha256(memoryview(bytearray(LONG_KEY)), RFC4231[5][1]) == hexb(RFC4231[5][2])


def test_two_part_message_equals_concatenation():
    key = b"\x0b" * 20
    assert hmac_sha256(key, b"Hi ", b"There") == hexb(RFC4231[0][2])
    assert hmac_sha256(key, b"", b"Hi There") == hmac_sha256(key, b"Hi There")
    assert hmac_sha256(key, b"Hi There", b"") == hmac_sha256(key, b"Hi There")


def test_key_length_edges():
    # 64 bytes: used as is; 65: hashed first; a key and its zero-padded form give the same MAC
    k64 = bytes(range(64))
    k65 = bytes(range(65))
    assert hmac_sha256(k64, b"m") != hmac_sha256(k64[:63], b"m")
    assert hmac_sha256(b"abc", b"m") == hmac_sha256(b"abc" + bytes(61), b"m")
    import hashlib
    assert hmac_sha256(k65, b"m") == hmac_sha256(hashlib.sha256(k65).digest(), b"m")
    assert hmac_sha256(b"", b"") != hmac_sha256(b"", b"\x00")


def test_key_not_modified():
    key = bytearray(b"\x0b" * 20)
    hmac_sha256(key, b"Hi There")
    assert key == bytearray(b"\x0b" * 20)


def test_equal():
    a = hexb(RFC4231[0][2])
    assert equal(a, bytes(a))
    assert equal(a, bytearray(a))
    assert equal(a, memoryview(a))
    assert equal(b"", b"")
    for i in range(32):
        b = bytearray(a)
        b[i] ^= 0x01
        assert not equal(a, b)
        b[i] ^= 0x81
        assert not equal(a, b)
    assert not equal(a, a[:31])
    assert not equal(a[:31], a)
    assert not equal(a, a + b"\x00")
    r = equal(a, a)
    assert r is True
    assert equal(a, b"x" * 32) is False
