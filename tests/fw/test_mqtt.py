# lockctl.mqtt: the sans-IO MQTT 3.1.1 session, byte for byte against the specification's encodings
# (MQTT 3.1.1, OASIS standard, chapters 2-3), fed whole and one byte at a time. Both runtimes.
from lockctl.mqtt import (Session, MqttError, CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP, TOO_BIG, UNSUBACK,
                          IDLE, CONNECTING, UP, DEAD, E_MALFORMED, E_PROTOCOL, E_TIMEOUT, E_CLOSED, E_REFUSED)


def raises(code, fn, *a):
    try:
        fn(*a)
    except MqttError as e:
        assert e.code == code, (e.code, code, str(e))
        return e
    raise AssertionError("no MqttError")


def up(**kw):
    s = Session(b"door-1", **kw)
    s.connect(0)
    s.receive(b"\x20\x02\x00\x00", 1)
    assert s.next_event() == (CONNACK, False, 0)
    assert s.state == UP
    return s


def events(s):
    out = []
    while True:
        e = s.next_event()
        if e is None:
            return out
        out.append(e)


def test_connect_packet_with_a_retained_will_and_credentials():
    s = Session(b"door-1", keepalive=60, will=(b"d/door-1/online", b"offline", 1, True), user=b"u",
                password=b"pw")
    assert s.state == IDLE
    pkt = bytes(s.connect(0))
    body = (b"\x00\x04MQTT\x04" + bytes((0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02,)) + b"\x00\x3c"
            + b"\x00\x06door-1" + b"\x00\x0fd/door-1/online" + b"\x00\x07offline" + b"\x00\x01u" + b"\x00\x02pw")
    assert pkt == bytes((0x10, len(body))) + body
    assert s.state == CONNECTING


def test_connect_without_a_will_or_clean_session():
    s = Session(b"x", keepalive=300, clean=False)
    assert bytes(s.connect(0)) == b"\x10\x0d\x00\x04MQTT\x04\x00\x01\x2c\x00\x01x"


def test_publish_qos0_and_qos1_packets_and_packet_ids():
    s = up()
    assert bytes(s.publish(b"a/b", b"hi", 0, False, 5)) == b"\x30\x07\x00\x03a/bhi"
    assert bytes(s.publish(b"a/b", b"hi", 1, True, 6)) == b"\x33\x09\x00\x03a/b\x00\x01hi"
    assert s.last_pid == 1
    assert bytes(s.publish(b"a/b", b"", 1, False, 7, dup=True, pid=1)) == b"\x3a\x07\x00\x03a/b\x00\x01"
    assert bytes(s.publish(b"a/b", b"", 1))[7:9] == b"\x00\x02"
    s.receive(b"\x40\x02\x00\x01", 8)
    assert s.next_event() == (PUBACK, 1)


def test_a_long_payload_takes_a_two_byte_remaining_length():
    s = up(tx=400)
    pkt = bytes(s.publish(b"t", b"x" * 200, 0))
    assert pkt[:3] == b"\x30\xcb\x01" and len(pkt) == 3 + 203  # 203 = 0x4b + 1 * 128


def test_packet_ids_wrap_past_65535_and_never_use_zero():
    s = up()
    first = None
    for i in range(65537):
        s.subscribe([(b"t", 0)])
        p = s.last_pid
        assert p != 0
        if i == 0:
            first = p
        elif i == 65534:
            assert p == 65535
        elif i == 65535:
            assert p == 1
    assert first == 1


def test_subscribe_and_suback():
    s = up()
    assert bytes(s.subscribe([(b"d/1/cmd", 1), (b"d/1/ack", 0)])) == (
        b"\x82\x16\x00\x01\x00\x07d/1/cmd\x01\x00\x07d/1/ack\x00")
    s.receive(b"\x90\x04\x00\x01\x01\x80", 2)
    assert s.next_event() == (SUBACK, 1, b"\x01\x80")


def test_incoming_publish_whole_and_one_byte_at_a_time():
    pkt = b"\x32\x0c\x00\x05d/cmd\x12\x34abc" + b"\x31\x06\x00\x01tret" + b"\xd0\x00"
    want = [(PUBLISH, b"d/cmd", b"abc", 1, False, False, 0x1234), (PUBLISH, b"t", b"ret", 0, True, False, 0),
            (PINGRESP,)]
    s = up()
    s.receive(pkt, 2)
    assert events(s) == want
    s = up()
    got = []
    for i in range(len(pkt)):
        assert s.receive(pkt[i:i + 1], 2) == 1
        got += events(s)
    assert got == want
    assert bytes(s.puback(0x1234)) == b"\x40\x02\x12\x34"


def test_a_publish_larger_than_the_buffer_is_skipped_and_reported_not_fatal():
    s = up(rx=64)
    big = b"\x00\x04big!\x00\x07" + b"z" * 500
    pkt = b"\x32" + bytes((len(big) & 0x7F | 0x80, len(big) >> 7)) + big + b"\x30\x05\x00\x01tok"
    got = []
    i = 0
    while i < len(pkt):
        i += s.receive(pkt[i:i + 50], 3)
        got += events(s)
    assert got == [(TOO_BIG, b"big!", 1, 7, len(big)), (PUBLISH, b"t", b"ok", 0, False, False, 0)]
    assert s.state == UP and s.too_big == 1


