"""Key bundles into the key store (lockctl/bundle.py, lockctl/keystore.py), with hypothesis, on CPython:
random credential sets make a full bundle that installs (streamed in random chunks) to exactly those
records, each found and answered as schedule.check says; a bit flipped anywhere in a bundle, any
truncation, two entries swapped, another door, a replayed or older version: refused with the reason
of what was damaged, and the installed store unchanged (version and every record, also after a
reboot); random sequences of deltas (and of broken ones) follow a dict model."""
from conftest import examples
from hypothesis import given, settings, strategies as st

import doorkit  # noqa: F401  (firmware/ on sys.path)
from keykit import DOOR, SECRET
from lockctl import bundle as B
from lockctl import keystore as K
from lockctl import schedule as S
from lockctl.codes import (KIND_FELICA, KIND_ISO14443A, KIND_ISO_DEP, KIND_PHONE, KIND_PIN, R_BAD_SIGNATURE,
                           R_BASE_MISMATCH, R_CORRUPT, R_FORMAT, R_OLD_VERSION, R_UNKNOWN, R_USE_TALLY, R_WRONG_DOOR)
from sim.nor import NorFlash

BLOCKS = 8  # slots of a header and 3 data blocks: 765 credentials
KINDS = (KIND_ISO14443A, KIND_FELICA, KIND_PHONE, KIND_PIN, KIND_ISO_DEP)
ALWAYS = S.pack_profile(S.P_ALWAYS, 0, 0, 0)
SETTINGS = dict(deadline=None)


# ------------------------------------------------------------------------------------------ strategies
@st.composite
def profile(draw):
    t = draw(st.sampled_from((S.P_ALWAYS, S.P_WEEKLY, S.P_DAILY, S.P_ONCE)))
    days = draw(st.integers(1 if t == S.P_WEEKLY else 0, 127))
    return S.pack_profile(t, days, draw(st.integers(0, 1439)), draw(st.integers(0, 1440)))


def profiles(min_size=0):
    """A profile table: ALWAYS first (profile 0), then up to 5 more."""
    return st.lists(profile(), min_size=min_size, max_size=5).map(lambda ps: [ALWAYS] + ps)


@st.composite
def identity(draw, kinds=KINDS):
    kind = draw(st.sampled_from(kinds))
    if kind == KIND_PIN:
        return kind, draw(st.text("0123456789", min_size=4, max_size=8))
    return kind, draw(st.binary(min_size=4, max_size=10)).hex().upper()


@st.composite
def credential(draw, nprof, kinds=KINDS):
    """(kind, ident, fields for keystore.pack)"""
    kind, ident = draw(identity(kinds))
    day = st.integers(0, 0xFFFF)
    fields = dict(user=draw(st.integers(1, (1 << 24) - 1)),
                  frm=draw(st.one_of(st.just(S.NO_START), day)), until=draw(st.one_of(st.just(S.NO_END), day)),
                  profile=draw(st.integers(0, nprof - 1)), enabled=draw(st.booleans()),
                  uses=draw(st.one_of(st.just(0), st.integers(0, 255))))
    return kind, ident, fields


def _same_identity(c):
    return c[0], K.ident_bytes(c[0], c[1])


def credentials(nprof, max_size=300, min_size=0, kinds=KINDS):
    return st.lists(credential(nprof, kinds), min_size=min_size, max_size=max_size, unique_by=_same_identity)


def many_cards(n, seed, nprof, avoid=()):
    """n card credentials from a seeded generator, none with an identity in avoid."""
    import random
    g = random.Random(seed)
    seen = set(_same_identity(c) for c in avoid)
    out = []
    while len(out) < n:
        kind = g.choice((KIND_ISO14443A, KIND_FELICA))
        ident = bytes(g.randrange(256) for _ in range(g.choice((4, 7, 8)))).hex().upper()
        if (kind, bytes.fromhex(ident)) in seen:
            continue
        seen.add((kind, bytes.fromhex(ident)))
        f = dict(user=g.randrange(1, 1 << 24), frm=g.choice((S.NO_START, g.randrange(0x10000))),
                 until=g.choice((S.NO_END, g.randrange(0x10000))), profile=g.randrange(nprof),
                 enabled=g.random() < 0.9, uses=g.choice((0, 0, g.randrange(256))))
        out.append((kind, ident, f))
    return out


def record(c):
    kind, ident, f = c
    return K.pack(K.cred_key(SECRET, kind, ident), kind=kind, **f)


