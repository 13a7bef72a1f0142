"""The Home Assistant blueprints in docs/home-assistant/ against crampwatch's MQTT contract.

Each blueprint is loaded as Home Assistant loads it (YAML with ``!input`` tags), its inputs
filled in, and its templates rendered with Jinja2 on what crampwatch really publishes:
the contract comes from the code (the MQTT service's topics, the reminder service's
topic, the registered event types, the command parser and the discovery payload), never
from a list copied here. Rendering is strict (an unknown field is an error), so a
template that reads a field crampwatch does not send fails.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jinja2
import paho.mqtt.client as paho
import pytest
import yaml

import vocabulary.reminder_events  # noqa: F401  (registers night_summary and the reminder events)
from device.actions import SNOOZE_RANGE_MIN
from device.config import Config
from device.health import Health
from device.mqtt.commands import COMMANDS, parse_command
from device.mqtt.discovery import components
from device.mqtt.service import MqttService, event_message
from device.storage.store import Store
from scheduler import policy
from scheduler.service import REMINDER_TOPIC
from scheduler.state import ReminderRecord
from vocabulary.events import event_types
from vocabulary.reminder_events import NightSummary

BLUEPRINTS = sorted((Path(__file__).parent.parent / "docs" / "home-assistant").glob("*.yaml"))
DEVICE = "bedroom"


# -- loading, as Home Assistant does ---------------------------------------------------------
class Input(str):
    """A ``!input name`` placeholder."""


class BlueprintLoader(yaml.SafeLoader):
    """Home Assistant's blueprint YAML: ``!input`` tags, otherwise plain safe YAML."""


BlueprintLoader.add_constructor("!input", lambda loader, node: Input(loader.construct_scalar(node)))


def load(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=BlueprintLoader)


def walk(node):
    """Every mapping in a YAML tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def fill(node, inputs: dict):
    """The tree with each ``!input`` replaced by its value."""
    if isinstance(node, Input):
        return inputs[str(node)]
    if isinstance(node, dict):
        return {k: fill(v, inputs) for k, v in node.items()}
    if isinstance(node, list):
        return [fill(v, inputs) for v in node]
    return node


def inputs_used(node) -> set[str]:
    if isinstance(node, Input):
        return {str(node)}
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return set().union(*(inputs_used(child) for child in children)) if children else set()


# -- templates, as Home Assistant renders them (strictly: no unknown fields) ------------------
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined)
ONE_EXPRESSION = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def render(value, context: dict):
    """Render a template as Home Assistant does: a lone ``{{ expression }}`` keeps its type."""
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if not isinstance(value, str) or "{" not in value:
        return value
    lone = ONE_EXPRESSION.match(value)
    if lone and "}}" not in lone.group(1):
        return ENV.compile_expression(lone.group(1))(**context)
    return ENV.from_string(value).render(**context)


def variables(blueprint: dict, context: dict) -> dict:
    """The automation's variables, each rendered with those before it (as Home Assistant does)."""
    context = dict(context)
    for name, template in (blueprint.get("variables") or {}).items():
        context[name] = render(template, context)
    return context


# -- crampwatch's side of the contract, from the code ---------------------------------------
@pytest.fixture(scope="module")
def service():
    config = Config.model_validate({"device": {"id": DEVICE, "data_dir": ":memory:"}, "mqtt": {"host": "127.0.0.1"}})
    return MqttService(config, Store(":memory:"), Health())


def published_topics(svc: MqttService) -> dict[str, str]:
    """Every topic crampwatch publishes on, by what it carries."""
    topics = {"status": svc.status_topic, "state": svc.state_topic, "reminder": f"{svc.base_topic}/{REMINDER_TOPIC}"}
    for kind in event_types():
        topics[f"event/{kind}"] = event_message({"type": kind, "id": f"{kind}-1", "t": 1.0}, svc.base_topic, DEVICE)[0]
    return topics


NOW = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc).timestamp()


def hydration_reminder() -> dict:
    """An active hydration reminder as the reminder service publishes it."""
    decision = policy.HydrationDecision(remind=True, reason="due", intake_ml=600.0, expected_ml=950.0)
    payload = policy.hydration_message(decision, 2000.0)
    return ReminderRecord.new(f"hydration-{round(NOW * 1000)}", "hydration", "2026-11-25", NOW, payload).to_json()


