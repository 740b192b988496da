# URL keys over the hub (lockctl/urlkey.py, lockshell/hub.py): signed windows opened, used,
# refused outside, closed, kept across a reboot. Both runtimes.
import gc

from hubkit import U, Hub, rig, online, command, records
gc.collect()
from offlinerig import UNLOCK
from lockctl.urlkey import window_args, unlock_args
from lockctl.codes import (OP_UNLOCK, OP_LOCK, OP_URL_KEY, LOG_COMMAND, LOG_COMMAND_REFUSED, LOG_UNLOCK,
                           LOG_URL_KEY, LOG_URL_KEY_UNLOCK, SRC_REMOTE, R_FORMAT, R_UNKNOWN, R_NOT_YET, R_EXPIRED)
from keykit import SECRET, DOOR
gc.collect()

MP_HEAP = "96wK"  # the whole firmware (tests/conftest.py)


def test_a_url_key_window_lets_a_remote_unlock_act_only_inside_it():
    d, h = rig()
    online(d, h)
    # Ben (user 2) shares access: window 7 for the next ten minutes, window 8 from tomorrow
    assert command(d, h, 1, OP_URL_KEY, window_args(7, U - 10, U + 600), user=2)[0]["ok"] is True
    assert command(d, h, 2, OP_URL_KEY, window_args(8, U + 86400, U + 90000), user=2)[0]["ok"] is True
    assert [(r[2], r[3]) for r in records(d, LOG_URL_KEY)] == [((7, U + 600), 2), ((8, U + 90000), 2)]
    assert command(d, h, 3, OP_UNLOCK, unlock_args(8), user=2)[0]["reason"] == R_NOT_YET
    assert command(d, h, 4, OP_UNLOCK, unlock_args(9), user=2)[0]["reason"] == R_UNKNOWN
    assert command(d, h, 5, OP_LOCK, unlock_args(7))[0]["reason"] == R_FORMAT  # a lock names no window
    assert command(d, h, 6, OP_UNLOCK, b"\x07\x00")[0]["reason"] == R_FORMAT
    assert command(d, h, 7, OP_URL_KEY, window_args(9, U - 100, U - 1))[0]["ok"] is False  # over already
    assert [r[2] for r in records(d, LOG_COMMAND_REFUSED)] == [(R_NOT_YET, OP_UNLOCK), (R_UNKNOWN, OP_UNLOCK),
                                                                (R_FORMAT, OP_LOCK), (R_FORMAT, OP_UNLOCK),
                                                                (R_EXPIRED, OP_URL_KEY)]
    assert len(records(d, LOG_URL_KEY)) == 2  # nothing opened by the refused one
    d.run_to(3000)
    assert d.app.core.state == 1 and not records(d, LOG_UNLOCK)  # none of those moved the bolt
    res = command(d, h, 8, OP_UNLOCK, unlock_args(7), user=2)
    assert res == [{"counter": 8, "op": "unlock", "ok": True, "reason": 0}]
    d.run_to(3200)
    d.set_pos(UNLOCK)
    d.run_to(4000)
    assert d.app.core.state == 3
    assert [(r[2], r[3]) for r in records(d, LOG_UNLOCK)] == [(SRC_REMOTE, 2)]
    assert [(r[2], r[3]) for r in records(d, LOG_URL_KEY_UNLOCK)] == [((7, 8), 2)]
    assert [(r[2], r[3]) for r in records(d, LOG_COMMAND) if r[2][0] == OP_UNLOCK] == [((OP_UNLOCK, 8), 2)]
    # closed: the next signed unlock naming it is refused, even one signed before
    assert command(d, h, 9, OP_URL_KEY, window_args(7, 0, 0), user=2)[0]["ok"] is True
    assert records(d, LOG_URL_KEY)[-1][2] == (7, 0)
    assert command(d, h, 10, OP_UNLOCK, unlock_args(7), user=2)[0]["reason"] == R_UNKNOWN
    # the windows are on flash: a new hub (a reboot) has window 8
    h = None
    gc.collect()
    h = Hub(d.app, d.storage, DOOR, SECRET)
    online(d, h)
    assert command(d, h, 11, OP_UNLOCK, unlock_args(8), user=2)[0]["reason"] == R_NOT_YET
