# In-memory key list: (kind, ident) -> user, always valid, no use counts. The lock and the simulator
# use the flash key store (lockctl/keystore.py); this stand-in with the same protocol
# (check(kind, ident, local) -> (user, None) or (None, R_*), consume(kind, ident)) serves the core's
# unit tests and the benchmarks that exercise the core alone. kind is a KIND_* code, ident the
# identity the reader reports (upper-case hex).
from lockctl.codes import KIND_LAST, R_UNKNOWN


class KeyList:
    def __init__(self, entries=None):
        self._keys = {}
        if entries:
            for kind, ident, user in entries:
                self.add(kind, ident, user)

    def add(self, kind, ident, user):
        if type(kind) is not int or kind < 1 or kind > KIND_LAST:
            raise ValueError("a key's kind must be a KIND_* code")
        if type(ident) is not str or not ident or not user:
            raise ValueError("a key needs kind, ident and user")
        k = (kind, ident)
        if k in self._keys:
            raise ValueError("this card is already registered")
        self._keys[k] = user

    def remove(self, kind, ident):
        """Forget a key; returns True if it was enrolled."""
        return self._keys.pop((kind, ident), None) is not None

    def check(self, kind, ident, local):
        user = self._keys.get((kind, ident))
        if user is None:
            return None, R_UNKNOWN
        return user, None

    def consume(self, kind, ident):
        return True  # no use counts here

    def __len__(self):
        return len(self._keys)
