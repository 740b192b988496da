# The event-log record: one tuple (t_ms, code, arg, who) and its one text form.
# Every tool that prints or compares logs (sim, scenario runner, host CLI, tests) goes through here.
from lockctl.codes import LOG_NAMES


def format_record(rec):
    """(t, code, arg, who) -> 't NAME [arg] [who]'; arg/who left out when None."""
    t, code, arg, who = rec
    name = LOG_NAMES[code] if 0 < code < len(LOG_NAMES) else "CODE%d" % code
    s = "%d %s" % (t, name)
    if arg is not None:
        s += " " + str(arg)
    if who is not None:
        if arg is None:
            s += " -"
        s += " " + str(who)
    return s


def parse_code(name):
    """'UNLOCK' -> LOG_UNLOCK; ValueError for an unknown name."""
    for i in range(1, len(LOG_NAMES)):
        if LOG_NAMES[i] == name:
            return i
    raise ValueError("unknown log record name: %s" % name)
