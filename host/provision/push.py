"""Key bundles out of a door directory: built to a file (`doorkit keys bundle`) or pushed to the
board over its USB serial line (`doorkit keys push`, through doorkit.link: the bundle is written
to /bundle.bin and lockshell.service.install() puts it into the keys partition)."""
from doorkit.errors import EXIT_REFUSED, UserError

from . import open_keys, save_keys

BOARD_PATH = "/bundle.bin"

REFUSALS = {
    "bad_signature": "the bundle is not signed with the board's door secret (wrong door secret: is this "
                     "directory the board's door?)",
    "wrong_door": "the bundle is for another door",
    "old_version": "the board already has a key list as new as this one (pushed from elsewhere meanwhile?)",
    "base_mismatch": "the board's key list is not the one this delta was made for: push with --full",
    "no_room": "the keys partition is too small for this many credentials",
    "corrupt": "the bundle arrived damaged; push again",
    "format": "the board does not understand this bundle format (update its firmware)",
    "io": "a flash error on the board while installing (nothing changed); try again",
    "no_memory": "the board has no room on its heap for an install while the lock runs (nothing changed): "
                 "push over USB (doorkit keys push --port)",
}


def build(path, full=False):
    """The next bundle of the door at `path` (a delta against what the door has, or full) -> (bytes,
    version, "full"|"delta"); the door directory remembers it as built, not yet installed."""
    door, keys = open_keys(path)
    data = keys.book.bundle(full=full)
    save_keys(door, keys)
    return data, keys.book.version + 1, ("full" if data[5] == 1 else "delta")


def _open(port):
    from doorkit.link import open_link  # the board link (mpremote) only when a push needs it
    return open_link(port)


STEPS = ("connect", "status", "send", "install")


def push(path, port, full=False, link=None, on_step=None, force=False):
    """Push the door's key list to the board at `port`; -> (version, kind, credentials on the
    board). link: an already open Link (tests, or a caller that holds one) instead of opening port.
    on_step(name, nbytes): called as each of STEPS starts (a progress bar). force: replace a key
    list newer than this directory knows (else refused) with a full one of this directory.
    A refusal -> UserError(EXIT_REFUSED, the reason); nothing is marked installed then."""
    step = on_step or (lambda name, n=0: None)
    door, keys = open_keys(path)
    if link is None:
        step("connect", 0)
        with _open(port) as ln:
            return _push(door, keys, ln, port, full, step, force)
    return _push(door, keys, link, port, full, step, force)


def _push(door, keys, ln, port, full, step, force):
    step("status", 0)
    st = ln.call("status")
    if not isinstance(st, dict) or st.get("door") is None:
        raise UserError(EXIT_REFUSED, "the board at %s has no door identity or key store (flash it with an "
                                      "image of this door: doorkit image --door DIR)" % port)
    if st["door"] != door.door_id:
        raise UserError(EXIT_REFUSED, "the board at %s is door %r, not %r" % (port, st["door"], door.door_id))
    have = st.get("keys_version")
    book = keys.book
    if not isinstance(have, int):
        raise UserError(EXIT_REFUSED, "the board at %s did not say its key list version" % port)
    if have != book.version and have == book.pending_version:
        # the last push went in but its answer never came back (a power cut, a pulled cable): the
        # board holds the bundle this directory built last, so that is what it has
        book.installed()
        save_keys(door, keys)
    forced = have > book.version
    if forced:
        # another copy of this directory pushed, or a bundle file was installed by hand: this
        # directory does not know what the board holds, and a push would lose those changes
        if not force:
            raise UserError(EXIT_REFUSED, "the board has key list version %d, this directory knows only %d (pushed "
                                          "from another copy of the door directory, or a bundle file installed "
                                          "by hand): push --force to replace it with this directory's list"
                                          % (have, book.version))
        book.version = have  # the next full bundle is numbered past the board's (saved only once
        #                      the board took it: the book does not know what `have` holds)
        full = True  # and it replaces the board's list whole: nothing this directory lacks stays
    if have != book.version:
        full = True  # the board's list is not what the book says it has: a delta cannot apply
    data = book.bundle(full=full)
    kind = "full" if data[5] == 1 else "delta"
    if not forced:
        save_keys(door, keys)  # remembered as built
    step("send", len(data))
    ln.put(data, BOARD_PATH)
    step("install", len(data))
    out = ln.call("install", BOARD_PATH)
    if out != "ok":
        why = REFUSALS.get(out, "refused (%s)" % out)
        raise UserError(EXIT_REFUSED, "the board refused the key bundle: %s [%s]" % (why, out))
    book.installed()
    save_keys(door, keys)
    after = ln.call("status")
    return book.version, kind, (after or {}).get("keys_count")
