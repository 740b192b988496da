# In-memory key list: (kind, ident) -> user. The core asks keys.check(kind, ident, now_ms) and gets
# (user, None) for a valid key or (None, reason) otherwise. The flash key store replaces this later
# behind the same method.


class KeyList:
    def __init__(self, entries=None):
        self._keys = {}
        if entries:
            for kind, ident, user in entries:
                self.add(kind, ident, user)

    def add(self, kind, ident, user):
        if not kind or not ident or not user:
            raise ValueError("a key needs kind, ident and user")
        k = (kind, ident)
        if k in self._keys:
            raise ValueError("this card is already registered")
        self._keys[k] = user

    def remove(self, kind, ident):
        self._keys.pop((kind, ident), None)

    def check(self, kind, ident, now):
        user = self._keys.get((kind, ident))
        if user is None:
            return None, "unknown"
        return user, None

    def __len__(self):
        return len(self._keys)
