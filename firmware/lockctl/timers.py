# One-shot timer table for whoever runs a LockCore: apply the core's A_ARM / A_CANCEL actions,
# ask for the next deadline, collect the expired timer ids. No clock inside: times are passed in.
from lockctl.codes import A_ARM, A_CANCEL


class Timers:
    def __init__(self):
        self._due = {}  # timer id -> deadline ms

    def apply(self, action):
        """Take an action tuple; returns True if it was a timer action."""
        kind = action[0]
        if kind == A_ARM:
            self._due[action[1]] = action[2]
            return True
        if kind == A_CANCEL:
            self._due.pop(action[1], None)
            return True
        return False

    def arm(self, tid, deadline):
        self._due[tid] = deadline

    def cancel(self, tid):
        """Forget timer tid; returns True if it was armed."""
        return self._due.pop(tid, None) is not None

    def deadline(self, tid):
        """Deadline of timer tid, or None when it is not armed."""
        return self._due.get(tid)

    def next_deadline(self):
        best = None
        for t in self._due.values():
            if best is None or t < best:
                best = t
        return best

    def pop_due(self, now):
        """Remove and return the id of the earliest timer with deadline <= now, or None."""
        best = None
        for tid in self._due:
            t = self._due[tid]
            # ties go to the lower id: dict order differs between CPython and MicroPython
            if t <= now and (best is None or t < self._due[best] or (t == self._due[best] and tid < best)):
                best = tid
        if best is not None:
            del self._due[best]
        return best

    def rebase(self, delta):
        """Move every deadline delta ms earlier: the clock they are measured on was moved back."""
        due = self._due
        for tid in due:
            due[tid] -= delta

    def clear(self):
        self._due.clear()

    def __len__(self):
        return len(self._due)
