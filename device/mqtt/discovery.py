"""Home Assistant MQTT device discovery, built by pure functions (no broker needed).

One retained payload at ``<prefix>/device/<device id>/config`` describes the whole
device: ``dev`` (the device), ``o`` (origin: this program), ``cmps`` (its entities)
and the availability topic ``<base>/status``. The device part also carries, when known,
``cu`` (configuration_url: the dashboard, when a browser elsewhere can open it, see
:func:`configuration_url`), ``hw`` (hw_version: the Raspberry Pi model) and ``sa``
(suggested_area, ``mqtt.suggested_area``: Home Assistant applies it when it first
discovers the device). The sensors that read the retained state, which is published at
least every ``mqtt.state_refresh_s``, expire after three of those without one
(``exp_aft``): a bridged broker keeps its stale ``online`` when the bridge link drops,
and this shows them unavailable anyway. Home Assistant validates the top level
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

import ipaddress
import json
import math
import re
import socket
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, get_args

from device.config import Config, DashboardSection
from device.health import State
from device.mqtt.commands import GOAL_RANGE_ML

ORIGIN_NAME = "crampwatch"
PI_MODEL_FILE = "/proc/device-tree/model"
# Seconds without a state message before Home Assistant shows the state's sensors
# unavailable: this many state refreshes (the daemon publishes at least one each
# mqtt.state_refresh_s), so one or two lost on the way do not blink them.
EXPIRE_REFRESHES = 3
# What the "Sensor health" enum can show: Health.overall, which is never "off".
HEALTH_OPTIONS = [state for state in get_args(State) if state != "off"]
PACE_SIGN = "positive: ahead of the pace that today's goal expects by now; negative: behind it"

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


def project_url() -> str | None:
    """The project's page as the installed package declares it (``[project.urls]``), if it does."""
    try:
        meta = metadata.metadata("crampwatch")
    except metadata.PackageNotFoundError:
        return None
    urls = [entry.partition(",")[2].strip() for entry in meta.get_all("Project-URL") or []]
    return next((u for u in urls if u.startswith(("https://", "http://"))), None) or meta.get("Home-page")


