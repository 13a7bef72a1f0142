"""Home Assistant device discovery: the payload obeys Home Assistant's rules, its
templates render the state we publish, and it is republished when Home Assistant
comes back online."""

import json
import time
from datetime import datetime

import jinja2
import pytest

from device.config import Config, DashboardSection
from device.mqtt.discovery import (HEALTH_OPTIONS, NIGHT_EVENT_TYPES, DeviceInfo, components, configuration_url,
                              device_info, discovery_message, discovery_topic, payload_dict, state_expiry_s)

# -- Home Assistant's rules, as its MQTT integration applies them (homeassistant/components/mqtt:
# discovery.py _parse_device_payload -> schemas.py DEVICE_DISCOVERY_SCHEMA; abbreviations.py).
TOP_ABBREVIATIONS = {"dev": "device", "o": "origin", "cmps": "components", "avty": "availability",
                     "avty_t": "availability_topic", "avty_mode": "availability_mode",
                     "avty_tpl": "availability_template", "pl_avail": "payload_available",
                     "pl_not_avail": "payload_not_available", "stat_t": "state_topic",
                     "cmd_t": "command_topic", "e": "encoding"}
# Everything else at the top level makes Home Assistant drop the whole payload.
TOP_ALLOWED = {"device", "origin", "components", "availability", "availability_topic",
               "availability_mode", "availability_template", "payload_available",
               "payload_not_available", "state_topic", "command_topic", "qos", "encoding"}
DEVICE_KEYS = {"ids", "identifiers", "cns", "connections", "mf", "manufacturer", "mdl", "model",
               "name", "hw", "hw_version", "sn", "serial_number", "sw", "sw_version", "via_device",
               "sa", "suggested_area", "cu", "configuration_url", "mdl_id", "model_id"}
ORIGIN_KEYS = {"name", "sw", "sw_version", "url", "support_url"}
PLATFORMS = {"binary_sensor", "button", "event", "number", "sensor"}
# homeassistant/components/sensor: the units of the duration class; timestamp and enum take none.
DURATION_UNITS = {"d", "h", "min", "s", "ms"}
# Units Home Assistant accepts for the volume device classes, and their state classes.
VOLUME_UNITS = {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"}
STATE_CLASSES = {"volume": {"total", "total_increasing"}, "volume_storage": {"measurement"}, None: None}
# homeassistant/components/binary_sensor BinarySensorDeviceClass: anything else is refused.
BINARY_DEVICE_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
                         "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
                         "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
                         "tamper", "update", "vibration", "window"}


