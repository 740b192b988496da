"""Provisioning: a door directory on the installer's laptop (the door's identity, secret, settings
and key book), and the operations on it that `doorkit provision`, `doorkit keys` and `doorkit
enroll` run (docs/provisioning.md).

    DIR/door.toml    the door file (TOML, human readable): door id, name, site, [config]
    DIR/secret.key   the door secret: 64 hex digits and a newline, file mode 0600
    DIR/keys.json    users (code, name, role) and the key book (doorkit.keybook.KeyBook.state())

Every function raises doorkit.errors.UserError(code, one-line message) for what the user can act
on: EXIT_DATA (6) for a missing or corrupt file or bad input, EXIT_CONFLICT (7) for a directory that
exists, a card registered to someone else, the last super manager removed.
"""
import json
import os
import re

from doorkit.errors import EXIT_CONFLICT, EXIT_DATA, EXIT_USAGE, UserError

FORMAT = 1
DOOR_FILE = "door.toml"
SECRET_FILE = "secret.key"
KEYS_FILE = "keys.json"
REMOTE_FILE = "remote.json"  # the last remote command counter used (doorkit remote)

ROLES = ("super", "manager", "member")  # super manager / manager / member (host-side only)
ROLE_NAMES = {"super": "super manager", "manager": "manager", "member": "member"}

_DOOR_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,16}\Z")  # the bundle header holds 16 bytes of it
_CODE_RE = re.compile(r"[A-Za-z0-9._@-]{1,32}\Z")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+\Z")
# bytes of an ident of each card kind the reader reports (docs/keys.md)
CARD_LENGTHS = {"iso14443a": (4, 7, 10), "felica": (8,), "phone": tuple(range(8, 17))}


# ---------------------------------------------------------------------------------------- files
def _p(path, name):
    return os.path.join(path, name)


