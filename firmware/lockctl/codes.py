# Numeric codes shared by the lock core, the firmware shell, the simulator and the host tools.
# Plain ints (const) so they cost nothing on the board; NAMES tables turn them into text for logs.
from micropython import const

# --- lock states -------------------------------------------------------------------------------
UNCALIBRATED = const(0)
LOCKED = const(1)
UNLOCKING = const(2)
UNLOCKED = const(3)
LOCKING = const(4)
JAMMED = const(5)
CALIBRATING = const(6)
STATE_NAMES = ("uncalibrated", "locked", "unlocking", "unlocked", "locking", "jammed", "calibrating")

# --- input events: LockCore.handle(now_ms, kind, arg) ------------------------------------------
EV_DOOR = const(1)  # arg: True = door open, False = door closed
EV_BUTTON = const(2)  # arg: ignored
EV_POSITION = const(3)  # arg: raw thumb-turn position (int, sensor units)
EV_REACHED = const(4)  # arg: ignored; the motor driver reports the target end reached
EV_STALL = const(5)  # arg: ignored; the motor driver reports stall current
EV_CREDENTIAL = const(6)  # arg: (kind, ident) as presented by a reader, or (kind, ident, reason)
#                            for one the reader already refused (a phone that failed its challenge)
EV_TIMER = const(7)  # arg: timer id (T_*) whose deadline has passed
EV_REMOTE = const(8)  # arg: (command, user) command in ("lock", "unlock")
EV_CONFIG = const(9)  # arg: dict of settings to change
EV_CALIBRATE = const(10)  # arg: "auto" | "manual" | "mark" | "cancel"
EV_READER = const(11)  # arg: 0 = the card reader works again, else its (negative) error code: down
EVENT_NAMES = ("?", "door", "button", "position", "reached", "stall", "credential", "timer", "remote",
               "config", "calibrate", "reader")

# --- actions out: tuples whose first item is one of these --------------------------------------
A_DRIVE = const(1)  # (A_DRIVE, direction)  +1 = toward unlock, -1 = toward lock
A_STOP = const(2)  # (A_STOP,)  brake the motor now
A_ARM = const(3)  # (A_ARM, timer_id, deadline_ms)  (re)arm a one-shot timer
A_CANCEL = const(4)  # (A_CANCEL, timer_id)
A_LOG = const(5)  # (A_LOG, record)  record = (t_ms, code, arg, who)
A_INDICATE = const(6)  # (A_INDICATE, pattern)  LED / buzzer
A_SAVE = const(7)  # (A_SAVE, what, data)  persist "config" (dict) or "calibration" ((lock, unlock))

TOWARD_UNLOCK = const(1)
TOWARD_LOCK = const(-1)

# --- timers ------------------------------------------------------------------------------------
T_AUTOLOCK = const(1)  # auto-lock after the door closed, or relock after the grace period
T_MOTION = const(2)  # bound on one motor move (jam detection) or on one calibration sweep
T_BACKOFF = const(3)  # back-off move after a failed attempt
T_HELD = const(4)  # door held open alarm
TIMER_NAMES = ("?", "autolock", "motion", "backoff", "held")

# --- indications -------------------------------------------------------------------------------
IND_OK = const(1)
IND_DENIED = const(2)
IND_ALARM = const(3)
IND_CLEAR = const(4)
IND_LOCKED = const(5)
IND_UNLOCKED = const(6)
IND_CALIBRATE = const(7)
INDICATION_NAMES = ("?", "ok", "denied", "alarm", "clear", "locked", "unlocked", "calibrate")

# --- event log record codes --------------------------------------------------------------------
LOG_BOOT = const(1)  # arg: state name at boot
LOG_LOCK = const(2)  # arg: source; who: user or None
LOG_UNLOCK = const(3)  # arg: source; who: user or None
LOG_MANUAL_LOCK = const(4)  # knob turned by hand; no user
LOG_MANUAL_UNLOCK = const(5)
LOG_REFUSED = const(6)  # a request that was not carried out; arg: reason
LOG_DENIED = const(7)  # credential denied; arg: reason; who: credential
LOG_DOOR_OPEN = const(8)
LOG_DOOR_CLOSE = const(9)
LOG_FORCED_OPEN = const(10)  # door opened while the bolt was thrown
LOG_HELD_OPEN = const(11)  # door open longer than held_open_ms
LOG_RETRY = const(12)  # a move failed once (arg: "stall" or "timeout"); backing off and retrying
LOG_JAM = const(13)  # the retry failed too; arg: "lock" or "unlock"
LOG_JAM_CLEAR = const(14)
LOG_ABORT = const(15)  # a move stopped before its end; arg: reason
LOG_CALIBRATED = const(16)  # arg: "lock_pos,unlock_pos"
LOG_CAL_FAIL = const(17)  # arg: reason
LOG_CONFIG = const(18)  # arg: "key=value" text
LOG_READER_DOWN = const(19)  # the card reader stopped answering; arg: its error code
LOG_READER_UP = const(20)  # it answers again
LOG_NAMES = ("?", "BOOT", "LOCK", "UNLOCK", "MANUAL_LOCK", "MANUAL_UNLOCK", "REFUSED", "DENIED",
             "DOOR_OPEN", "DOOR_CLOSE", "FORCED_OPEN", "HELD_OPEN", "RETRY", "JAM", "JAM_CLEAR", "ABORT",
             "CALIBRATED", "CAL_FAIL", "CONFIG", "READER_DOWN", "READER_UP")
