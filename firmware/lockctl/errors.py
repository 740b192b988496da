# The one error the lock core raises for bad input (an event, a setting, a calibration): always
# before anything changed. A ValueError, so callers that only know ValueError still catch it.


class LockError(ValueError):
    """A malformed event or call; raised before the core changes anything."""
