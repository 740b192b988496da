# Numeric codes shared by the lock core, the firmware shell, the simulator and the host tools.
# Plain ints (const) so they cost nothing on the board. Their text form lives in lockctl/record.py
# (the one formatter); setting ids live with the settings in lockctl/config.py.
#
# STABLE FORMAT: the LOG_*, KIND_*/SRC_*, R_*, F_* and EV_* numbers below are stored on flash and
# sent over the network inside event-log records (docs/records.md has the one table). A number is
# never reused or renumbered; a new meaning gets a new number and RECORD_VERSION goes up when a
# record's layout changes.
from micropython import const

RECORD_VERSION = const(2)

# --- lock states (LockCore.state; BOOT records carry one) ---------------------------------------
UNCALIBRATED = const(0)
LOCKED = const(1)
UNLOCKING = const(2)
UNLOCKED = const(3)
LOCKING = const(4)
JAMMED = const(5)
CALIBRATING = const(6)

# --- input events: LockCore.handle(now_ms, kind, arg) ------------------------------------------
EV_DOOR = const(1)  # arg: True = door open, False = door closed (a bool, nothing else)
EV_BUTTON = const(2)  # arg: ignored
EV_POSITION = const(3)  # arg: raw thumb-turn position (int, sensor units)
EV_STALL = const(4)  # arg: ignored; the motor driver reports stall current
EV_CREDENTIAL = const(5)  # arg: (kind, ident) as presented by a reader (KIND_*, identity str), or
#                            (kind, ident, reason) for one the reader already refused (R_*)
EV_TIMER = const(6)  # arg: None; time has reached core.next_deadline(): fire what is due
EV_REMOTE = const(7)  # arg: (command, user) command in ("lock", "unlock")
EV_CONFIG = const(8)  # arg: dict of settings to change
EV_CALIBRATE = const(9)  # arg: "auto" | "manual" | "mark" | "cancel"
EV_READER = const(10)  # arg: 0 = the card reader works again, else its (negative) error code: down
EV_SENSOR = const(11)  # arg: (EV_DOOR, ok): the door sensor stopped (False) or started (True) reading
EV_CLOCK = const(12)  # arg: wall-clock time at now_ms, Unix seconds (UTC) from the board's RTC; None: unset
EV_BATTERY = const(13)  # arg: (level, mV): BATT_OK / BATT_LOW / BATT_CRITICAL and the averaged voltage
EV_LAST = const(13)

# --- actions out: tuples whose first item is one of these --------------------------------------
A_DRIVE = const(1)  # (A_DRIVE, direction)  +1 = toward unlock, -1 = toward lock
A_STOP = const(2)  # (A_STOP,)  brake the motor now
A_LOG = const(3)  # (A_LOG, record)  record = (t_ms, code, arg, who): see lockctl/record.py
A_INDICATE = const(4)  # (A_INDICATE, pattern)  LED / buzzer (IND_*)
A_SAVE = const(5)  # (A_SAVE, what, data)  persist "config" (dict), "calibration" ((lock, unlock))
#                    or "pin_fails" (int: wrong PINs in a row; must survive a reboot)

TOWARD_UNLOCK = const(1)
TOWARD_LOCK = const(-1)

# --- the core's timers (core.deadline(T_*)) ----------------------------------------------------
T_AUTOLOCK = const(1)  # auto-lock after the door closed, or relock after the grace period
T_MOTION = const(2)  # bound on one motor move (jam detection), one calibration sweep, or the
#                      whole of a manual calibration
T_BACKOFF = const(3)  # back-off move after a failed attempt
T_HELD = const(4)  # door held open alarm

# --- indications (what the core wants shown; the shell's signals.py turns them into patterns) --
IND_OK = const(1)
IND_DENIED = const(2)
IND_ALARM = const(3)  # an alarm event: sounds (again) until IND_CLEAR
IND_CLEAR = const(4)
IND_LOCKED = const(5)
IND_UNLOCKED = const(6)
IND_CALIBRATE = const(7)
IND_BATTERY = const(8)  # the battery is low (or critical): shown once at the change

