# PN532 frames: builder (normal, extended), checksums, and the incremental receive parser (ACK, NACK,
# application error, extended frames, resync after noise, truncation, bad LCS / DCS). Expected bytes
# are written out by hand from the frame format, not produced by the code under test.
from fakes import Lcg
from pn532fakes import chip_frame
from drivers import pn532 as P


def hexb(s):
    return bytes(int(x, 16) for x in s.split())


def build(tfi, data):
    buf = bytearray(400)
    n = P.frame(buf, tfi, data)
    return bytes(buf[:n])


def events(data, parser=None, chunk=1, flush=False):
    # feed data chunk by chunk; collect (event, payload or None); optionally truncate at the end
    p = parser if parser is not None else P.FrameParser()
    out = []
    i = 0
    steps = 0
    while i < len(data):
        i += p.feed(data, i, min(len(data), i + chunk))
        while True:
            steps += 1
            assert steps < 100000
            ev = p.next()
            if ev == 0:
                break
            out.append((ev, bytes(p.buf[p.off:p.off + p.len]) if ev == P.EV_FRAME else None))
    while flush and p.busy():
        out.append((p.truncate(), None))
        while True:
            ev = p.next()
            if ev == 0:
                break
            out.append((ev, bytes(p.buf[p.off:p.off + p.len]) if ev == P.EV_FRAME else None))
    return out


def test_command_frames_match_the_format():
    assert build(0xD4, b"\x02") == hexb("00 00 FF 02 FE D4 02 2A 00")  # GetFirmwareVersion
    assert build(0xD4, b"\x14\x01\x14\x01") == hexb("00 00 FF 05 FB D4 14 01 14 01 02 00")  # SAM
    assert build(0xD4, b"\x4a\x01\x00") == hexb("00 00 FF 04 FC D4 4A 01 00 E1 00")  # list 106A


def test_frame_begin_end_in_place():
    buf = bytearray(32)
    i = P.frame_begin(buf, 0xD4, 3)
    assert i == 6
    buf[i] = 0x32
    buf[i + 1] = 0x05
    buf[i + 2] = 0xFF
    n = P.frame_end(buf, i, 3)
    assert bytes(buf[:n]) == hexb("00 00 FF 04 FC D4 32 05 FF F6 00")


def test_checksums_hold_for_every_length():
    for k in (0, 1, 7, 100, 253, 254, 255, 256, 300, 262 + 2):
        data = bytes((i * 7 + 3) & 0xFF for i in range(k))
        f = build(0xD4, data)
        assert f[:3] == b"\x00\x00\xff"
        if k + 1 <= 255:
            assert f[3] == k + 1 and (f[3] + f[4]) & 0xFF == 0
            body = f[5:-1]
        else:
            assert f[3:5] == b"\xff\xff"
            assert (f[5] << 8 | f[6]) == k + 1
            assert (f[5] + f[6] + f[7]) & 0xFF == 0
            body = f[8:-1]
        assert body[0] == 0xD4 and body[1:-1] == data
        assert sum(body) & 0xFF == 0
        assert f[-1] == 0


def test_extended_frame_header():
    f = build(0xD4, bytes(300))
    # LEN = TFI + 300 = 0x12D: 00 00 FF FF FF 01 2D D2
    assert f[:8] == hexb("00 00 FF FF FF 01 2D D2")
    assert f[8] == 0xD4 and len(f) == 8 + 301 + 2
    assert f[-2] == 0x2C  # -(0xD4) & 0xFF


def test_ack_nack_and_app_error():
    assert P.ACK == hexb("00 00 FF 00 FF 00")
    assert P.NACK == hexb("00 00 FF FF 00 00")
    assert events(P.ACK) == [(P.EV_ACK, None)]
    assert events(P.NACK) == [(P.EV_NACK, None)]
    assert events(hexb("00 00 FF 01 FF 7F 81 00")) == [(P.EV_APP_ERROR, None)]


