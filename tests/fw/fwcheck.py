# Assertion helpers that work the same on CPython and MicroPython (no pytest inside MicroPython).


def raises(exc, fn, *args, **kw):
    """Call fn; assert it raises exc; return the exception."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc.__name__, getattr(fn, "__name__", fn)))