def night_summary(recorded: bool) -> dict:
    """Last night's summary as stored and published (the event ``night_summary``)."""
    config = Config()
    plan = policy.plan_for(datetime(2026, 11, 25).date(), config.hydration, config.stretch, config.tz)
    events = []
    if recorded:
        start = plan.night_start + 3 * 3600
        events = [{"type": "sleep", "start": start, "end": start + 7.2 * 3600},
                  {"type": "wake", "id": "wake-1", "start": start + 3600, "end": start + 3700, "bed_exit": True,
                   "cramp": True, "score": 0.9}]
    summary, _ = policy.night_summary(plan, events, plan.night_end, intake_ml=1850.0, goal_ml=2000.0)
    event = NightSummary(**summary)
    return json.loads(event_message({"id": event.id, **event.to_dict()}, "x", DEVICE)[1])


def mqtt_trigger(topic: str, payload: dict | str) -> dict:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    out = {"platform": "mqtt", "topic": topic, "payload": text, "qos": 1}
    if text:
        out["payload_json"] = json.loads(text)
    return out


def ha_context(**extra) -> dict:
    """What Home Assistant gives every template: this run's context, the automation, now()."""
    last = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)
    return {"context": {"id": "01JDCW0000000000000000TEST"}, "this": {"attributes": {"last_triggered": last}},
            "now": lambda: last + timedelta(days=1), **extra}


# -- every blueprint ---------------------------------------------------------------------------
def test_there_are_the_three_blueprints():
    assert {p.name for p in BLUEPRINTS} == {"hydration-reminder-notification.yaml", "morning-night-summary.yaml",
                                            "doctor-flag-notification.yaml"}


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
def test_a_blueprint_parses_and_uses_exactly_its_inputs(path):
    bp = load(path)
    meta = bp["blueprint"]
    assert meta["domain"] == "automation" and meta["name"].startswith("crampwatch - ") and meta["description"]
    declared = set(meta["input"])
    assert inputs_used({k: v for k, v in bp.items() if k != "blueprint"}) == declared
    assert all("selector" in spec and spec.get("name") for spec in meta["input"].values())
    assert bp["triggers"] and bp["actions"] and bp["mode"] in ("single", "restart", "queued", "parallel")


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
def test_every_mqtt_trigger_listens_where_crampwatch_publishes(path, service):
    bp = load(path)
    base = {"base": service.base_topic}
    trigger_vars = render(fill(bp.get("trigger_variables", {}), {"base_topic": service.base_topic}), base)
    topics = set(published_topics(service).values())
    for trigger in bp["triggers"]:
        if trigger.get("trigger") == "mqtt":
            assert "payload" not in trigger  # crampwatch's payloads are JSON: matched in templates
            assert render(trigger["topic"], trigger_vars) in topics, trigger["topic"]


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
def test_every_mqtt_publish_is_a_command_crampwatch_accepts(path, service):
    bp = load(path)
    inputs = {name: spec.get("default", f"<{name}>") for name, spec in bp["blueprint"]["input"].items()}
    inputs["base_topic"] = service.base_topic
    bp = fill(bp, inputs)
    context = variables(bp, ha_context(base=service.base_topic, trigger=mqtt_trigger("x", hydration_reminder())))
    publishes = [node for node in walk(bp["actions"]) if node.get("action") == "mqtt.publish"]
    for publish in publishes:
        data = render(publish["data"], context)
        assert paho.topic_matches_sub(service.command_filter, data["topic"]), data["topic"]
        name = data["topic"].rsplit("/", 1)[1]
        assert name in COMMANDS
        parse_command(name, data["payload"].encode())  # raises CommandError on a payload crampwatch refuses
        assert data.get("retain") is False  # crampwatch ignores retained commands
    if path.stem == "hydration-reminder-notification":
        assert {p["data"]["topic"].rsplit("/", 1)[1] for p in publishes} == {"ack", "snooze"}