def test_frame_payload_and_position():
    resp = hexb("00 00 FF 06 FA D5 03 32 01 06 07 E8 00")
    for chunk in (1, 2, 5, 64):
        assert events(resp, chunk=chunk) == [(P.EV_FRAME, hexb("D5 03 32 01 06 07"))]
    p = P.FrameParser()
    events(b"\x12\x34" + resp, parser=p)
    assert p.pos == 2 + 5 and p.noise == 2


def test_preamble_and_postamble_are_optional_and_repeatable():
    core = hexb("00 FF 06 FA D5 03 32 01 06 07 E8")
    for pre in (b"", b"\x00", b"\x00\x00\x00\x00"):
        for post in (b"", b"\x00", b"\x00\x00\x00"):
            ev = events(pre + core + post + P.ACK)
            assert ev == [(P.EV_FRAME, hexb("D5 03 32 01 06 07")), (P.EV_ACK, None)], (pre, post)


def test_back_to_back_frames_in_one_chunk():
    a = chip_frame(0x4B, b"\x00")
    b = chip_frame(0x03, b"\x32\x01\x06\x07")
    ev = events(P.ACK + a + P.ACK + b, chunk=200)
    assert ev == [(P.EV_ACK, None), (P.EV_FRAME, b"\xd5\x4b\x00"), (P.EV_ACK, None),
                  (P.EV_FRAME, b"\xd5\x03\x32\x01\x06\x07")]


def test_extended_frame_parses():
    data = bytes((i * 13) & 0xFF for i in range(280))
    f = chip_frame(0x41, data)
    assert f[3:5] == b"\xff\xff"
    for chunk in (1, 64):
        ev = events(f, chunk=chunk)
        assert ev == [(P.EV_FRAME, b"\xd5\x41" + data)]


def test_noise_is_skipped():
    good = chip_frame(0x15)
    for noise in (b"\x55\x55", b"\xff\xff\xff", b"\x00\x01\xff", b"\x7f\x00\x00\x00\x12", b"\xff\x00\xff"):
        assert events(noise + good)[-1] == (P.EV_FRAME, b"\xd5\x15"), noise


def test_bad_lcs_then_resync():
    bad = hexb("00 00 FF 06 FB D5 03 32 01 06 07 E8 00")
    ev = events(bad + chip_frame(0x15))
    assert ev[0] == (P.ERR_LCS, None)
    assert ev[-1] == (P.EV_FRAME, b"\xd5\x15")
    bad_ext = hexb("00 00 FF FF FF 01 2D D3") + bytes(20)
    ev = events(bad_ext + P.ACK)
    assert ev == [(P.ERR_LCS, None), (P.EV_ACK, None)]


def test_bad_dcs_then_resync():
    bad = hexb("00 00 FF 06 FA D5 03 32 01 06 07 E9 00")
    ev = events(bad + chip_frame(0x15))
    assert ev == [(P.ERR_DCS, None), (P.EV_FRAME, b"\xd5\x15")]


def test_noise_is_counted_once():
    p = P.FrameParser()
    bad = hexb("00 00 FF 06 FA D5 03 32 01 06 07 E9 00")  # bad DCS: its bytes are rescanned
    assert events(b"\x12\x34" + bad, parser=p)[-1] == (P.ERR_DCS, None)
    assert p.noise == 2  # the rescan does not count the broken frame's bytes as noise
    events(b"\x56", parser=p)
    assert p.noise == 3


def test_zero_length_is_an_error():
    ev = events(hexb("00 00 FF 00 00") + chip_frame(0x15))
    assert ev == [(P.ERR_LEN, None), (P.EV_FRAME, b"\xd5\x15")]


def test_length_beyond_buffer_is_an_error():
    p = P.FrameParser(64)
    ev = events(hexb("00 00 FF FF FF 01 00 FF") + chip_frame(0x15), parser=p)
    # the rescan meets 00 FF inside the bad header: a second (zero) length error, then the frame
    assert ev == [(P.ERR_LEN, None), (P.ERR_LEN, None), (P.EV_FRAME, b"\xd5\x15")]