# --- event log record codes (record = (t_ms, code, arg, who); docs/records.md) -----------------
LOG_BOOT = const(1)  # arg: (state found at boot (UNLOCKED, ...), boot count: 0 when none is kept)
LOG_LOCK = const(2)  # arg: source (SRC_* / KIND_*); who: user or None
LOG_UNLOCK = const(3)  # arg: source (SRC_* / KIND_*); who: user or None
LOG_MANUAL_LOCK = const(4)  # knob turned by hand; no user
LOG_MANUAL_UNLOCK = const(5)
LOG_REFUSED = const(6)  # a request that was not carried out; arg: reason R_*; who: user or None
LOG_DENIED = const(7)  # credential denied; arg: reason R_*; who: (kind, ident) of the credential
LOG_DOOR_OPEN = const(8)
LOG_DOOR_CLOSE = const(9)
LOG_FORCED_OPEN = const(10)  # door opened while the bolt was thrown
LOG_HELD_OPEN = const(11)  # door open longer than held_open_ms
LOG_RETRY = const(12)  # a move failed once (arg: R_STALL or R_TIMEOUT); backing off and retrying
LOG_JAM = const(13)  # the retry failed too; arg: direction of the move (TOWARD_LOCK / TOWARD_UNLOCK)
LOG_JAM_CLEAR = const(14)
LOG_ABORT = const(15)  # a move stopped before its end; arg: reason R_*
LOG_CALIBRATED = const(16)  # arg: (lock_pos, unlock_pos)
LOG_CAL_FAIL = const(17)  # arg: reason R_*
LOG_CONFIG = const(18)  # arg: (setting id, value) (config.SETTING_IDS)
LOG_READER_DOWN = const(19)  # the card reader stopped answering; arg: its (negative) error code
LOG_READER_UP = const(20)  # it answers again
LOG_FAULT = const(21)  # the shell caught a fault; arg: (F_*, EV_* being handled or 0); the core was
#                        rebuilt from the sensors
LOG_CLOCK_SET = const(22)  # the wall clock was set; arg: (new Unix s, ms since boot at the set)
LOG_BUNDLE = const(23)  # a key bundle was installed; arg: (version, credentials now on the lock)
LOG_BUNDLE_REFUSED = const(24)  # a key bundle was refused, nothing changed; arg: reason R_*
LOG_PIN_LOCKOUT = const(25)  # too many wrong PINs: the keypad is locked out; arg: seconds of lockout
LOG_BATTERY = const(26)  # the battery level changed; arg: (BATT_*, mV)
LOG_DROPPED = const(27)  # the event log was full and its oldest records were dropped; arg: how many
LOG_STORE_FAULT = const(28)  # flash found corrupt at boot; arg: (STORE_*, error code); nothing reformatted
LOG_COMMAND = const(29)  # a signed remote command was accepted; arg: (OP_*, its counter); who: its user or None
LOG_COMMAND_REFUSED = const(30)  # a remote command was refused; arg: (reason R_*, OP_* or 0); who: user or None
LOG_LINK = const(31)  # the hub's link status changed; arg: LINK_* (lockshell/hub.py)
LOG_URL_KEY = const(32)  # a URL key window was opened or moved (arg (id, until Unix s)) or closed (until 0); who: user
LOG_URL_KEY_UNLOCK = const(33)  # a remote unlock inside a URL key window (before its COMMAND record);
#                                 arg: (URL key id, the command's counter); who: its user or None

# --- where a lock / unlock came from (LOCK / UNLOCK arg) ---------------------------------------
# credential kinds (EV_CREDENTIAL arg[0]; the source of the unlock they grant): 1..15
KIND_ISO14443A = const(1)  # ISO14443A UID (MIFARE, NTAG, ...), upper-case hex
KIND_FELICA = const(2)  # FeliCa IDm (Suica, ...), upper-case hex
KIND_PHONE = const(3)  # a phone that passed the challenge-response: its phone id, hex
KIND_PIN = const(4)  # a keypad PIN (the ident is never logged: DENIED of a PIN carries an empty ident)
KIND_ISO_DEP = const(5)  # an ISO14443-4 target the reader could not authenticate (random UID)
KIND_LAST = const(5)
# other sources: 16..
SRC_BUTTON = const(16)
SRC_REMOTE = const(17)
SRC_AUTO = const(18)  # auto-lock after the door closed
SRC_RELOCK = const(19)  # relock after an unlock with no door opening
SRC_BOOT = const(20)  # relock of a door found closed and unlocked at boot (after relock_ms)