# -- each blueprint on the payloads crampwatch sends -------------------------------------------
def test_the_reminder_notification_on_a_real_reminder_and_its_clearing(service):
    bp = load(BLUEPRINTS[[p.stem for p in BLUEPRINTS].index("hydration-reminder-notification")])
    snooze = bp["blueprint"]["input"]["snooze_minutes"]
    assert (snooze["selector"]["number"]["min"], snooze["selector"]["number"]["max"]) == SNOOZE_RANGE_MIN
    bp = fill(bp, {"base_topic": service.base_topic, "phone": "phone-1", "snooze_minutes": snooze["default"]})
    gate, notify, wait, answer = bp["actions"]
    topic = published_topics(service)["reminder"]

    # a reminder arrives: a notification with its words and two buttons
    context = variables(bp, ha_context(base=service.base_topic, trigger=mqtt_trigger(topic, hydration_reminder())))
    assert render(gate["if"][0]["value_template"], context) is False
    sent = render({k: notify[k] for k in ("title", "message", "data")}, context)
    assert sent["title"] == "Time for a drink" and "behind your pace" in sent["message"]
    buttons = sent["data"]["actions"]
    assert [b["title"] for b in buttons] == ["Done", "Snooze 30 min"]
    awaited = [render(t["event_data"]["action"], context) for t in wait["wait_for_trigger"]]
    assert awaited == [b["action"] for b in buttons]  # the buttons' presses are what it waits for
    for pressed, command in zip(awaited, ("ack", "snooze")):
        after = context | {"wait": {"trigger": {"event": {"data": {"action": pressed}}}}}
        branch = answer["then"] if render(answer["if"][0]["value_template"], after) else answer["else"]
        data = render(branch[0]["data"], after)
        assert data["topic"] == f"{service.base_topic}/cmd/{command}"
        if command == "snooze":
            assert parse_command("snooze", data["payload"].encode()).minutes == 30

    # the reminder ends (crampwatch clears the retained message): the notification goes
    for payload in ("", {**hydration_reminder(), "kind": "stretch"}):
        cleared = variables(bp, ha_context(base=service.base_topic, trigger=mqtt_trigger(topic, payload)))
        assert render(gate["if"][0]["value_template"], cleared) is True
        assert gate["then"][0]["message"] == "clear_notification" and "stop" in gate["then"][1]
        assert render(gate["then"][0]["data"]["tag"], cleared) == sent["data"]["tag"]


@pytest.mark.parametrize("recorded", [True, False])
def test_the_morning_message_on_a_real_night_summary(service, recorded):
    bp = load(BLUEPRINTS[[p.stem for p in BLUEPRINTS].index("morning-night-summary")])
    bp = fill(bp, {"base_topic": service.base_topic, "phone": "phone-1"})
    summary = night_summary(recorded)
    context = variables(bp, ha_context(base=service.base_topic,
                                       trigger=mqtt_trigger(published_topics(service)["event/night_summary"], summary)))
    assert all(render(c["value_template"], context) is True for c in bp["conditions"])
    (notify,) = bp["actions"]
    message = " ".join(render(notify["message"], context).split())
    assert render(notify["title"], context) == f"Last night ({summary['night']})"
    if recorded:
        assert message.startswith("7 h 10 min asleep; 1 wake-up (1 out of bed); 1 cramp.")
    else:
        assert message.startswith("No sleep period recorded; 0 wake-ups (0 out of bed); 0 cramps.")
    assert "drank 1850 mL of 2000 mL" in message and "None" not in message
    repeat = context | {"this": {"attributes": {"last_triggered": context["now"]() - timedelta(minutes=5)}}}
    assert render(bp["conditions"][1]["value_template"], repeat) is False  # the same summary delivered twice


def test_the_doctor_notification_reads_the_doctor_sensor_crampwatch_announces(tmp_path):
    from tests.test_mqtt_discovery import daemon_like_state
    from tests.test_mqtt_discovery import render as render_ha

    bp = load(BLUEPRINTS[[p.stem for p in BLUEPRINTS].index("doctor-flag-notification")])
    (wanted,) = bp["blueprint"]["input"]["doctor_flag"]["selector"]["entity"]["filter"]
    matching = [key for key, c in components(DEVICE, "x").items()
                if c["p"] == wanted["domain"] and c.get("dev_cla") == wanted["device_class"]]
    assert wanted["integration"] == "mqtt" and matching == ["doctor_flag"]
    (trigger,) = bp["triggers"]
    assert (trigger["trigger"], trigger["from"], trigger["to"]) == ("state", "off", "on")

    # the entity's attributes are what its discovery template makes of the daemon's state
    state = daemon_like_state(tmp_path)
    attributes = json.loads(render_ha(components(DEVICE, "x")["doctor_flag"]["json_attr_tpl"], state))
    assert attributes["raised"]
    bp = fill(bp, {"doctor_flag": "binary_sensor.crampwatch_bedroom_doctor_flag", "phone": "phone-1"})
    context = ha_context(trigger={"entity_id": bp["triggers"][0]["entity_id"]},
                         state_attr=lambda entity, name: attributes[name])  # KeyError: no such attribute
    message = " ".join(render(bp["actions"][0]["message"], context).split())
    assert message.startswith("Cramps woke you on 3 of the last 7 nights.") and "(3 cramp nights of the last 7.)" in message
