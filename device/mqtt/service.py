"""MQTT for the daemon: events, retained state, Home Assistant discovery and commands.

:class:`MqttService` is what the daemon starts. It is a consumer of the store, never
a source of truth: events reach the broker from the store's durable outbox, the state
JSON comes from the daemon's ``state_provider``, and commands run the actions of
:mod:`device.actions`, each rate-limited. Refused commands (a bad payload, a refused
action, too many too fast) are counted in health: ``mqtt.commands_refused``, and of
those ``mqtt.commands_rate_limited``.

Topics (``<base>`` is ``mqtt.base_topic``, by default ``crampwatch/<device id>``):

======================================  ========  ====================================
``<base>/status``                       retained  ``online`` / ``offline`` (last will)
``<base>/state``                        retained  the state JSON (:data:`STATE_KEYS`)
``<base>/event/<type>``                           one stored event, plus ``device``, ``t``
``<base>/cmd/<name>``                   in        :mod:`device.mqtt.commands`
``<prefix>/device/<device id>/config``  retained  :mod:`device.mqtt.discovery`
``<prefix>/status``                     in        ``online`` -> discovery is republished
======================================  ========  ====================================
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from device.actions import Actions
from device.config import Config
from device.identity import device_id
from device.mqtt.client import MqttClient, read_password
from device.mqtt.commands import CommandDispatcher, action_handlers
from device.mqtt.discovery import device_info, discovery_message

log = logging.getLogger(__name__)

# Keys of the state JSON, with their meaning. The daemon's state_provider returns them;
# missing ones are sent as null, and ``health`` is filled from the Health registry.
STATE_KEYS = {
    "intake_today_ml": "what was drunk today (local day), mL",
    "goal_ml": "the daily goal, mL",
    "bottle_contents_ml": "what is in the bottle now, mL (null: unknown)",
    "bottle_present": "the bottle is on the scale (null: unknown)",
    "pace_ml": "intake minus what the goal expects by now, mL (negative: behind)",
    "last_drink": "the last drink in the past day ({id, t, ml, kind, source, at}: at is t in ISO 8601, UTC) or null",
    "last_night": "last night's summary ({sleep_h, wakes, cramps, ...}) or null",
    "reminder_active": "a drink or stretch reminder is showing",
    "reminder": "the showing reminder ({id, kind, ...}) or null",
    "doctor_flag": "cramps frequent enough to see a doctor ({raised, message, ...}; device.insights.analysis) or null",
    "cramp_nights_week": "cramp nights of the last seven ({cramp_nights, nights, recorded, first, last}) or null",
    "in_bed": "someone is on the bed, about a minute behind (null: unknown, or no bed sensor)",
    "health": "{overall, <component>: state, ...}",
}
PRUNE_EVERY_S = 3600.0


def event_message(event: dict[str, Any], base_topic: str, device_id: str) -> tuple[str, bytes]:
    """The topic and payload of one stored event (its ``id`` and ``type`` included).

    >>> event_message({"id": "wake-1000", "type": "wake", "start": 1.0, "end": 9.0}, "cw/x", "x")
    ('cw/x/event/wake', b'{"id":"wake-1000","type":"wake","start":1.0,"end":9.0,"device":"x","t":1.0}')
    """
    data = dict(event)
    data["device"] = device_id
    if "t" not in data and "start" in data:
        data["t"] = data["start"]
    return f"{base_topic}/event/{event['type']}", json.dumps(data, separators=(",", ":")).encode()


class MqttService:
    """The daemon's MQTT side; off (health ``off``) when ``mqtt.host`` is unset.

    ``state_provider()`` returns the state dict (see :data:`STATE_KEYS`); it is called
    from the MQTT threads, so it must be thread-safe and quick. Every command runs its
    action of ``actions`` (:class:`device.actions.Actions`; one over the store alone when
    not given), which finds the running parts when the command arrives; ``handlers``
    replaces some of them (tests).

    >>> from device.config import Config
    >>> from device.health import Health
    >>> from device.storage.store import Store
    >>> svc = MqttService(Config.model_validate({"device": {"id": "bedroom"}}), Store(":memory:"), Health())
    >>> svc.enabled, svc.base_topic
    (False, 'crampwatch/bedroom')
    """

    def __init__(self, config: Config, store, health, *, state_provider: Callable[[], dict] | None = None,
                 actions: Actions | None = None, handlers: dict[str, Callable[[Any], None]] | None = None,
                 clock: Callable[[], float] = time.time, check_interval_s: float = 1.0):
        self.config = config
        self.settings = config.mqtt
        self.device_id = device_id(config, keep=False)  # the daemon keeps a chosen one before this
        self.base_topic = self.settings.base_topic or f"crampwatch/{self.device_id}"
        self.discovery_info = device_info(config)  # dashboard link, Pi model, area, expiry
        self.store = store
        self.health = health
        self._state_provider = state_provider
        self._clock = clock
        self._check_s = check_interval_s
        self.actions = actions or Actions(store, clock=clock)
        self.dispatcher = CommandDispatcher({**action_handlers(self.actions), **(handlers or {})},
                                            on_refused=lambda counts: health.measure("mqtt", **counts))
        self.client: MqttClient | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._last_state: str | None = None
        self._last_state_at = 0.0
        self._provider_failing = False
        self.discovery_published = 0
        self._retained: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self.settings.host is not None

    @property
    def status_topic(self) -> str:
        return f"{self.base_topic}/status"

    @property
    def state_topic(self) -> str:
        return f"{self.base_topic}/state"

    @property
    def command_filter(self) -> str:
        """Where commands arrive: ``<base>/cmd/<name>`` (:mod:`device.mqtt.commands`)."""
        return f"{self.base_topic}/cmd/+"

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background and start delivering; returns at once."""
        if not self.enabled:
            self.health.set("mqtt", "off", "no mqtt.host configured")
            return
        s = self.settings
        password = read_password(s)
        self.store.enable_outbox()
        dropped = self.store.outbox_dropped()  # by earlier runs; health counts them all
        if dropped:
            self.health.count("mqtt", errors=dropped)
        self.prune_outbox()
        prefix = s.discovery_prefix
        self.client = MqttClient(
            s, client_id=s.client_id or f"crampwatch-{self.device_id}", status_topic=self.status_topic,
            outbox=self.store, render=lambda e: event_message(e, self.base_topic, self.device_id),
            health=self.health, password=password, on_connected=self._on_connected,
            subscriptions={self.command_filter: self._on_command, f"{prefix}/status": self._on_ha_status})
        self.store.subscribe(self._on_event)
        self.client.start()
        self._worker = threading.Thread(target=self._run, name="mqtt-state", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Publish ``offline`` and disconnect; events not yet acknowledged stay queued."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(5.0)
        if self.client is not None:
            self.client.stop()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- outgoing -----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The state JSON as it would be published now."""
        provided: dict[str, Any] = {}
        if self._state_provider is not None:
            try:
                provided = dict(self._state_provider())
                self._provider_failing = False
            except Exception:
                if not self._provider_failing:  # once per failure streak, not every second
                    log.exception("MQTT: the state provider failed; publishing what is known")
                self._provider_failing = True
        state = {key: provided.get(key) for key in STATE_KEYS}
        state.update({k: v for k, v in provided.items() if k not in STATE_KEYS})
        if state["health"] is None:
            snapshot = self.health.snapshot()
            state["health"] = {"overall": self.health.overall,
                               **{name: part["state"] for name, part in snapshot.items()}}
        return state

    def publish_state(self, *, force: bool = False) -> bool:
        """Publish the retained state if it changed (or ``force``); True if sent."""
        if self.client is None:
            return False
        # Built outside _state_lock: the provider takes the other parts' locks (the reminder
        # service's), and those parts publish (publish_retained takes _state_lock) while
        # holding them; building it under the lock deadlocked the daemon (the sensor threads
        # wait on the reminder lock when they store an event).
        text = json.dumps(self.state(), separators=(",", ":"), sort_keys=True, default=str)
        with self._state_lock:
            if not force and text == self._last_state:
                return False
            if not self.client.publish(self.state_topic, text, retain=True):
                return False
            self._last_state, self._last_state_at = text, time.monotonic()
            return True

    def publish_discovery(self) -> bool:
        """Publish the retained Home Assistant device discovery payload."""
        if self.client is None:
            return False
        topic, payload = discovery_message(self.device_id, self.base_topic, self.settings.discovery_prefix,
                                           self.discovery_info)
        sent = self.client.publish(topic, payload, retain=True)
        self.discovery_published += sent
        return sent

    def prune_outbox(self) -> int:
        """Apply the outbox bounds; dropped events are logged and counted in health."""
        s = self.settings
        dropped = self.store.outbox_prune(s.outbox_max_age_days * 86400, s.outbox_max_events)
        if dropped:
            log.warning("MQTT outbox: %d undelivered event(s) dropped (older than %g days or beyond %d); "
                        "they stay in the store", len(dropped), s.outbox_max_age_days, s.outbox_max_events)
            self.health.count("mqtt", errors=len(dropped))
        return len(dropped)

    # -- callbacks ----------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        """Store listener: the event is committed (with its outbox row); send it now."""
        if self._stop.is_set() or self.client is None:
            return
        try:
            self.client.publish_event(event)
        except Exception:  # the outbox still holds it; the next replay sends it
            log.exception("MQTT: cannot hand over event %s", event.get("id"))

    def publish_retained(self, suffix: str, payload: dict | None) -> bool:
        """Publish retained JSON at ``<base>/<suffix>`` (empty payload for None: cleared).

        The newest payload per topic is remembered and sent again on every connect, so
        a reminder raised while the broker was away still reaches it.
        """
        text = "" if payload is None else json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str)
        with self._state_lock:
            self._retained[suffix] = text
        return self.client is not None and self.client.publish(f"{self.base_topic}/{suffix}", text, retain=True)

    def _on_connected(self) -> None:
        self.publish_discovery()
        self.publish_state(force=True)
        with self._state_lock:
            retained = dict(self._retained)
        for suffix, text in retained.items():
            self.client.publish(f"{self.base_topic}/{suffix}", text, retain=True)

    def _on_command(self, topic: str, payload: bytes, retained: bool) -> None:
        name = topic[len(self.base_topic) + len("/cmd/"):]
        if retained:
            log.warning("MQTT command %.40r ignored: it was retained (publish commands without retain)", name)
            return
        self.dispatcher.dispatch(name, payload)

    def _on_ha_status(self, topic: str, payload: bytes, retained: bool) -> None:
        # The retained "online" seen at every subscribe is not a restart: discovery was
        # just published by _on_connected.
        if payload.strip() == b"online" and not retained:
            log.info("Home Assistant came online; republishing discovery")
            self.publish_discovery()
            self.publish_state(force=True)

    def _run(self) -> None:
        """State on change and every state_refresh_s; outbox bounds every hour."""
        last_prune = time.monotonic()
        while not self._stop.wait(self._check_s):
            try:
                now = time.monotonic()
                self.publish_state(force=now - self._last_state_at >= self.settings.state_refresh_s)
                if now - last_prune >= PRUNE_EVERY_S:
                    last_prune = now
                    self.prune_outbox()
            except Exception:
                log.exception("MQTT: state or outbox upkeep failed")