chunk_sizes = st.lists(st.integers(1, 700), min_size=1, max_size=8)


# ------------------------------------------------------------------------------------------ helpers
def fresh():
    dev = NorFlash(BLOCKS)
    return K.KeyStore(dev, SECRET, DOOR), dev


def feed(store, data, sizes=(700,)):
    """Stream data into store (header first, then chunks of the sizes in turn); -> the version."""
    mv = memoryview(bytes(data))
    inst = store.begin(mv[:B.HEADER])
    i, k = B.HEADER, 0
    while i < len(mv):
        n = sizes[k % len(sizes)]
        inst.feed(mv[i:i + n])
        i += n
        k += 1
    return inst.finish()


def refused(store, data, sizes=(700,)):
    try:
        feed(store, data, sizes)
    except B.BundleError as e:
        return e.reason
    return None


def state(store):
    return store.version, list(store.records())


def unchanged(store, dev, before):
    """The store, and the one the next boot mounts, are still exactly `before`."""
    assert state(store) == before
    again = K.KeyStore(dev.power_cycle(), SECRET, DOOR)
    assert again.error is None and state(again) == before


def full(recs, version, profs=(ALWAYS,), door=DOOR, secret=SECRET):
    return B.build(secret, door, B.FULL, version, 0, list(profs), sorted(recs))


def delta(ops, version, base, profs=(ALWAYS,)):
    return B.build(SECRET, DOOR, B.DELTA, version, base, list(profs), sorted(ops, key=lambda o: o[1]))


def installed(creds, version=5, profs=(ALWAYS,)):
    store, dev = fresh()
    recs = sorted(record(c) for c in creds)
    if version:
        assert feed(store, full(recs, version, profs)) == version
    return store, dev, recs


def expected(c, profs, local):
    """What check() answers for credential c at local time (schedule.check; no use tally here)."""
    kind, ident, f = c
    p = S.unpack_profile(profs[f["profile"]])
    why = S.check(local, f["frm"], f["until"], p, f["enabled"])
    if why is not None:
        return None, why
    if S.use_limit(p[0], f["uses"]):
        return None, R_USE_TALLY  # a counted credential and no tally to count it in
    return f["user"], None


local_times = st.one_of(st.none(), st.integers(0, 0xFFFF * 86400 + 86399))


# ------------------------------------------------------------------------------------------ round trip
@settings(max_examples=examples(100), **SETTINGS)
@given(st.data(), profiles(), chunk_sizes, local_times)
def test_a_full_bundle_installs_exactly_its_credentials(data, profs, sizes, local):
    creds = data.draw(credentials(len(profs)))
    bulk = data.draw(st.sampled_from((0, 0, 254, 256, 509, 511, 765 - len(creds))))
    if bulk:  # more cards (from a seed: hypothesis draws small lists), to fill 1 to 3 data blocks
        creds = creds + many_cards(bulk, data.draw(st.integers(0, 1 << 30)), len(profs), creds)[:765 - len(creds)]
    store, dev = fresh()
    recs = sorted(record(c) for c in creds)
    assert feed(store, full(recs, 1, profs), sizes) == 1
    assert len(store) == len(creds) and list(store.records()) == recs and store.verify() == 0
    for c in creds:
        got = store.check(c[0], c[1], local)
        assert got == expected(c, profs, local) and got[1] != R_UNKNOWN
        if c[0] == KIND_PHONE:
            assert store.key_for(bytes.fromhex(c[1])) == K.phone_key(SECRET, bytes.fromhex(c[1]))
    others = data.draw(st.lists(identity(), max_size=20))
    known = set(_same_identity(c) for c in creds)
    for kind, ident in others:
        if (kind, K.ident_bytes(kind, ident)) not in known:
            assert store.check(kind, ident, local) == (None, R_UNKNOWN)
    again = K.KeyStore(dev.power_cycle(), SECRET, DOOR)
    assert state(again) == (1, recs)


@settings(max_examples=examples(50), **SETTINGS)
@given(st.data(), profiles())
def test_a_credential_naming_a_profile_beyond_the_table_is_refused(data, profs):
    creds = data.draw(credentials(len(profs), max_size=40))
    store, dev, recs = installed(creds, profs=profs)
    before = state(store)
    kind, ident, f = data.draw(credential(len(profs)))
    f["profile"] = data.draw(st.integers(len(profs), K.MAX_PROFILES - 1))
    bad = record((kind, ident, f))
    if bad[:6] not in set(r[:6] for r in recs):
        assert refused(store, full(recs + [bad], 6, profs)) == R_CORRUPT
        assert refused(store, delta([(B.OP_ADD, bad)], 6, 5, profs)) == R_CORRUPT
    unchanged(store, dev, before)