def _atomic_write(path, data, mode=0o644):
    """data (bytes) to path via a temp file renamed over it: a crash leaves the old or the new."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    os.replace(tmp, path)


def _settings():
    from doorkit import keybook  # noqa: F401  (puts the firmware packages on the path)
    from lockctl import config as C
    return C


def check_config(changes, what="config", code=EXIT_USAGE):
    """A dict of lock settings checked by the firmware's own rules (lockctl.config): its names, its
    ranges. -> a clean copy; UserError(code: EXIT_USAGE for a request, EXIT_DATA for a file's
    content) naming the bad setting."""
    C = _settings()
    from lockctl.errors import LockError
    try:
        return C.check(dict(changes))
    except LockError as e:
        raise UserError(code, "%s: %s" % (what, e))


def check_door_id(door_id):
    if not isinstance(door_id, str) or not _DOOR_ID_RE.match(door_id):
        raise UserError(EXIT_USAGE, "a door id is 1..16 letters, digits, '.', '_' or '-', not %r" % (door_id,))
    return door_id


def _door_toml(door):
    import tomli_w
    body = {"format": FORMAT, "door_id": door["door_id"], "name": door["name"], "site": door["site"],
            "config": door["config"]}
    if door.get("network"):
        body["network"] = door["network"]
    head = ("# doorkit door file (docs/provisioning.md). The secret is in secret.key, the users and\n"
            "# credentials in keys.json; keep the three together (back up the whole directory).\n"
            "# [config] holds the lock's settings by their firmware names (lockctl/config.py);\n"
            "# [network], when there, the hub's link (docs/network.md).\n")
    return (head + tomli_w.dumps(body)).encode()


class Door:
    """A loaded door directory: door_id, name, site, config (the full settings dict), secret
    (32 bytes), path; keys (users and key book) are loaded by load_keys()."""

    def __init__(self, path, door_id, name, site, config, secret, network=None):
        self.path = path
        self.door_id = door_id
        self.name = name
        self.site = site
        self.config = config
        self.secret = secret
        self.network = network  # the hub's settings (lockshell/net.py's /net.json) or None

    def as_dict(self):
        return {"door_id": self.door_id, "name": self.name, "site": self.site, "config": dict(self.config),
                "network": dict(self.network) if self.network else None}


def create_door(path, door_id, name="", site="", config=None, secret=None):
    """Make the door directory `path` (which must not exist) with a fresh random secret (or the
    given 32 bytes), the firmware's default settings updated by `config`, and an empty key book."""
    check_door_id(door_id)
    for what, v in (("name", name), ("site", site)):
        if not isinstance(v, str) or not v.isprintable():
            raise UserError(EXIT_USAGE, "the door's %s must be printable text" % what)
    cfg = _settings().defaults()
    cfg.update(check_config(config or {}))
    if secret is None:
        secret = os.urandom(32)
    if len(secret) != 32:
        raise UserError(EXIT_USAGE, "a door secret is 32 bytes")
    if os.path.lexists(path):
        raise UserError(EXIT_CONFLICT, "door directory %s already exists (a door is made once; "
                                       "`doorkit provision set` changes it)" % path)
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        raise UserError(EXIT_CONFLICT, "door directory %s already exists" % path)
    except OSError as e:
        raise UserError(EXIT_DATA, "door directory %s: %s" % (path, e.strerror or e))
    fd = os.open(_p(path, SECRET_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex() + "\n")
    door = {"door_id": door_id, "name": name, "site": site, "config": cfg}
    _atomic_write(_p(path, DOOR_FILE), _door_toml(door))
    d = Door(path, door_id, name, site, cfg, bytes(secret))
    save_keys(d, Keys(d))
    return d


def _bad(path, name, what):
    return UserError(EXIT_DATA, "%s: %s" % (_p(path, name), what))


def load_door(path):
    """The door in directory `path`; UserError(EXIT_DATA) naming the file and what is wrong."""
    if not os.path.isdir(path):
        raise UserError(EXIT_DATA, "door directory %s: no such directory" % path)
    try:
        import tomllib
    except ImportError:  # Python 3.10: the same parser as the tomli package
        import tomli as tomllib
    try:
        with open(_p(path, DOOR_FILE), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise _bad(path, DOOR_FILE, "no such file (not a door directory?)")
    except OSError as e:
        raise _bad(path, DOOR_FILE, e.strerror or str(e))
    try:
        d = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad(path, DOOR_FILE, "not UTF-8 text")
    except tomllib.TOMLDecodeError as e:
        raise _bad(path, DOOR_FILE, "not valid TOML (%s)" % str(e).splitlines()[0])
    if d.get("format") != FORMAT:
        raise _bad(path, DOOR_FILE, "format must be %d, not %r" % (FORMAT, d.get("format")))
    door_id = d.get("door_id")
    if not isinstance(door_id, str) or not _DOOR_ID_RE.match(door_id):
        raise _bad(path, DOOR_FILE, "door_id must be 1..16 letters, digits, '.', '_' or '-', not %r" % (door_id,))
    for k in ("name", "site"):
        if not isinstance(d.get(k, ""), str):
            raise _bad(path, DOOR_FILE, "%s must be text" % k)
    cfg = d.get("config", {})
    if not isinstance(cfg, dict):
        raise _bad(path, DOOR_FILE, "[config] must be a table")
    full = _settings().defaults()
    full.update(check_config(cfg, what="%s [config]" % _p(path, DOOR_FILE), code=EXIT_DATA))
    net = d.get("network")
    if net is not None:
        net = check_network(net, what="%s [network]" % _p(path, DOOR_FILE), code=EXIT_DATA)
    try:
        with open(_p(path, SECRET_FILE), "r", encoding="ascii") as f:
            text = f.read().strip()
    except FileNotFoundError:
        raise _bad(path, SECRET_FILE, "no such file (the door secret is lost: restore the directory from its backup)")
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(path, SECRET_FILE, getattr(e, "strerror", None) or "not text")
    if len(text) != 64 or not _HEX_RE.match(text):
        raise _bad(path, SECRET_FILE, "expected 64 hex digits")
    return Door(path, door_id, d.get("name", ""), d.get("site", ""), full, bytes.fromhex(text), net)


def check_network(net, what="network settings", code=EXIT_USAGE):
    """The [network] table, checked as the firmware reads it (doorkit.image.check_net)."""
    from doorkit.image import check_net
    return check_net(net, what, code)


def set_network(path, broker=None, prefix=None, keepalive=None, wifi_ssid=None, wifi_password=None, user=None,
                password=None, off=False, tls_ca=None, tls_name=None, no_tls=False):
    """Set (or with off=True remove) the door's hub link; -> the settings (or None). tls_ca: a PEM
    or DER certificate file the lock pins (the broker's own or its CA's); tls_name: what it must
    name when not the broker's IP; no_tls: back to plain MQTT."""
    door = load_door(path)
    if off:
        door.network = None
    else:
        net = dict(door.network or {})
        if broker is not None:
            host, _, port = broker.partition(":")
            net["broker"] = host
            if port:
                if not port.isdigit():
                    raise UserError(EXIT_USAGE, "--broker is IP[:PORT], not %r" % broker)
                net["port"] = int(port)
        for k, v in (("prefix", prefix), ("keepalive", keepalive), ("user", user), ("password", password)):
            if v is not None:
                net[k] = v
        if wifi_ssid is not None:
            net["wifi"] = {"ssid": wifi_ssid, "password": wifi_password or ""}
        if no_tls:
            if net.pop("tls", None) is not None and net.get("port") == 8883 and (broker is None or ":" not in broker):
                net["port"] = 1883
        elif tls_ca is not None:
            from doorkit.tlscert import read_cert, ca_field
            net["tls"] = {"ca": ca_field(read_cert(tls_ca))}
            if broker is not None and ":" not in broker:
                net["port"] = 8883  # (MQTT over TLS's port unless given)
        if tls_name is not None:
            if "tls" not in net:
                raise UserError(EXIT_USAGE, "--tls-name needs --tls-ca (a door without TLS)")
            net["tls"]["name"] = tls_name
        if "broker" not in net:
            raise UserError(EXIT_USAGE, "the hub link needs --broker IP[:PORT]")
        door.network = check_network(net)
    _atomic_write(_p(path, DOOR_FILE), _door_toml(door.as_dict()))
    return door.network


def set_config(path, **changes):
    """Change the door's settings (firmware names, checked as a whole: a bad one changes nothing);
    -> the full settings dict."""
    door = load_door(path)
    clean = check_config(changes)
    door.config.update(clean)
    _atomic_write(_p(path, DOOR_FILE), _door_toml(door.as_dict()))
    return dict(door.config)


def set_info(path, name=None, site=None):
    door = load_door(path)
    for what, v in (("name", name), ("site", site)):
        if v is not None:
            if not v.isprintable():
                raise UserError(EXIT_USAGE, "the door's %s must be printable text" % what)
            setattr(door, what, v)
    _atomic_write(_p(path, DOOR_FILE), _door_toml(door.as_dict()))
    return door


# ---------------------------------------------------------------------------------------- keys
class Keys:
    """The door's users (code -> {"name", "role"}) and its KeyBook, whose user names are the user
    codes (the HR key), so the lock's user index maps back to a code and a name."""

    def __init__(self, door, users=None, book=None):
        from doorkit.keybook import KeyBook
        self.door = door
        self.users = users if users is not None else {}
        self.book = book if book is not None else KeyBook(door.secret, door.door_id.encode())

    # users
    def supers(self):
        return [c for c, u in self.users.items() if u["role"] == "super"]

    def add_user(self, code, name, role=None):
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise UserError(EXIT_DATA, "a user code is 1..32 letters, digits or ._@-, not %r" % (code,))
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise UserError(EXIT_DATA, "user %s needs a name (printable text)" % code)
        if role is not None and role not in ROLES:
            raise UserError(EXIT_USAGE, "a role is one of %s, not %r" % (", ".join(ROLES), role))
        if code in self.users:
            self.users[code]["name"] = name.strip()
            if role is not None:
                self.set_role(code, role)
            return False
        if role is None:  # the first user of a door is its owner
            role = "member" if self.supers() else "super"
        self.users[code] = {"name": name.strip(), "role": role}
        self.book.user(code)
        return True

    def _need(self, code):
        if code not in self.users:
            raise UserError(EXIT_DATA, "no user with code %s" % code)

    def set_role(self, code, role):
        self._need(code)
        if role not in ROLES:
            raise UserError(EXIT_USAGE, "a role is one of %s, not %r" % (", ".join(ROLES), role))
        if role != "super" and self.supers() == [code]:
            raise UserError(EXIT_CONFLICT, "%s is the door's only super manager: make another one first" % code)
        self.users[code]["role"] = role

    def remove_user(self, code):
        """Remove a user and every credential of theirs; -> how many credentials went."""
        self._need(code)
        if self.supers() == [code]:
            raise UserError(EXIT_CONFLICT, "%s is the door's only super manager: make another one first" % code)
        creds = self.book.credentials(code)
        for c in creds:
            self.book.remove(c[0], c[1])
        del self.users[code]  # the book keeps the index: a new user never reuses an old one's
        return len(creds)

    def who(self, code):
        u = self.users.get(code)
        return "%s (%s)" % (code, u["name"]) if u else code

    # credentials
    def norm(self, kind, ident):
        """(kind name, ident) checked as the reader reports it; UserError(EXIT_DATA) otherwise."""
        kind = kind.lower()
        if kind == "pin":
            if not (isinstance(ident, str) and ident.isdigit() and 4 <= len(ident) <= 8):
                raise UserError(EXIT_DATA, "a PIN is 4 to 8 digits")
            return kind, ident
        if kind not in CARD_LENGTHS:
            raise UserError(EXIT_DATA, "a credential kind is iso14443a, felica, phone or pin, not %r" % (kind,))
        if not _HEX_RE.match(ident or "") or len(ident) % 2:
            raise UserError(EXIT_DATA, "%s id %r is not hex" % (kind, ident))
        if len(ident) // 2 not in CARD_LENGTHS[kind]:
            raise UserError(EXIT_DATA, "a %s id is %s bytes, not %d" % (
                kind, " or ".join(str(n) for n in CARD_LENGTHS[kind]) if kind != "phone" else "8..16",
                len(ident) // 2))
        return kind, ident.upper()

    def owner(self, kind, ident):
        kind, ident = self.norm(kind, ident)
        return self.book.owner(kind, ident)

    def add_credential(self, code, kind, ident, **validity):
        """Add a credential to user `code`; a card (or PIN) already registered -> EXIT_CONFLICT
        naming its owner."""
        from doorkit.keybook import KeyError_
        self._need(code)
        kind, ident = self.norm(kind, ident)
        got = self.book.owner(kind, ident)
        if got is not None:
            if kind == "pin":
                raise UserError(EXIT_CONFLICT, "this PIN is already in use (by %s)" % self.who(got))
            raise UserError(EXIT_CONFLICT, "card %s %s is already registered to %s" % (kind, ident, self.who(got)))
        try:
            self.book.add(kind, ident, code, **validity)
        except KeyError_ as e:
            raise UserError(EXIT_DATA, str(e))
        return kind, ident

    def remove_credential(self, kind, ident):
        from doorkit.keybook import KeyError_
        kind, ident = self.norm(kind, ident)
        try:
            owner = self.book.owner(kind, ident)
            self.book.remove(kind, ident)
        except KeyError_ as e:
            raise UserError(EXIT_DATA, str(e))
        return owner

    def listing(self):
        """[(code, name, role, [credential tuples of KeyBook.credentials()])] by code."""
        return [(c, u["name"], u["role"], self.book.credentials(c)) for c, u in sorted(self.users.items())]


def load_keys(door):
    """The door's users and key book from keys.json; UserError(EXIT_DATA) for a corrupt file."""
    from doorkit.keybook import KeyBook
    path = _p(door.path, KEYS_FILE)
    try:
        with open(path, "rb") as f:
            st = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(EXIT_DATA, "%s: no such file (restore the door directory from its backup)" % path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(EXIT_DATA, "%s: not a JSON key book (%s)" % (path, getattr(e, "strerror", None) or e))
    try:
        if st["format"] != FORMAT:
            raise ValueError("format %r" % (st["format"],))
        users = {}
        for code, u in st["users"].items():
            if not _CODE_RE.match(code) or u["role"] not in ROLES or not isinstance(u["name"], str):
                raise ValueError("user %r" % (code,))
            users[code] = {"name": u["name"], "role": u["role"]}
        book = KeyBook.from_state(door.secret, door.door_id.encode(), st["book"])
        for kind, ident, user, *_ in book.credentials():
            if user not in users:
                raise ValueError("credential %s %s of an unknown user %r" % (kind, ident, user))
    except KeyError as e:
        raise UserError(EXIT_DATA, "%s: corrupt key book (%s is missing): restore it from your backup"
                        % (path, e.args[0] if e.args else "an entry"))
    except (TypeError, AttributeError):
        raise UserError(EXIT_DATA, "%s: corrupt key book (an entry of the wrong type): restore it from your backup"
                        % path)
    except ValueError as e:
        raise UserError(EXIT_DATA, "%s: corrupt key book (%s): restore it from your backup"
                        % (path, str(e).splitlines()[0] if str(e) else "a bad value"))
    return Keys(door, users, book)


def save_keys(door, keys):
    data = {"format": FORMAT, "door_id": door.door_id, "users": keys.users, "book": keys.book.state()}
    _atomic_write(_p(door.path, KEYS_FILE), (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), 0o600)


def open_keys(path):
    door = load_door(path)
    return door, load_keys(door)


# ---------------------------------------------------------------------------------------- image
def door_for_image(path):
    """What `doorkit image --door DIR` puts on the board: {"door_id", "secret" (bytes), "config"
    (the /lock.json settings), "bundle" (a full bundle of the key book, or None when it is
    empty), "commit" (call it once the image is written: the bundle is then recorded as installed,
    the image being the door's key list; nothing in the directory changes before)}."""
    door, keys = open_keys(path)
    bundle = None
    if keys.book.credentials():
        bundle = keys.book.bundle(full=True)

    def commit():
        if bundle is not None:
            keys.book.installed()
            save_keys(door, keys)
    return {"door_id": door.door_id, "secret": door.secret, "config": dict(door.config), "bundle": bundle,
            "commit": commit, "net": door.network}


# ---------------------------------------------------------------------------------------- remote
def next_command_counter(path, at_least=0):
    """The counter for the next remote command of this door, saved (atomically) before it is
    returned, so no two commands ever carry the same one. at_least: the lock's last accepted one
    (a directory restored from an older backup catches up with it)."""
    p = _p(path, REMOTE_FILE)
    last = 0
    try:
        with open(p) as f:
            last = int(json.load(f)["counter"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError):
        raise _bad(path, REMOTE_FILE, "corrupt (restore it from your backup, or delete it: the lock then says "
                                      "which counter it is at)")
    n = max(last, at_least) + 1
    if n > 0xFFFFFFFF:
        raise UserError(EXIT_DATA, "%s: the command counter is used up" % p)
    _atomic_write(p, (json.dumps({"counter": n}) + "\n").encode(), 0o600)
    return n
