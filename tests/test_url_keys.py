"""URL keys end to end: `doorkit remote url-key` / `unlock --url-key` as an operator runs them,
over a real broker (amqtt; mosquitto when installed) to the firmware's hub on a virtual door
(sim/netdoor.py): the window opened, an unlock inside it acting, unlocks outside it or after it is
closed refused (exit 5, one line) and logged, bad arguments refused before anything is sent."""
import os

import pytest

from doorkit import provision as P
from lockctl import codes as C
from sim.netdoor import NetDoor, Running
from conftest import doorkit_cli, wait_for



def dk(*argv, **kw):
    p = doorkit_cli(*argv, **kw)
    return p.stdout + p.stderr


def test_a_url_key_window_over_the_broker(broker, tmp_path):
    d = NetDoor("front", broker.host, broker.port, keepalive=10)
    path = tmp_path / "front"
    P.create_door(path, "front", secret=d.secret, config={"utc_offset_min": 540})
    door, keys = P.open_keys(path)
    keys.add_user("E1", "Aiko Owner")
    P.save_keys(door, keys)
    at = ("--broker", "%s:%d" % (broker.host, broker.port), "--timeout", "20")
    run = Running(d)
    try:
        wait_for(lambda: d.hub.status == 7, "the door online")
        out = dk("remote", "url-key", path, "--id", "7", "--for", "2h", "--user", "E1", *at)
        assert "door front: url key 7 open now .. " in out and "+0900 done (command 1)" in out
        out = dk("remote", "url-key", path, "--id", "9", "--from", "2099-01-01 09:00", "--for", "1h", *at)
        assert "url key 9 open 2099-01-01 09:00+0900 .. 2099-01-01 10:00+0900 done" in out
        assert "door front: unlock by url key 7 done" in dk("remote", "unlock", path, "--url-key", "7", "--user",
                                                            "E1", *at)
        err = dk("remote", "unlock", path, "--url-key", "9", *at, code=5)
        assert err == "doorkit remote: door front refused unlock by url key 9: not-yet\n"
        assert "refused unlock by url key 8: unknown" in dk("remote", "unlock", path, "--url-key", "8", *at, code=5)
        assert "url key 7 closed done" in dk("remote", "url-key", path, "--close", "7", *at)
        assert "refused unlock by url key 7: unknown" in dk("remote", "unlock", path, "--url-key", "7", *at, code=5)
        # the bolt's UNLOCK is logged when the motor gets there (the door's time follows the real one)
        wait_for(lambda: run.call(lambda: [r for r in d.log.records(1) if r[4] == C.LOG_UNLOCK]), "the bolt drawn")
        recs = run.call(lambda: [r for r in d.log.records(1)])
    finally:
        run.stop()
    assert [(r[5], r[6]) for r in recs if r[4] == C.LOG_UNLOCK] == [(C.SRC_REMOTE, 1)]
    codes = [(r[4], r[5], r[6]) for r in recs if r[4] in (C.LOG_URL_KEY, C.LOG_URL_KEY_UNLOCK,
                                                         C.LOG_COMMAND_REFUSED)]
    until7 = codes[0][1][1]
    assert codes == [
        (C.LOG_URL_KEY, (7, until7), 1), (C.LOG_URL_KEY, (9, codes[1][1][1]), None),
        (C.LOG_URL_KEY_UNLOCK, (7, 3), 1),
        (C.LOG_COMMAND_REFUSED, (C.R_NOT_YET, C.OP_UNLOCK), None),
        (C.LOG_COMMAND_REFUSED, (C.R_UNKNOWN, C.OP_UNLOCK), None),
        (C.LOG_URL_KEY, (7, 0), None), (C.LOG_COMMAND_REFUSED, (C.R_UNKNOWN, C.OP_UNLOCK), None)]
    opened = [r for r in recs if r[4] == C.LOG_URL_KEY][0]
    assert opened[2] and 7195 <= until7 - opened[3] <= 7205  # two hours from when it was opened (wall s)


@pytest.mark.parametrize("argv, words", [
    (("url-key",), "needs --id ID"),
    (("url-key", "--id", "7"), "one of --until TIME or --for DURATION"),
    (("url-key", "--id", "7", "--for", "2h", "--until", "2099-01-01 10:00"), "one of --until"),
    (("url-key", "--id", "7", "--for", "2 hours"), "--for is a duration"),
    (("url-key", "--id", "0", "--for", "2h"), "a URL key id is 1..65535"),
    (("url-key", "--id", "7", "--from", "2099-01-02 10:00", "--until", "2099-01-01 10:00"), "closes before it opens"),
    (("url-key", "--id", "7", "--from", "2099-01-01", "--for", "400d"), "at most a year"),
    (("url-key", "--id", "7", "--until", "2001-01-01 10:00"), "over already"),
    (("url-key", "--id", "7", "--until", "tomorrow"), "--until is a time"),
    (("url-key", "--close", "7", "--id", "7"), "--close ID takes no"),
    (("lock", "--url-key", "7"), "--url-key ID is for unlock"),
    (("unlock", "--id", "7"), "are for url-key"),
    (("unlock", "--url-key", "70000"), "a URL key id is 1..65535"),
])
def test_bad_url_key_arguments_send_nothing(tmp_path, argv, words):
    path = tmp_path / "front"
    P.create_door(path, "front")
    err = dk("remote", argv[0], path, *argv[1:], "--broker", "127.0.0.1:9", code=2)
    assert words in err, err
    assert not os.path.exists(path / "remote.json")  # no counter was taken