# --- reasons (REFUSED, DENIED, RETRY, ABORT, CAL_FAIL arg) -------------------------------------
R_UNCALIBRATED = const(1)
R_CALIBRATING = const(2)
R_DOOR_OPEN = const(3)
R_BUTTON_OFF = const(4)
R_NOT_CALIBRATING = const(5)
R_BUSY = const(6)
R_NO_POSITION = const(7)
R_UNKNOWN = const(8)  # no such credential
R_NO_KEYS = const(9)  # the lock has no key list
R_STALL = const(10)
R_TIMEOUT = const(11)
R_REVERSED = const(12)
R_NO_END_STOP = const(13)
R_SPAN = const(14)
R_CANCELLED = const(15)
R_NO_APP = const(16)  # phone: SELECT refused
R_BAD_ANSWER = const(17)  # phone: malformed answer
R_UNKNOWN_PHONE = const(18)  # phone: no key for its id
R_BAD_MAC = const(19)  # phone: the MAC does not verify (wrong key, replay)
R_NO_ANSWER = const(20)  # phone: an exchange failed or took too long
R_DOOR_SENSOR = const(21)  # the door sensor cannot be read: the door may be open
# credential validity (lockctl/schedule.py, lockctl/keystore.py)
R_CLOCK_UNSET = const(22)  # a time-limited credential while the wall clock is unset
R_NOT_YET = const(23)  # before its period's first day
R_EXPIRED = const(24)  # after its period's last day
R_OFF_SCHEDULE = const(25)  # outside its weekdays / time window
R_USED_UP = const(26)  # its use count is spent
R_DISABLED = const(27)  # its enabled flag is off
R_PIN_LOCKOUT = const(28)  # the keypad is locked out after wrong PINs
# bundles (lockctl/bundle.py): why one was refused
R_BAD_SIGNATURE = const(29)  # the HMAC does not verify under the door's secret (forged, or other secret)
R_WRONG_DOOR = const(30)  # made for another door
R_OLD_VERSION = const(31)  # not newer than the installed version (rollback or replay)
R_BASE_MISMATCH = const(32)  # a delta made against another version than the installed one
R_CORRUPT = const(33)  # framing, length or body hash wrong (truncated, bit flips, reordered)
R_NO_ROOM = const(34)  # more credentials than the key store partition holds
R_FORMAT = const(35)  # not a doorkit bundle, or a format version this firmware does not know
R_BATTERY = const(36)  # the battery is critical: only what lets people out is served
R_STORE = const(37)  # the key store cannot be read (corrupt flash): no credential opens
R_USE_TALLY = const(38)  # a counted credential, but its use could not be recorded durably
# signed remote commands (lockctl/command.py): why one was refused
R_REPLAY = const(39)  # its counter is not above the last accepted one
R_DUPLICATE = const(40)  # the last accepted command again (a QoS 1 redelivery): acted on once only
R_RETAINED = const(41)  # it came as a retained MQTT message (it would fire again on every reconnect)
R_NO_MEMORY = const(42)  # a bundle: no room on the heap for the installer now (nothing changed)
R_LAST = const(42)

# --- signed remote commands (lockctl/command.py; COMMAND / COMMAND_REFUSED arg) -----------------
OP_LOCK = const(1)
OP_UNLOCK = const(2)  # args: b"" or a URL key id (u32, see OP_URL_KEY)
OP_CONFIG = const(3)  # args: JSON object of settings (lockctl.config)
OP_CLOCK = const(4)  # args: u32 Unix s UTC
OP_URL_KEY = const(5)  # args: id u32, from u32, until u32 (Unix s): a time-limited remote-unlock window
OP_BUNDLE = const(6)  # args: a piece of a key bundle: offset u32, total u32, then the bytes
OP_STATUS = const(7)  # args: b"": report the state now
OP_LAST = const(7)

# --- faults the shell caught (FAULT arg[0]) ----------------------------------------------------
F_CORE = const(1)  # an exception inside the core while it handled an event
F_ACTION = const(2)  # an exception carrying out the core's actions (motor, store, indicator)
F_POLL = const(3)  # an exception reading an input port (arg[1]: the event kind the port gives)
F_STORE = const(4)  # the store held a setting or calibration that no longer validates (dropped)

# --- battery levels (EV_BATTERY, LOG_BATTERY arg[0]) -------------------------------------------
BATT_OK = const(0)
BATT_LOW = const(1)  # logged, indicated, reported in state
BATT_CRITICAL = const(2)  # only unlocking is served (people must get out); locking is refused

# --- flash areas (LOG_STORE_FAULT arg[0]) -------------------------------------------------------
STORE_KEYS = const(1)  # the key store partition
STORE_LOG = const(2)  # the event-log partition
STORE_FS = const(3)  # the littlefs filesystem (settings, code)