def test_connack_refused_is_sticky():
    s = Session(b"door-1")
    s.connect(0)
    s.receive(b"\x20\x02\x00\x05", 1)
    e = raises(E_REFUSED, s.next_event)
    assert e.rc == 5 and "not authorized" in str(e)
    assert s.state == DEAD
    raises(E_REFUSED, s.next_event)
    raises(E_REFUSED, s.publish, b"t", b"p")
    raises(E_REFUSED, s.space)
    s.connect(10)  # a new connection starts clean
    assert s.state == CONNECTING and s.error is None


def test_malformed_and_out_of_protocol_packets_kill_the_session():
    cases = [
        (b"\x30\xff\xff\xff\xff\x01", E_MALFORMED),  # remaining length of 5 bytes
        (b"\x34\x05\x00\x01t\x00\x01", E_PROTOCOL),  # QoS 2
        (b"\x32\x05\x00\x01t\x00\x00", E_MALFORMED),  # QoS 1 with packet id 0
        (b"\x30\x03\x00\x05t", E_MALFORMED),  # topic past the end
        (b"\x40\x03\x00\x01\x00", E_MALFORMED),  # PUBACK of 3 bytes
        (b"\x20\x02\x00\x00", E_PROTOCOL),  # a second CONNACK
        (b"\x10\x00", E_PROTOCOL),  # CONNECT from the broker
        (b"\x90\x02\x00\x01", E_MALFORMED),  # SUBACK without codes
        (b"\xd0\x01\x00", E_MALFORMED),
        (b"\x50\x02\x00\x01", E_PROTOCOL),  # PUBREC: we never publish QoS 2
    ]
    for data, code in cases:
        s = up()
        s.receive(data, 2)
        raises(code, s.next_event)
        assert s.state == DEAD
        raises(code, s.poll, 3)


def test_nothing_but_connack_before_the_session_is_up():
    s = Session(b"d")
    s.connect(0)
    s.receive(b"\x30\x03\x00\x01t", 1)
    raises(E_PROTOCOL, s.next_event)
    s = Session(b"d")
    s.connect(0)
    raises(E_PROTOCOL, s.publish, b"t", b"p")  # not an error of the session: it is still connecting
    assert s.state == CONNECTING


def test_keepalive_ping_then_timeout_when_the_broker_is_silent():
    s = up(keepalive=10)  # sent CONNECT at 0, heard the CONNACK at 1
    assert s.next_deadline() == 10000
    assert s.poll(9999) is None
    assert bytes(s.poll(10000)) == b"\xc0\x00"
    assert s.poll(10001) is None  # one ping outstanding
    assert s.next_deadline() == 15001
    s.receive(b"\xd0\x00", 12000)
    assert events(s) == [(PINGRESP,)]
    assert s.next_deadline() == 20000  # 10 s after the ping sent
    s.publish(b"t", b"", 0, False, 19000)
    assert s.next_deadline() == 22000  # sending alone does not keep a silent broker's link: 10 s after heard
    assert bytes(s.poll(22000)) == b"\xc0\x00"
    assert s.next_deadline() == 27000
    assert s.poll(26999) is None
    raises(E_TIMEOUT, s.poll, 27000)
    assert s.state == DEAD and s.next_deadline() is None


def test_no_connack_within_a_keepalive_times_out():
    s = Session(b"d", keepalive=5)
    s.connect(100)
    assert s.next_deadline() == 5100
    assert s.poll(5099) is None
    raises(E_TIMEOUT, s.poll, 5100)


def test_disconnect_and_closed():
    s = up()
    assert bytes(s.disconnect(3)) == b"\xe0\x00"
    assert s.state == DEAD
    raises(E_CLOSED, s.publish, b"t", b"")
    s = up()
    s.closed()
    raises(E_CLOSED, s.next_event)
    s.connect(5)
    assert s.state == CONNECTING


def test_too_large_to_send_is_a_value_error_and_the_session_lives():
    s = up(tx=32)
    try:
        s.publish(b"t", b"x" * 40)
    except ValueError as e:
        assert "transmit buffer" in str(e)
    else:
        raise AssertionError("no ValueError")
    assert s.state == UP
    s.receive(b"\xb0\x02\x00\x09", 1)
    assert s.next_event() == (UNSUBACK, 9)


def test_a_user_name_and_password_outside_ascii_are_measured_in_utf8_bytes():
    s = Session(b"d", user="j\u00fcrgen", password="p\u00e4ss")
    pkt = bytes(s.connect(0))
    assert pkt[1] == len(pkt) - 2  # the remaining length is what follows
    assert pkt.endswith(b"\x00\x07j\xc3\xbcrgen\x00\x05p\xc3\xa4ss")
