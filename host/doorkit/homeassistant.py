"""Home Assistant MQTT discovery for the fleet's doors (docs/network.md).

HomeAssistant(client, doors).publish() puts retained discovery configs under
`homeassistant/...` for each door: a lock (locked / unlocked / locking / unlocking / jammed from
the door's retained state, available while the door's `online` says so), a door sensor, the
battery level, the error code and the last user who unlocked. The collector keeps the last user
topic (PREFIX/DOOR/ha/last_user, retained) from the events it stores.

Home Assistant cannot sign commands, so its lock/unlock buttons reach a door only through the
opt-in bridge (`doorkit fleet serve --ha-commands`): the collector takes LOCK / UNLOCK on
PREFIX/DOOR/ha/set and sends the door a signed command of its own (the door directory's counter).
Whoever may publish to that topic may then open the door: give it a broker ACL."""
import json

STATES = ("locked", "unlocked", "locking", "unlocking", "jammed")


def _device(door_id, name):
    return {"identifiers": ["doorkit_%s" % door_id], "name": name or door_id, "manufacturer": "doorkit",
            "model": "doorkit retrofit lock"}


def configs(door_id, name="", prefix="doorkit", discovery="homeassistant"):
    """[(topic, payload dict)] of the discovery configs of one door."""
    base = "%s/%s" % (prefix, door_id)
    dev = _device(door_id, name)
    avail = {"availability_topic": base + "/online", "payload_available": "online",
             "payload_not_available": "offline"}
    uid = "doorkit_%s" % door_id
    lock = dict(avail, name="Lock", unique_id=uid + "_lock", device=dev, state_topic=base + "/state",
                value_template="{{ value_json.bolt }}", command_topic=base + "/ha/set", payload_lock="LOCK",
                payload_unlock="UNLOCK", optimistic=False, **{"state_" + s: s for s in STATES})
    door = dict(avail, name="Door", unique_id=uid + "_door", device=dev, device_class="door",
                state_topic=base + "/state",
                value_template="{{ 'ON' if value_json.door == 'open' else 'OFF' }}")
    battery = dict(avail, name="Battery", unique_id=uid + "_battery", device=dev, device_class="enum",
                   options=["ok", "low", "critical"], state_topic=base + "/state",
                   value_template="{{ value_json.battery }}")
    error = dict(avail, name="Error", unique_id=uid + "_error", device=dev, state_topic=base + "/state",
                 value_template="{{ value_json.error if value_json.error else 'none' }}")
    user = dict(name="Last user", unique_id=uid + "_last_user", device=dev, state_topic=base + "/ha/last_user",
                icon="mdi:account-key")
    return [("%s/lock/%s/lock/config" % (discovery, uid), lock),
            ("%s/binary_sensor/%s/door/config" % (discovery, uid), door),
            ("%s/sensor/%s/battery/config" % (discovery, uid), battery),
            ("%s/sensor/%s/error/config" % (discovery, uid), error),
            ("%s/sensor/%s/last_user/config" % (discovery, uid), user)]


def publish(client, doors, prefix="doorkit"):
    """Publish (retained, QoS 1) the configs of doors: {door_id: name}."""
    for d, name in doors.items():
        for topic, body in configs(d, name, prefix):
            client.publish(topic, json.dumps(body, sort_keys=True), qos=1, retain=True)
