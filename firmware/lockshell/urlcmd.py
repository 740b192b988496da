# URL key commands on the board (docs/network.md, "URL keys"): the hub hands over a verified,
# accepted OP_URL_KEY or an OP_UNLOCK naming a window (its counter already on flash); the windows
# themselves are lockctl/urlkey.py's, on the flash tally. Loaded by the hub on the first such
# command (lockshell/hub.py, Hub._act), so a board that never gets one never spends heap on it.
from lockctl import urlkey
from lockctl.codes import EV_REMOTE, LOG_URL_KEY, LOG_URL_KEY_UNLOCK, OP_URL_KEY, R_FORMAT, R_STORE


def act(hub, cmd):
    """-> 0 or the reason (R_*) the command could not be carried out; the records it makes."""
    app = hub.app
    t = app.now_ms()
    wall = app.wall_at(t)  # (set: the gate refuses these while the clock is unset)
    try:
        if cmd.op == OP_URL_KEY:
            kid, frm, until = urlkey.parse_window(cmd.args)
        else:
            kid = urlkey.parse_unlock(cmd.args)
    except ValueError:
        return R_FORMAT
    if cmd.op == OP_URL_KEY:
        try:
            why = urlkey.open_window(hub.tally, kid, frm, until, wall)
        except OSError:
            return R_STORE
        if not why:
            app.note(t, LOG_URL_KEY, (kid, until), cmd.user)
        return why
    why = urlkey.check(hub.tally, kid, wall)
    if not why:
        app.note(t, LOG_URL_KEY_UNLOCK, (kid, cmd.counter), cmd.user)
        app.submit(t, EV_REMOTE, ("unlock", cmd.user))
    return why