def test_frame_hidden_inside_a_broken_frame_is_found():
    # a start code whose LEN swallows the next real frame: the DCS fails, the bytes are rescanned
    real = chip_frame(0x4B, b"\x00")
    junk = hexb("00 FF 14 EC D5 4B")
    tail = bytes(20)
    ev = events(junk + real + tail)
    assert ev == [(P.ERR_DCS, None), (P.EV_FRAME, b"\xd5\x4b\x00")]


def test_truncated_frame_then_next_frame():
    full = hexb("00 00 FF 06 FA D5 03 32 01 06 07 E8 00")
    cut = full[:9]  # bytes lost: the rest never comes
    ev = events(cut + P.ACK + chip_frame(0x15))
    assert ev[-1] == (P.EV_FRAME, b"\xd5\x15")
    assert (P.EV_ACK, None) in ev
    # the stream stops mid-frame: truncate() reports it; nothing is left pending
    p = P.FrameParser()
    assert events(cut, parser=p) == []
    assert p.busy()
    assert p.truncate() == P.ERR_TRUNC
    assert p.next() == 0 and not p.busy()
    assert p.truncate() == 0


def test_truncation_with_a_frame_inside():
    # a cut frame followed by a whole short frame that does not complete it: found on truncate()
    cut = hexb("00 00 FF 40 C0 D5 4B")
    real = chip_frame(0x15)
    ev = events(cut + real, flush=True)
    assert ev == [(P.ERR_TRUNC, None), (P.EV_FRAME, b"\xd5\x15")]


def test_endless_noise_keeps_the_buffer_bounded():
    p = P.FrameParser(64)
    rng = Lcg(7)
    junk = bytearray(300)
    for k in range(300):
        junk[k] = rng.next(1, 254)
    for _ in range(5):
        assert events(bytes(junk), parser=p, chunk=17) == []
    assert p.n < 64
    assert events(chip_frame(0x15), parser=p) == [(P.EV_FRAME, b"\xd5\x15")]


def _random_stream(rng, k):
    out = bytearray(k)
    for i in range(k):
        c = rng.next(0, 9)
        out[i] = 0 if c < 3 else (0xFF if c < 5 else rng.next(0, 255))
    return out


def test_random_garbage_then_a_frame():
    # whatever precedes it, a valid frame is decoded, unless the garbage started a frame that
    # passed both checksums by using the valid frame's start code (then that bogus frame covers it)
    rng = Lcg(2024)
    for case in range(150):
        g = _random_stream(rng, rng.next(0, 40))
        data = bytearray(rng.next(0, 12))
        for i in range(len(data)):
            data[i] = rng.next(0, 255)
        f = chip_frame(rng.next(0, 255), data)
        p = P.FrameParser(128)
        seen = []
        stream = bytes(g) + f
        def drain():
            while True:
                ev = p.next()
                if ev == 0:
                    return
                if ev == P.EV_FRAME:
                    seen.append((p.pos, p.len, bytes(p.buf[p.off:p.off + p.len])))
        i = 0
        while i < len(stream):
            i += p.feed(stream, i, min(len(stream), i + rng.next(1, 9)))
            drain()
        while p.busy():
            p.truncate()
            drain()
        start = len(g)  # f's first byte; its payload starts 5 bytes in
        ok = (start + 5, len(f) - 7, f[5:-2]) in seen
        covered = [s for s in seen if s[0] - 5 <= start + 2 < s[0] + s[1] + 1]
        assert ok or covered, (case, bytes(g), f, seen)


def test_parser_never_raises_on_random_bytes():
    rng = Lcg(99)
    p = P.FrameParser(96)
    for _ in range(40):
        chunk = _random_stream(rng, rng.next(1, 80))
        events(bytes(chunk), parser=p, chunk=rng.next(1, 30), flush=rng.next(0, 1) == 1)
    p.reset()
    assert events(P.ACK, parser=p) == [(P.EV_ACK, None)]