def ha_problems(payload: dict) -> list[str]:
    """Why Home Assistant would reject this device discovery payload (empty: it accepts it)."""
    problems = []
    top = {TOP_ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    problems += [f"top-level key {k!r} is not allowed" for k in top if k not in TOP_ALLOWED]
    for required in ("device", "origin", "components"):
        if required not in top:
            problems.append(f"{required} missing")
    device = top.get("device", {})
    if not (device.get("ids") or device.get("identifiers") or device.get("cns") or device.get("connections")):
        problems.append("device needs identifiers or connections")
    problems += [f"device key {k!r} unknown" for k in device if k not in DEVICE_KEYS]
    for key in ("cu", "configuration_url"):  # Home Assistant's configuration_url validator
        if key in device and not str(device[key]).startswith(("http://", "https://", "homeassistant://")):
            problems.append(f"device {key} {device[key]!r} is no http(s) URL")
    origin = top.get("origin", {})
    if "name" not in origin:
        problems.append("origin needs a name")
    problems += [f"origin key {k!r} unknown" for k in origin if k not in ORIGIN_KEYS]
    for key in ("url", "support_url"):
        if key in origin and not str(origin[key]).startswith(("http://", "https://")):
            problems.append(f"origin {key} {origin[key]!r} is no http(s) URL")
    for key, cmp in top.get("components", {}).items():
        where = f"component {key}"
        platform = cmp.get("p", cmp.get("platform"))
        if platform not in PLATFORMS:
            problems.append(f"{where}: platform {platform!r}")
        if not (cmp.get("uniq_id") or cmp.get("unique_id")):
            problems.append(f"{where}: unique_id missing")
        if "obj_id" in cmp or "object_id" in cmp:
            problems.append(f"{where}: object_id is no longer supported")
        if "def_ent_id" in cmp and not cmp["def_ent_id"].startswith(f"{platform}."):
            problems.append(f"{where}: default_entity_id must be '<platform>.<id>'")
        topics = {k: v for k, v in cmp.items() if k.endswith("_t") or k.endswith("topic")}
        if any("~" in v for v in topics.values()) and "~" not in cmp:
            problems.append(f"{where}: uses ~ without a topic base")
        if platform in ("sensor", "binary_sensor", "event") and "stat_t" not in cmp:
            problems.append(f"{where}: state_topic missing")
        if platform in ("number", "button") and "cmd_t" not in cmp:
            problems.append(f"{where}: command_topic missing")
        if platform == "event" and not cmp.get("event_types"):
            problems.append(f"{where}: event_types missing")
        dev_cla = cmp.get("dev_cla")
        if platform == "binary_sensor" and dev_cla is not None and dev_cla not in BINARY_DEVICE_CLASSES:
            problems.append(f"{where}: binary_sensor device class {dev_cla!r}")
        if ("json_attr_tpl" in cmp) != ("json_attr_t" in cmp):
            problems.append(f"{where}: json_attributes_template needs json_attributes_topic")
        if "exp_aft" in cmp and (platform not in ("sensor", "binary_sensor") or type(cmp["exp_aft"]) is not int
                                 or cmp["exp_aft"] <= 0):
            problems.append(f"{where}: expire_after {cmp['exp_aft']!r} on a {platform}")
        if "ops" in cmp:  # sensor.py validate_sensor_state_and_device_class_config
            if not cmp["ops"] or dev_cla != "enum" or "stat_cla" in cmp or "unit_of_meas" in cmp:
                problems.append(f"{where}: options need device class enum, no state class and no unit")
        if platform == "sensor" and dev_cla in ("enum", "timestamp") and ("unit_of_meas" in cmp or "stat_cla" in cmp):
            problems.append(f"{where}: a {dev_cla} sensor has no unit or state class")
        if platform == "sensor" and dev_cla == "duration" and cmp.get("unit_of_meas") not in DURATION_UNITS:
            problems.append(f"{where}: unit {cmp.get('unit_of_meas')!r} not valid for duration")
        if platform == "sensor" and dev_cla in ("volume", "volume_storage"):
            if cmp.get("unit_of_meas") not in VOLUME_UNITS:
                problems.append(f"{where}: unit {cmp.get('unit_of_meas')!r} not valid for {dev_cla}")
            if "stat_cla" in cmp and cmp["stat_cla"] not in STATE_CLASSES[dev_cla]:
                problems.append(f"{where}: state class {cmp['stat_cla']} not valid for {dev_cla}")
    return problems


FULL_INFO = DeviceInfo(name="Bedroom", configuration_url="https://crampwatch.example.org/", hw_version="Raspberry Pi 5 Model B Rev 1.0",
                       suggested_area="Bedroom", expire_after=180, support_url="https://example.org/crampwatch")


@pytest.mark.parametrize("info", [DeviceInfo(), FULL_INFO])
def test_the_payload_passes_home_assistants_rules(info):
    payload = payload_dict("bedroom", "crampwatch/bedroom", info)
    assert ha_problems(payload) == []


def test_the_device_names_its_dashboard_model_area_and_origin_page():
    payload = payload_dict("bedroom", "crampwatch/bedroom", FULL_INFO)
    assert {k: payload["dev"][k] for k in ("cu", "hw", "sa", "name")} == {
        "cu": "https://crampwatch.example.org/", "hw": "Raspberry Pi 5 Model B Rev 1.0", "sa": "Bedroom", "name": "Bedroom"}
    assert payload["o"]["url"] == "https://example.org/crampwatch"
    bare = payload_dict("bedroom", "crampwatch/bedroom")  # nothing known: the keys are left out, not null
    assert not {"cu", "hw", "sa"} & set(bare["dev"]) and "url" not in bare["o"]


def test_device_info_reads_the_pi_model_and_the_configuration(tmp_path):
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")  # as /proc/device-tree/model has it
    config = Config.model_validate({"mqtt": {"suggested_area": "Guest room", "state_refresh_s": 20},
                                    "dashboard": {"public_url": "https://cw.example.org/"}})
    info = device_info(config, model_file=str(model))
    assert (info.hw_version, info.suggested_area, info.configuration_url, info.expire_after) == (
        "Raspberry Pi 4 Model B Rev 1.4", "Guest room", "https://cw.example.org/", 60)
    assert device_info(Config(), model_file=str(tmp_path / "absent")).hw_version is None  # not a Pi


@pytest.mark.parametrize("dashboard, url", [
    ({}, None),  # the default: loopback only, no browser elsewhere can open it
    ({"host": "localhost"}, None),
    ({"host": "::1"}, None),
    ({"host": "0.0.0.0", "port": 8081}, "http://bedroom-pi.local:8081/"),  # every address: the mDNS name
    ({"host": "::"}, "http://bedroom-pi.local:8080/"),
    ({"host": "192.168.1.20"}, "http://192.168.1.20:8080/"),
    ({"host": "fd00::20"}, "http://[fd00::20]:8080/"),
    ({"host": "pi.home.example"}, "http://pi.home.example:8080/"),
    ({"public_url": "https://cw.example.org/"}, "https://cw.example.org/"),  # behind a TLS proxy, on loopback
    ({"host": "0.0.0.0", "enabled": False, "public_url": "https://cw.example.org/"}, None),  # no dashboard
])
def test_configuration_url_only_where_another_machine_can_open_the_dashboard(dashboard, url):
    assert configuration_url(DashboardSection(**dashboard), hostname="bedroom-pi") == url


def test_a_host_name_with_a_domain_is_used_as_it_is():
    assert configuration_url(DashboardSection(host="0.0.0.0"), hostname="pi.home.example") == "http://pi.home.example:8080/"


@pytest.mark.parametrize("url", ["ftp://cw.example.org/", "https://*.example.org/", "https://u:p@cw.example.org/",
                                 "cw.example.org", "https://cw.example.org/?x=1"])
def test_a_public_url_must_be_a_plain_http_url(url):
    with pytest.raises(Exception, match="dashboard.public_url"):
        Config.model_validate({"dashboard": {"public_url": url}})


def test_sensors_of_the_state_expire_after_three_refreshes_and_nothing_else_does():
    cmps = components("x", "cw/x", expire_after=state_expiry_s(60.0))
    expiring = {k for k, c in cmps.items() if "exp_aft" in c}
    assert expiring == {k for k, c in cmps.items() if c["p"] in ("sensor", "binary_sensor") and c["stat_t"] == "~/state"}
    assert {"intake_today", "in_bed", "last_drink", "sensor_health", "doctor_flag"} <= expiring
    assert {cmps[k]["exp_aft"] for k in expiring} == {180}
    assert state_expiry_s(5.0) == 15 and state_expiry_s(0.4 * 60) == 72
    assert not any("exp_aft" in c for c in components("x", "cw/x").values())  # not asked for: none


@pytest.mark.parametrize("bad, problem", [
    ({"~": "crampwatch/x"}, "top-level key '~'"),
    ({"object_id": "x"}, "top-level key 'object_id'"),
    ({"unique_id": "x"}, "top-level key 'unique_id'"),
])
def test_the_checker_catches_what_home_assistant_refuses(bad, problem):
    payload = {**payload_dict("x", "crampwatch/x"), **bad}
    assert any(problem in p for p in ha_problems(payload))


def test_the_topic_base_lives_only_inside_components():
    payload = payload_dict("bedroom", "crampwatch/bedroom")
    assert "~" not in payload
    assert all(c["~"] == "crampwatch/bedroom" for c in payload["cmps"].values())
    assert payload["avty_t"] == "crampwatch/bedroom/status"


def test_the_entities_the_issue_asks_for():
    cmps = components("bedroom", "crampwatch/bedroom")
    intake = cmps["intake_today"]
    assert (intake["p"], intake["dev_cla"], intake["stat_cla"], intake["unit_of_meas"]) == \
        ("sensor", "volume", "total_increasing", "mL")
    contents = cmps["bottle_contents"]
    assert (contents["dev_cla"], contents["stat_cla"], contents["unit_of_meas"]) == ("volume_storage", "measurement", "mL")
    assert (cmps["bottle_present"]["p"], cmps["bottle_present"]["dev_cla"]) == ("binary_sensor", "presence")
    assert cmps["goal"]["p"] == "number" and cmps["goal"]["cmd_t"] == "~/cmd/goal"
    assert cmps["reminder_active"]["p"] == "binary_sensor"
    assert cmps["last_night_wakes"]["p"] == cmps["last_night_cramps"]["p"] == "sensor"
    assert cmps["night_event"]["p"] == "event" and cmps["night_event"]["event_types"] == NIGHT_EVENT_TYPES
    buttons = {c["cmd_t"] for c in cmps.values() if c["p"] == "button"}
    assert buttons == {"~/cmd/ack", "~/cmd/snooze", "~/cmd/tare", "~/cmd/cramp"}
    assert cmps["sensor_health"]["ent_cat"] == "diagnostic"
    doctor = cmps["doctor_flag"]
    assert (doctor["p"], doctor["dev_cla"], doctor["stat_t"]) == ("binary_sensor", "problem", "~/state")
    assert "doctor" in doctor["name"].lower() and "ent_cat" not in doctor  # a main entity, not a diagnostic


def test_the_home_assistant_polish_entities():
    cmps = components("bedroom", "crampwatch/bedroom")
    assert (cmps["in_bed"]["p"], cmps["in_bed"]["dev_cla"], cmps["in_bed"]["name"]) == ("binary_sensor", "occupancy", "In bed")
    assert (cmps["last_drink"]["dev_cla"], cmps["last_drink"]["name"]) == ("timestamp", "Last drink")
    sleep = cmps["last_night_sleep"]
    assert (sleep["name"], sleep["dev_cla"], sleep["unit_of_meas"]) == ("Last night's sleep", "duration", "min")
    assert cmps["cramp_nights_week"]["name"] == "Cramp nights this week"
    health = cmps["sensor_health"]
    assert health["dev_cla"] == "enum" and health["ops"] == HEALTH_OPTIONS == ["starting", "ok", "degraded", "failed"]
    pace = cmps["pace"]
    assert pace["name"] == "Drinking pace" and not set(pace["name"]) & set("+-()")  # the sign is explained...
    assert "json_attr_tpl" in pace  # ...in an attribute


def test_health_options_cover_everything_the_overall_health_can_say():
    from device.health import Health

    seen = set()
    for state in ("starting", "ok", "degraded", "failed", "off"):
        health = Health()
        health.set("part", state)
        seen.add(health.overall)
    assert seen <= set(HEALTH_OPTIONS)


def test_unique_ids_of_earlier_entities_are_kept():
    # a changed unique_id makes Home Assistant forget an entity's history and settings
    earlier = {"intake_today", "bottle_contents", "bottle_present", "goal", "reminder_active", "pace",
               "last_night_wakes", "last_night_cramps", "doctor_flag", "night_event", "ack", "snooze", "tare",
               "log_cramp", "sensor_health"}
    cmps = components("bedroom", "crampwatch/bedroom")
    assert earlier <= set(cmps)
    assert all(cmps[k]["uniq_id"] == f"crampwatch_bedroom_{k}" for k in earlier)


def test_unique_ids_are_unique_and_differ_between_devices():
    a = [c["uniq_id"] for c in components("bedroom", "cw/bedroom").values()]
    b = [c["uniq_id"] for c in components("guest-room", "cw/guest-room").values()]
    assert len(set(a)) == len(a) and not set(a) & set(b)
    assert all(c["def_ent_id"].split(".", 1)[1].isidentifier()
               for c in components("guest-room", "cw/guest-room").values())


def test_topic_and_payload_are_compact_json():
    topic, text = discovery_message("bedroom", "crampwatch/bedroom", "ha")
    assert topic == "ha/device/bedroom/config" == discovery_topic("bedroom", "ha")
    assert json.loads(text) == payload_dict("bedroom", "crampwatch/bedroom")


# -- the templates, rendered as Home Assistant would (Jinja2 with value_json) -----------
def render(template: str, value: dict) -> str:
    env = jinja2.Environment()
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    return env.from_string(template).render(value_json=value, value=json.dumps(value)).strip()


STATE = {"intake_today_ml": 850.0, "goal_ml": 2000, "bottle_contents_ml": None, "bottle_present": True,
         "pace_ml": -120.0, "last_night": {"wakes": 2, "cramps": 1, "asleep_min": 412.5},
         "last_drink": {"id": "drink-1764060312400", "t": 1764060312.4, "ml": 150.0, "at": "2025-11-25T08:45:12+00:00"},
         "reminder_active": False, "health": {"overall": "ok", "bottle": "ok"}, "in_bed": True,
         "cramp_nights_week": {"cramp_nights": 2, "nights": 7, "recorded": 6, "first": "2025-11-18", "last": "2025-11-24"},
         "doctor_flag": {"raised": False, "cramp_nights": 1, "nights": 7, "threshold": 3, "message": None}}


@pytest.mark.parametrize("key, expected", [
    ("intake_today", "850.0"), ("bottle_contents", "None"), ("bottle_present", "ON"), ("goal", "2000"),
    ("reminder_active", "OFF"), ("pace", "-120.0"), ("last_night_wakes", "2"), ("last_night_cramps", "1"),
    ("sensor_health", "ok"), ("doctor_flag", "OFF"), ("in_bed", "ON"), ("last_drink", "2025-11-25T08:45:12+00:00"),
    ("last_night_sleep", "412.5"), ("cramp_nights_week", "2"),
])
def test_state_templates_render_the_published_state(key, expected):
    assert render(components("x", "cw/x")[key]["val_tpl"], STATE) == expected


def test_state_templates_survive_an_unknown_night_and_health():
    state = {**STATE, "last_night": None, "health": None, "bottle_present": None, "in_bed": None, "last_drink": None,
             "cramp_nights_week": None}
    cmps = components("x", "cw/x")
    for key in ("last_night_wakes", "bottle_present", "sensor_health", "in_bed", "last_drink", "last_night_sleep",
                "cramp_nights_week"):
        assert render(cmps[key]["val_tpl"], state) == "None", key  # Home Assistant: unknown
    no_sleep = {**STATE, "last_night": {"wakes": 0, "cramps": 0, "recorded": False}}  # nothing recorded that night
    assert render(cmps["last_night_sleep"]["val_tpl"], no_sleep) == "None"
    for flag in ({"doctor_flag": None}, {}):  # not worked out (a glitch), or a state from before the flag
        unknown = {k: v for k, v in state.items() if k != "doctor_flag"} | flag
        assert render(cmps["doctor_flag"]["val_tpl"], unknown) == "None"
        assert json.loads(render(cmps["doctor_flag"]["json_attr_tpl"], unknown)) == {}


def ha_value_problem(cmp: dict, rendered: str) -> str | None:
    """Why Home Assistant would refuse this rendered state of the entity (None: it takes it)."""
    if rendered == "None":
        return None  # unknown
    platform, dev_cla = cmp["p"], cmp.get("dev_cla")
    if platform == "binary_sensor":
        return None if rendered in ("ON", "OFF") else f"{rendered!r} is not ON/OFF"
    if dev_cla == "enum":
        return None if rendered in cmp["ops"] else f"{rendered!r} is not one of {cmp['ops']}"
    if dev_cla == "timestamp":
        try:
            return None if datetime.fromisoformat(rendered).tzinfo is not None else f"{rendered!r} has no time zone"
        except ValueError:
            return f"{rendered!r} is no ISO 8601 time"
    if platform == "number" or "unit_of_meas" in cmp or "stat_cla" in cmp:
        try:
            float(rendered)
        except ValueError:
            return f"{rendered!r} is not a number"
    return None


def daemon_like_state(tmp_path) -> dict:
    """The state JSON as the MQTT service publishes it, from the daemon's own parts over a
    stored week: last night's summary as the reminder service makes it, a drink, someone in bed."""
    from types import SimpleNamespace

    from device.health import Health
    from device.mqtt.service import MqttService
    from device.mqtt.state import daemon_state
    from device.storage.store import Store
    from scheduler import policy
    from tests.test_insights import config as insights_config, week
    from vocabulary.events import Drink

    store = Store(":memory:")
    now = week(store, {0, 3, 6})
    store.add_event(Drink(t=now - 600.0, ml=150.0))
    config = insights_config()
    plan = policy.day_plan(now, config.hydration, config.stretch, config.tz)
    summary, _ = policy.night_summary(plan, list(store.events(since=plan.night_start - 86400.0)), now)

    class Reminders:
        def status(self):
            return {"pace": {"intake_ml": 150.0, "expected_ml": 400.0, "goal_ml": 2000.0}, "reminder": None,
                    "last_night": {"type": "night_summary"} | summary}

    daemon = SimpleNamespace(store=store, config=config, reminders=Reminders(), bottle=None,
                             bed=SimpleNamespace(in_bed=lambda: True))
    health = Health()
    health.set("bottle", "ok")
    service = MqttService(Config.model_validate({"device": {"id": "x"}}), store, health,
                          state_provider=lambda: daemon_state(daemon, now))
    return json.loads(json.dumps(service.state(), default=str))


def test_every_entity_renders_the_daemons_own_state_as_home_assistant_takes_it(tmp_path):
    state = daemon_like_state(tmp_path)
    rendered = {}
    for key, cmp in components("x", "cw/x").items():
        if cmp["p"] in ("button", "event"):
            continue
        rendered[key] = render(cmp["val_tpl"], state)
        assert ha_value_problem(cmp, rendered[key]) is None, (key, rendered[key])
        if "json_attr_tpl" in cmp:
            assert isinstance(json.loads(render(cmp["json_attr_tpl"], state)), dict), key
    assert rendered["in_bed"] == "ON" and rendered["cramp_nights_week"] == "3"
    assert datetime.fromisoformat(rendered["last_drink"]).timestamp() == round(state["last_drink"]["t"])
    assert float(rendered["last_night_sleep"]) == state["last_night"]["asleep_min"] > 60
    assert rendered["sensor_health"] == "ok" and rendered["pace"] == "-250.0"
    pace = json.loads(render(components("x", "cw/x")["pace"]["json_attr_tpl"], state))
    assert pace["sign"].startswith("positive: ahead") and "negative: behind" in pace["sign"]


def test_the_doctor_flag_entity_is_on_with_the_message_as_attributes():
    flag = {"raised": True, "cramp_nights": 3, "nights": 7, "threshold": 3,
            "message": "Cramps woke you on 3 of the last 7 nights. ... see a doctor."}
    cmp = components("x", "cw/x")["doctor_flag"]
    assert render(cmp["val_tpl"], {**STATE, "doctor_flag": flag}) == "ON"  # Home Assistant shows "Problem"
    assert json.loads(render(cmp["json_attr_tpl"], {**STATE, "doctor_flag": flag})) == flag


def test_the_doctor_flag_entity_renders_what_the_daemon_publishes():
    from types import SimpleNamespace

    from device.mqtt.state import daemon_state
    from device.storage.store import Store
    from tests.test_insights import config, week

    store = Store(":memory:")
    now = week(store, {0, 3, 6})  # three cramp nights of seven: raised
    daemon = SimpleNamespace(store=store, config=config(), reminders=None, bottle=None)
    state = json.loads(json.dumps(daemon_state(daemon, now)))
    cmp = components("x", "cw/x")["doctor_flag"]
    assert render(cmp["val_tpl"], state) == "ON"
    assert "see a doctor" in json.loads(render(cmp["json_attr_tpl"], state))["message"]


@pytest.mark.parametrize("event, expected", [
    ({"id": "wake-1", "type": "wake", "start": 1.0, "end": 2.0, "bed_exit": True, "cramp": False, "score": 0.1}, "wake"),
    ({"id": "wake-2", "type": "wake", "start": 1.0, "end": 2.0, "bed_exit": True, "cramp": True, "score": 0.9}, "cramp_wake"),
    ({"id": "cramp-3", "type": "cramp", "t": 3.0, "confirmed": True}, "cramp"),
    ({"id": "cramp-4", "type": "cramp", "t": 3.0, "confirmed": False, "wake_id": "wake-2"}, None),
    ({"id": "drink-5", "type": "drink", "t": 5.0, "ml": 100.0}, None),
])
def test_the_event_entity_fires_for_wakes_and_cramps_only(event, expected):
    out = render(components("x", "cw/x")["night_event"]["val_tpl"], event)
    if expected is None:
        assert out == ""  # Home Assistant ignores an empty rendering
    else:
        assert json.loads(out)["event_type"] == expected
        assert json.loads(out)["id"] == event["id"]


# -- on a real broker ---------------------------------------------------------------------
def test_discovery_is_retained_and_republished_when_home_assistant_comes_online(broker, listen, tmp_path):
    from tests.test_mqtt_service import service_for

    svc = service_for(broker, tmp_path, "disco")
    svc.start()
    try:
        assert svc.client.wait_subscribed(5)
        late = listen(broker, ["homeassistant/device/disco/config"])
        assert late.wait("homeassistant/device/disco/config")
        retained = late.on("homeassistant/device/disco/config")[0]
        assert retained.retain and ha_problems(json.loads(retained.payload)) == []
        assert json.loads(retained.payload)["avty_t"] == "crampwatch/disco/status"
        late.clear()
        ha = listen(broker, [])
        t0 = time.monotonic()
        ha.client.publish("homeassistant/status", "online", qos=1)
        assert late.wait("homeassistant/device/disco/config", timeout=10)
        assert time.monotonic() - t0 < 10
    finally:
        svc.stop()


def test_the_state_is_republished_well_within_the_expiry_discovery_announces(broker, listen, tmp_path):
    from tests.test_mqtt_service import service_for

    watch = listen(broker, ["crampwatch/expiry/state", "homeassistant/device/expiry/config"])
    svc = service_for(broker, tmp_path, "expiry", state={"intake_today_ml": 100.0}, state_refresh_s=5)
    svc.start()
    try:
        assert watch.wait("crampwatch/expiry/state", lambda p: len(p) >= 2, timeout=10)  # unchanged, yet sent again
        first, second = watch.on("crampwatch/expiry/state")[:2]
        gap = second.timestamp - first.timestamp
        payload = watch.json("homeassistant/device/expiry/config")[-1]
        expiring = {c["exp_aft"] for c in payload["cmps"].values() if "exp_aft" in c}
        assert expiring == {15} and gap <= 5 + 1.5 and 15 >= 2 * gap
    finally:
        svc.stop()
