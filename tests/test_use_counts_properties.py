"""Use counts at the limit (hypothesis): a credential with a use limit opens exactly that many
times, across reboots (the counts live in the tally, not in the key store), and a refused check
counts nothing."""
from hypothesis import given, settings, strategies as st

import doorkit  # noqa: F401
from lockctl import keystore as K, schedule as S
from lockctl.codes import KIND_ISO14443A, R_USED_UP, R_CLOCK_UNSET
from lockctl.tally import Tally
from sim.nor import NorFlash, Partition

from conftest import examples
from keykit import SECRET, DOOR, install, full

DAY = 20600  # a local day number (2026-05-26)


def make(uses, profile):
    dev = NorFlash(10)
    keys, log = Partition(dev, 0, 8), Partition(dev, 8, 2)
    st_ = K.KeyStore(keys, SECRET, DOOR, Tally(log))
    rec = K.pack(K.cred_key(SECRET, KIND_ISO14443A, "0A0B0C0D"), 7, profile=1 if profile else 0, uses=uses)
    profs = [S.pack_profile(S.P_ALWAYS, 0, 0, 0)] + ([S.pack_profile(*profile)] if profile else [])
    install(st_, full([rec], profiles=profs))
    return dev, keys, log


def reopen(dev):
    dev2 = dev.power_cycle()
    return dev2, K.KeyStore(Partition(dev2, 0, 8), SECRET, DOOR, Tally(Partition(dev2, 8, 2)))


@settings(max_examples=examples(60), deadline=None)
@given(uses=st.integers(0, 6), once=st.booleans(), taps=st.lists(st.sampled_from(["tap", "reboot", "unset"]),
                                                                    max_size=14))
def test_a_use_limit_opens_exactly_that_many_times(uses, once, taps):
    profile = (S.P_ONCE, 0, 0, 0) if once else None
    dev, _, _ = make(uses, profile)
    dev, store = reopen(dev)
    limit = S.use_limit(S.P_ONCE if once else S.P_ALWAYS, uses)
    opened = 0
    for what in taps:
        if what == "reboot":
            dev, store = reopen(dev)
            continue
        local = None if what == "unset" else DAY * 86400 + 3600
        user, why = store.check(KIND_ISO14443A, "0A0B0C0D", local)
        if what == "unset" and once:
            assert why == R_CLOCK_UNSET  # a once-key is time-limited: nothing counted
            continue
        if limit and opened >= limit:
            assert why == R_USED_UP, (opened, limit)
            continue
        assert (user, why) == (7, None)
        assert store.consume(KIND_ISO14443A, "0A0B0C0D")
        opened += 1
    if limit:
        assert opened <= limit
