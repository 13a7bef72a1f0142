"""Home Assistant MQTT device discovery, built by pure functions (no broker needed).

One retained payload at ``<prefix>/device/<device id>/config`` describes the whole
device: ``dev`` (the device), ``o`` (origin: this program), ``cmps`` (its entities)
and the availability topic ``<base>/status``. Home Assistant validates the top level
strictly and drops the *whole* payload for a key it does not know there, so the top
level holds only those keys; each component carries its own ``~`` topic base, its
``p`` platform and a ``unique_id``. ``object_id`` is gone from Home Assistant; entity
ids are suggested with ``default_entity_id``.

>>> topic, payload = discovery_message("bedroom", "crampwatch/bedroom")
>>> topic
'homeassistant/device/bedroom/config'
>>> sorted(payload_dict("bedroom", "crampwatch/bedroom"))
['avty_t', 'cmps', 'dev', 'o']
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from typing import Any

from device.commands import DEFAULT_SNOOZE_MIN, GOAL_RANGE_ML

ORIGIN_NAME = "crampwatch"

# Event entity: which stored events fire it, and as what. A wake the detector judged a
# cramp is "cramp_wake"; a cramp the user logged or confirmed is "cramp".
NIGHT_EVENT_TYPES = ["wake", "cramp_wake", "cramp"]
_NIGHT_EVENT_TEMPLATE = (
    "{% set e = value_json %}"
    "{% if e.type == 'wake' %}"
    "{{ {'event_type': 'cramp_wake' if e.cramp else 'wake', 'id': e.id, 'start': e.start, 'end': e.end,"
    " 'bed_exit': e.bed_exit, 'score': e.score} | tojson }}"
    "{% elif e.type == 'cramp' and e.get('confirmed', true) %}"
    "{{ {'event_type': 'cramp', 'id': e.id, 't': e.t, 'wake_id': e.get('wake_id')} | tojson }}"
    "{% endif %}"
)


def version() -> str:
    try:
        return metadata.version("crampwatch")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def discovery_topic(device_id: str, prefix: str = "homeassistant") -> str:
    """Where the device's discovery payload is published (retained)."""
    return f"{prefix}/device/{device_id}/config"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def components(device_id: str, base_topic: str) -> dict[str, dict[str, Any]]:
    """The entities, keyed by component id (Home Assistant's object id within the device).

    Sensors read the retained ``~/state`` JSON (see :mod:`device.mqtt_service` for
    its keys); buttons and the goal number write ``~/cmd/<name>``.
    """
    state = "~/state"

    def sensor(name, template, **extra):
        return {"p": "sensor", "name": name, "stat_t": state, "val_tpl": template, **extra}

    def binary(name, field, **extra):
        tpl = (f"{{{{ 'None' if value_json.{field} is none else "
               f"('ON' if value_json.{field} else 'OFF') }}}}")
        return {"p": "binary_sensor", "name": name, "stat_t": state, "val_tpl": tpl, **extra}

    def button(name, command, icon, payload="{}"):
        return {"p": "button", "name": name, "cmd_t": f"~/cmd/{command}", "pl_prs": payload, "ic": icon}

    cmps: dict[str, dict[str, Any]] = {
        "intake_today": sensor(
            "Intake today", "{{ value_json.intake_today_ml }}",
            dev_cla="volume", stat_cla="total_increasing", unit_of_meas="mL", ic="mdi:cup-water"),
        "bottle_contents": sensor(
            "Bottle contents", "{{ value_json.bottle_contents_ml }}",
            dev_cla="volume_storage", stat_cla="measurement", unit_of_meas="mL", ic="mdi:bottle-soda-outline"),
        "bottle_present": binary("Bottle present", "bottle_present", dev_cla="presence"),
        "goal": {"p": "number", "name": "Daily goal", "stat_t": state, "val_tpl": "{{ value_json.goal_ml }}",
                 "cmd_t": "~/cmd/goal", "min": GOAL_RANGE_ML[0], "max": GOAL_RANGE_ML[1], "step": 50,
                 "unit_of_meas": "mL", "dev_cla": "volume", "mode": "box", "ic": "mdi:target"},
        "reminder_active": binary("Reminder active", "reminder_active", ic="mdi:bell-ring"),
        "pace": sensor("Pace (ahead + / behind -)", "{{ value_json.pace_ml }}", dev_cla="volume", unit_of_meas="mL",
                       ic="mdi:speedometer"),
        "last_night_wakes": sensor(
            "Wake-ups last night", "{{ value_json.last_night.wakes if value_json.last_night else None }}",
            stat_cla="measurement", ic="mdi:sleep-off"),
        "last_night_cramps": sensor(
            "Cramps last night", "{{ value_json.last_night.cramps if value_json.last_night else None }}",
            stat_cla="measurement", ic="mdi:human-handsdown"),
        # Home Assistant's "problem" class: on = "Problem", off = "OK", the usual reading of a
        # warning; unknown (None) while the flag could not be worked out. Its attributes
        # carry the plain sentence and the counts behind it.
        "doctor_flag": {
            "p": "binary_sensor", "name": "Cramps: see a doctor", "stat_t": state,
            "val_tpl": ("{{ 'None' if value_json.doctor_flag is not defined or value_json.doctor_flag is none else "
                        "('ON' if value_json.doctor_flag.raised else 'OFF') }}"),
            "dev_cla": "problem", "ic": "mdi:doctor",
            "json_attr_t": state, "json_attr_tpl": "{{ (value_json.doctor_flag or {}) | tojson }}"},
        "night_event": {"p": "event", "name": "Night event", "stat_t": "~/event/+",
                        "event_types": NIGHT_EVENT_TYPES, "val_tpl": _NIGHT_EVENT_TEMPLATE, "ic": "mdi:weather-night"},
        "ack": button("Acknowledge reminder", "ack", "mdi:check"),
        "snooze": button("Snooze reminders", "snooze", "mdi:bell-sleep", json.dumps({"minutes": DEFAULT_SNOOZE_MIN})),
        "tare": button("Tare scale", "tare", "mdi:scale-balance"),
        "log_cramp": button("Log a cramp", "cramp", "mdi:alert-circle"),
        "sensor_health": sensor(
            "Sensor health", "{{ value_json.health.overall if value_json.health else None }}",
            ent_cat="diagnostic", ic="mdi:heart-pulse",
            json_attr_t=state, json_attr_tpl="{{ (value_json.health or {}) | tojson }}"),
    }
    slug = _slug(device_id)
    for key, cmp in cmps.items():
        cmp["~"] = base_topic
        cmp["uniq_id"] = f"crampwatch_{device_id}_{key}"
        cmp["def_ent_id"] = f"{cmp['p']}.crampwatch_{slug}_{key}"
        cmp["qos"] = 1
    return cmps


def payload_dict(device_id: str, base_topic: str, *, name: str | None = None) -> dict[str, Any]:
    """The device discovery payload as a dict (abbreviated keys, as sent)."""
    sw = version()
    return {
        "dev": {"ids": [f"crampwatch_{device_id}"], "name": name or f"crampwatch {device_id}",
                "mf": "crampwatch", "mdl": "Bottle scale and bed sensor", "sw": sw},
        "o": {"name": ORIGIN_NAME, "sw": sw},
        "avty_t": f"{base_topic}/status",
        "cmps": components(device_id, base_topic),
    }


def discovery_message(device_id: str, base_topic: str, prefix: str = "homeassistant",
                      *, name: str | None = None) -> tuple[str, str]:
    """``(topic, JSON payload)`` of the retained device discovery message."""
    payload = payload_dict(device_id, base_topic, name=name)
    return discovery_topic(device_id, prefix), json.dumps(payload, separators=(",", ":"))