# ------------------------------------------------------------------------------------------ damage
def header_reason(pos):
    """The reason a bit flipped at header byte pos is refused with (lockctl/bundle.py's order)."""
    if pos < 6:  # magic, format, type (1 and 2 differ in two bits: one flip never turns one into the other)
        return R_FORMAT
    if 8 <= pos < 24:
        return R_WRONG_DOOR
    return R_BAD_SIGNATURE  # nprof, the zero byte, version, base, count, body length, body hash, the MAC


def _a_bundle(data, store_recs, creds_new):
    """A full bundle (version 6) of creds_new, or a delta (6 on 5) of changes against store_recs."""
    if data.draw(st.booleans()):
        return full([record(c) for c in creds_new], 6)
    ops = [(B.OP_ADD, record(c)) for c in creds_new if record(c)[:6] not in set(r[:6] for r in store_recs)]
    for r in data.draw(st.lists(st.sampled_from(store_recs), unique=True, max_size=10)) if store_recs else []:
        if data.draw(st.booleans()):
            ops.append((B.OP_REMOVE, r))
        else:
            ops.append((B.OP_CHANGE, r[:6] + bytes((r[6] ^ 1,)) + r[7:]))
    return delta(ops, 6, 5)


@settings(max_examples=examples(300), **SETTINGS)
@given(st.data(), credentials(1, max_size=30), credentials(1, max_size=30), chunk_sizes)
def test_a_flipped_bit_anywhere_is_refused_for_what_it_hit(data, old, new, sizes):
    store, dev, recs = installed(old)
    before = state(store)
    bundle = bytearray(_a_bundle(data, recs, new))
    bit = data.draw(st.integers(0, len(bundle) * 8 - 1))
    bundle[bit // 8] ^= 1 << (bit % 8)
    pos = bit // 8
    why = refused(store, bundle, sizes)
    assert why == (header_reason(pos) if pos < B.HEADER else R_CORRUPT), (pos, why)
    unchanged(store, dev, before)


@settings(max_examples=examples(20), **SETTINGS)
@given(st.data(), credentials(1, max_size=12), credentials(1, max_size=12))
def test_a_truncated_bundle_is_refused_at_every_length(data, old, new):
    store, dev, recs = installed(old)
    before = state(store)
    bundle = _a_bundle(data, recs, new)
    for n in range(len(bundle)):
        assert refused(store, bundle[:n]) == R_CORRUPT, n
        assert state(store) == before
    unchanged(store, dev, before)


@settings(max_examples=examples(200), **SETTINGS)
@given(st.data(), credentials(1, max_size=30), credentials(1, min_size=2, max_size=30), st.booleans())
def test_two_entries_swapped_are_refused(data, old, new, as_delta):
    store, dev, recs = installed(old)
    before = state(store)
    if as_delta:  # adds of new cards, removes / changes of installed ones, in key order
        have = set(r[:6] for r in recs)
        entries = [(B.OP_ADD, record(c)) for c in new if record(c)[:6] not in have]
        entries += [(B.OP_REMOVE if i % 2 else B.OP_CHANGE, r) for i, r in enumerate(recs)]
        entries.sort(key=lambda e: e[1])
    else:
        entries = sorted(record(c) for c in new)
    if len(entries) < 2:
        return
    i = data.draw(st.integers(0, len(entries) - 2))
    j = data.draw(st.integers(i + 1, len(entries) - 1))
    entries[i], entries[j] = entries[j], entries[i]  # signed as it is: only the order is wrong
    bundle = B.build(SECRET, DOOR, B.DELTA if as_delta else B.FULL, 6, 5 if as_delta else 0, [ALWAYS], entries)
    assert refused(store, bundle) == R_CORRUPT
    unchanged(store, dev, before)


@settings(max_examples=examples(100), **SETTINGS)
@given(credentials(1, max_size=20), credentials(1, max_size=20), st.binary(min_size=1, max_size=16),
       st.booleans())
def test_a_bundle_for_another_door_is_refused(old, new, door, same_secret):
    if B.door_field(door) == B.door_field(DOOR):
        return
    store, dev, recs = installed(old)
    before = state(store)
    secret = SECRET if same_secret else b"another door's secret, 32 bytes"
    assert refused(store, full([record(c) for c in new], 6, door=door, secret=secret)) == R_WRONG_DOOR
    unchanged(store, dev, before)


@settings(max_examples=examples(100), **SETTINGS)
@given(st.data(), credentials(1, max_size=20), credentials(1, max_size=20), st.integers(1, 1000))
def test_a_replayed_or_older_version_is_refused(data, old, new, installed_version):
    store, dev, recs = installed(old, installed_version)
    before = state(store)
    v = data.draw(st.integers(0, installed_version))
    assert refused(store, full([record(c) for c in new], v)) == R_OLD_VERSION
    assert refused(store, full(recs, installed_version)) == R_OLD_VERSION  # the installed bundle again
    assert refused(store, delta([(B.OP_ADD, record(c)) for c in new], v, installed_version)) == R_OLD_VERSION
    unchanged(store, dev, before)


# ------------------------------------------------------------------------------------------ deltas
PROFS = [ALWAYS, S.pack_profile(S.P_WEEKLY, 0x1F, 420, 1140), S.pack_profile(S.P_DAILY, 0, 1320, 360)]
card = credential(len(PROFS), kinds=(KIND_ISO14443A, KIND_FELICA))


@settings(max_examples=examples(100), **SETTINGS)
@given(st.data(), st.lists(card, max_size=150, unique_by=_same_identity), st.integers(0, 9), chunk_sizes)
def test_delta_sequences_follow_a_dict_model(data, start, steps, sizes):
    store, dev = fresh()
    model = {}  # key -> record
    bulk = data.draw(st.sampled_from((0, 0, 0, 300, 500)))  # (the deltas then cross data blocks)
    for c in start + many_cards(bulk, data.draw(st.integers(0, 1 << 30)), len(PROFS), start):
        r = record(c)
        model[r[:6]] = r
    version = data.draw(st.integers(1, 50))
    assert feed(store, full(list(model.values()), version, PROFS), sizes) == version
    for _ in range(steps):
        keys = sorted(model)
        what = data.draw(st.sampled_from(("delta", "delta", "delta", "add_existing", "change_missing",
                                          "wrong_base", "old_version", "short_table")))
        new = dict(model)
        ops = []
        for k in data.draw(st.lists(st.sampled_from(keys), unique=True, max_size=20)) if keys else []:
            if data.draw(st.booleans()):
                ops.append((B.OP_REMOVE, model[k]))
                del new[k]
            else:
                kind, ident, f = data.draw(card)
                r = k + record((kind, ident, f))[6:]
                ops.append((B.OP_CHANGE, r))
                new[k] = r
        for c in data.draw(st.lists(card, max_size=20, unique_by=_same_identity)):
            r = record(c)
            if r[:6] not in model:
                ops.append((B.OP_ADD, r))
                new[r[:6]] = r
        v = version + data.draw(st.integers(1, 3))
        profs, base, reason = PROFS, version, None
        if what == "add_existing" and keys:
            ops = [o for o in ops if o[1][:6] != keys[0]] + [(B.OP_ADD, model[keys[0]])]
            reason = R_CORRUPT
        elif what == "change_missing":
            c = data.draw(card)
            r = record(c)
            if r[:6] in model or r[:6] in new:
                continue
            ops.append((data.draw(st.sampled_from((B.OP_REMOVE, B.OP_CHANGE))), r))
            reason = R_CORRUPT
        elif what == "wrong_base":
            base = version + data.draw(st.sampled_from((-1, 1, 2)))
            reason = R_BASE_MISMATCH if base >= 0 else None
        elif what == "old_version":
            v = data.draw(st.integers(0, version))
            reason = R_OLD_VERSION
        elif what == "short_table" and any(r[13] for r in new.values()):
            profs = PROFS[:1]  # a record of the new state names profile 1 or 2: beyond the delta's table
            reason = R_CORRUPT
        if base < 0:
            continue
        before = state(store)
        bundle = delta(ops, v, base, profs)
        if reason is None:
            assert feed(store, bundle, sizes) == v
            model, version = new, v
            assert state(store) == (version, sorted(model.values()))
        else:
            assert refused(store, bundle, sizes) == reason, what
            assert state(store) == before
    assert state(K.KeyStore(dev.power_cycle(), SECRET, DOOR)) == (version, sorted(model.values()))
