"""lockctl/hmac256.py against CPython's hmac module on random keys and messages (hypothesis),
with keys around the 64-byte block size where the key is hashed first, and equal() against
hmac.compare_digest."""
import hashlib
import hmac

from conftest import examples
from hypothesis import given, settings, strategies as st

import doorkit  # noqa: F401  (firmware/ on sys.path)
from lockctl.hmac256 import equal, hmac_sha256

keys = st.one_of(st.binary(max_size=200), st.binary(min_size=60, max_size=70))
msgs = st.binary(max_size=600)


@settings(max_examples=examples(400), deadline=None)
@given(keys, msgs)
def test_matches_cpython(key, msg):
    assert hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


@settings(max_examples=examples(200), deadline=None)
@given(keys, msgs, msgs)
def test_two_parts_match_cpython(key, a, b):
    assert hmac_sha256(bytearray(key), memoryview(a), b) == hmac.new(key, a + b, hashlib.sha256).digest()


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=40), st.binary(max_size=40))
def test_equal_matches_compare_digest(a, b):
    assert equal(a, b) == hmac.compare_digest(a, b)
    assert equal(a, a) is True