def pi_model(path: str = PI_MODEL_FILE) -> str | None:
    """The Raspberry Pi model ("Raspberry Pi 5 Model B Rev 1.0"), or None elsewhere."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    return raw.split(b"\0")[0].decode("utf-8", "replace").strip()[:100] or None


def configuration_url(dashboard: DashboardSection, hostname: str | None = None) -> str | None:
    """The dashboard's address for Home Assistant's device page, when a browser on another
    machine can open it (Home Assistant's users are rarely on the Pi itself):

    - ``dashboard.public_url`` when set (a TLS reverse proxy, another name);
    - none when the dashboard is off or bound to loopback (the default): only the Pi
      itself could open it;
    - bound to every address (``0.0.0.0``, ``::``): this machine's name, with ``.local``
      unless it has a domain (mDNS, which Raspberry Pi OS answers);
    - else the bound address or name.

    >>> from device.config import DashboardSection
    >>> print(configuration_url(DashboardSection()))
    None
    >>> configuration_url(DashboardSection(host="0.0.0.0", port=8080), hostname="bedroom-pi")
    'http://bedroom-pi.local:8080/'
    >>> configuration_url(DashboardSection(host="fd00::5"))
    'http://[fd00::5]:8080/'
    """
    if not dashboard.enabled:
        return None
    if dashboard.public_url:
        return dashboard.public_url
    host = dashboard.host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        name = hostname or socket.gethostname()
        host = name if "." in name else f"{name}.local"
    elif _loopback(host):
        return None
    return f"http://{f'[{host}]' if ':' in host else host}:{dashboard.port}/"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.endswith(".localhost")


def state_expiry_s(state_refresh_s: float) -> int:
    """``exp_aft`` of the sensors that read the state: EXPIRE_REFRESHES state refreshes."""
    return math.ceil(EXPIRE_REFRESHES * state_refresh_s)


@dataclass(frozen=True)
class DeviceInfo:
    """What the discovery payload says of the device besides its id and topics."""

    name: str | None = None
    configuration_url: str | None = None
    hw_version: str | None = None
    suggested_area: str | None = None
    expire_after: int | None = None  # seconds, on the entities that read the retained state
    support_url: str | None = None  # the origin's (this program's) page


def device_info(config: Config, *, hostname: str | None = None, model_file: str = PI_MODEL_FILE) -> DeviceInfo:
    """The :class:`DeviceInfo` of a daemon with this configuration on this machine."""
    return DeviceInfo(configuration_url=configuration_url(config.dashboard, hostname), hw_version=pi_model(model_file),
                      suggested_area=config.mqtt.suggested_area, expire_after=state_expiry_s(config.mqtt.state_refresh_s),
                      support_url=project_url())


def discovery_topic(device_id: str, prefix: str = "homeassistant") -> str:
    """Where the device's discovery payload is published (retained)."""
    return f"{prefix}/device/{device_id}/config"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def components(device_id: str, base_topic: str, *, expire_after: int | None = None) -> dict[str, dict[str, Any]]:
    """The entities, keyed by component id (Home Assistant's object id within the device).

    Sensors read the retained ``~/state`` JSON (see :mod:`device.mqtt.service` for
    its keys) and, with ``expire_after``, expire that many seconds after the last one;
    buttons and the goal number write ``~/cmd/<name>``.
    """
    state = "~/state"

    def attributes(field):
        return {"json_attr_t": state, "json_attr_tpl": f"{{{{ (value_json.{field} or {{}}) | tojson }}}}"}

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
        "pace": sensor("Drinking pace", "{{ value_json.pace_ml }}", dev_cla="volume", unit_of_meas="mL",
                       ic="mdi:speedometer", json_attr_t=state,
                       json_attr_tpl=("{{ {'sign': " + json.dumps(PACE_SIGN) + ", 'intake_today_ml': "
                                      "value_json.intake_today_ml, 'goal_ml': value_json.goal_ml} | tojson }}")),
        "last_night_wakes": sensor(
            "Wake-ups last night", "{{ value_json.last_night.wakes if value_json.last_night else None }}",
            stat_cla="measurement", ic="mdi:sleep-off"),
        "last_night_cramps": sensor(
            "Cramps last night", "{{ value_json.last_night.cramps if value_json.last_night else None }}",
            stat_cla="measurement", ic="mdi:human-handsdown"),
        "last_night_sleep": sensor(
            "Last night's sleep", "{{ (value_json.last_night or {}).get('asleep_min') }}",
            dev_cla="duration", stat_cla="measurement", unit_of_meas="min", ic="mdi:sleep"),
        "cramp_nights_week": sensor(
            "Cramp nights this week",
            "{{ value_json.cramp_nights_week.cramp_nights if value_json.cramp_nights_week else None }}",
            stat_cla="measurement", unit_of_meas="nights", ic="mdi:calendar-alert", **attributes("cramp_nights_week")),
        "in_bed": binary("In bed", "in_bed", dev_cla="occupancy", ic="mdi:bed"),
        "last_drink": sensor("Last drink", "{{ value_json.last_drink.at if value_json.last_drink else None }}",
                             dev_cla="timestamp", ic="mdi:cup-water", **attributes("last_drink")),
        # Home Assistant's "problem" class: on = "Problem", off = "OK", the usual reading of a
        # warning; unknown (None) while the flag could not be worked out. Its attributes
        # carry the plain sentence and the counts behind it.
        "doctor_flag": {
            "p": "binary_sensor", "name": "Cramps: see a doctor", "stat_t": state,
            "val_tpl": ("{{ 'None' if value_json.doctor_flag is not defined or value_json.doctor_flag is none else "
                        "('ON' if value_json.doctor_flag.raised else 'OFF') }}"),
            "dev_cla": "problem", "ic": "mdi:doctor", **attributes("doctor_flag")},
        "night_event": {"p": "event", "name": "Night event", "stat_t": "~/event/+",
                        "event_types": NIGHT_EVENT_TYPES, "val_tpl": _NIGHT_EVENT_TEMPLATE, "ic": "mdi:weather-night"},
        "ack": button("Acknowledge reminder", "ack", "mdi:check"),
        "snooze": button("Snooze reminders", "snooze", "mdi:bell-sleep", "{}"),  # for outputs.snooze_min
        "tare": button("Tare scale", "tare", "mdi:scale-balance"),
        "log_cramp": button("Log a cramp", "cramp", "mdi:alert-circle"),
        "sensor_health": sensor(
            "Sensor health", "{{ value_json.health.overall if value_json.health else None }}",
            dev_cla="enum", ops=HEALTH_OPTIONS, ent_cat="diagnostic", ic="mdi:heart-pulse", **attributes("health")),
    }
    slug = _slug(device_id)
    for key, cmp in cmps.items():
        cmp["~"] = base_topic
        cmp["uniq_id"] = f"crampwatch_{device_id}_{key}"
        cmp["def_ent_id"] = f"{cmp['p']}.crampwatch_{slug}_{key}"
        cmp["qos"] = 1
        if expire_after and cmp["p"] in ("sensor", "binary_sensor") and cmp["stat_t"] == state:
            cmp["exp_aft"] = expire_after
    return cmps


def payload_dict(device_id: str, base_topic: str, info: DeviceInfo = DeviceInfo()) -> dict[str, Any]:
    """The device discovery payload as a dict (abbreviated keys, as sent)."""
    sw = version()
    device = {"ids": [f"crampwatch_{device_id}"], "name": info.name or f"crampwatch {device_id}",
              "mf": "crampwatch", "mdl": "Bottle scale and bed sensor", "sw": sw}
    optional = {"hw": info.hw_version, "cu": info.configuration_url, "sa": info.suggested_area}
    device |= {key: value for key, value in optional.items() if value}
    origin = {"name": ORIGIN_NAME, "sw": sw} | ({"url": info.support_url} if info.support_url else {})
    return {
        "dev": device,
        "o": origin,
        "avty_t": f"{base_topic}/status",
        "cmps": components(device_id, base_topic, expire_after=info.expire_after),
    }


def discovery_message(device_id: str, base_topic: str, prefix: str = "homeassistant",
                      info: DeviceInfo = DeviceInfo()) -> tuple[str, str]:
    """``(topic, JSON payload)`` of the retained device discovery message."""
    payload = payload_dict(device_id, base_topic, info)
    return discovery_topic(device_id, prefix), json.dumps(payload, separators=(",", ":"))
