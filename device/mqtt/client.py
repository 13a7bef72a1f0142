"""The MQTT connection: paho-mqtt 2.x behind a small, failure-proof wrapper.

- Connects asynchronously and reconnects forever (backoff doubling from 1 s up to
  ``reconnect_max_s``), so the daemon starts and runs with the broker down.
- Last will: retained ``offline`` on the status topic; retained ``online`` after every
  connect; ``offline`` published on a clean stop.
- Subscriptions are (re)made in the connect callback, so they survive reconnects.
- MQTT 3.1.1, QoS 1, no topic aliases (they do not exist in 3.1.1; paho issue 893).
- Events come from the store's durable outbox: each is handed to paho once per process
  (paho keeps it across reconnects and resends it), rows not yet handed over are
  replayed at start and after every reconnect, and a row is deleted only when the
  broker's PUBACK for its message id arrives. Delivery is at least once.
- Retained state, status and discovery are published only while connected; they are
  republished on every connect, so nothing stale piles up during an outage.

No exception from a callback reaches paho's network thread.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from device.config import MqttSection
from vocabulary.errors import ConfigError

log = logging.getLogger(__name__)

QOS = 1
PASSWORD_ENV = "CRAMPWATCH_MQTT_PASSWORD"

Render = Callable[[dict[str, Any]], tuple[str, bytes]]
MessageHandler = Callable[[str, bytes, bool], None]  # (topic, payload, retained)


def read_password(settings: MqttSection, environ: dict[str, str] | None = None) -> str | None:
    """The broker password: the first line of ``password_file``, else $CRAMPWATCH_MQTT_PASSWORD."""
    import os

    environ = os.environ if environ is None else environ
    if settings.password_file:
        try:
            with open(settings.password_file, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"mqtt.password_file: cannot read {settings.password_file}: {exc}",
                              [f"mqtt.password_file: cannot read {settings.password_file}: {exc}"]) from None
    return environ.get(PASSWORD_ENV) or None


def close_sockets(client: paho.Client) -> None:
    """Close a stopped paho client's sockets now.

    paho closes its wake-up socket pair only in ``__del__``; our callbacks make the client
    part of a reference cycle, so that would wait for the garbage collector (and warn).
    """
    reset = getattr(client, "_reset_sockets", None)  # paho 2.x; absent: leave it to __del__
    if reset is not None:
        reset()


class MqttClient:
    """One broker connection with a will, resubscription and outbox delivery.

    ``outbox`` is a :class:`~device.storage.store.Store` (or None for no events);
    ``render(event)`` gives the ``(topic, payload)`` of a stored event;
    ``subscriptions`` maps topic filters to ``handler(topic, payload, retained)``;
    ``on_connected()`` runs after each successful connect (discovery, state).

    >>> from device.config import MqttSection
    >>> c = MqttClient(MqttSection(host="127.0.0.1"), client_id="doc", status_topic="doc/status")
    >>> c.connected
    False
    """

    def __init__(self, settings: MqttSection, *, client_id: str, status_topic: str,
                 outbox=None, render: Render | None = None, health=None, health_name: str = "mqtt",
                 subscriptions: dict[str, MessageHandler] | None = None,
                 on_connected: Callable[[], None] | None = None, password: str | None = None):
        self.settings = settings
        self.status_topic = status_topic
        self._outbox = outbox
        self._render = render
        self._health = health
        self._health_name = health_name
        self._subscriptions = dict(subscriptions or {})
        self._on_connected = on_connected
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # the broker acknowledged our subscriptions
        self._stopping = False
        self._lock = threading.Lock()
        self._mids: dict[int, str | None] = {}  # message id -> event id (None: not an event)
        self._early: set[int] = set()  # PUBACKs that beat publish() returning
        self._handed: set[str] = set()  # events paho holds (sent or queued), until their row is deleted
        self._acks: queue.Queue[str | None] = queue.Queue()
        self._flusher: threading.Thread | None = None
        self.delivered = 0
        self.connects = 0
        self._refused: str | None = None  # why the broker refused the last connect

        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                             protocol=paho.MQTTv311, reconnect_on_failure=True)
        client.will_set(status_topic, "offline", qos=QOS, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=settings.reconnect_max_s)
        client.max_queued_messages_set(0)  # unbounded: the outbox bounds what we hand over
        if settings.username:
            client.username_pw_set(settings.username, password)
        if settings.tls:
            try:
                client.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file)
            except (OSError, ssl.SSLError) as exc:  # a missing or unreadable file is a configuration error
                problem = f"mqtt.tls: cannot load the CA or client certificate: {exc}"
                raise ConfigError(problem, [problem]) from None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = lambda *args: self._subscribed.set()
        self._client = client

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background; events already in the outbox are queued."""
        self._set_health("starting", f"connecting to {self._where}")
        self._flusher = threading.Thread(target=self._flush_acks, name="mqtt-acks", daemon=True)
        self._flusher.start()
        self.replay()  # paho holds them until the first connect
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive)
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline``, disconnect cleanly and stop the threads; safe to call twice."""
        if self._stopping:
            return
        self._stopping = True
        try:
            if self._connected.is_set():
                info = self._client.publish(self.status_topic, "offline", qos=QOS, retain=True)
                self._track(info.mid, None)
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    pass
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            close_sockets(self._client)
            self._connected.clear()
            self._acks.put(None)
            if self._flusher is not None:
                self._flusher.join(timeout)
            self._set_health("off", "stopped")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float | None = None) -> bool:
        """Wait until commands can arrive (the broker acknowledged the subscriptions)."""
        return self._subscribed.wait(timeout)

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # -- publishing ---------------------------------------------------------------
    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> bool:
        """Publish at QoS 1 if connected (state, status, discovery); False if not sent."""
        if not self._connected.is_set() or self._stopping:
            return False
        info = self._client.publish(topic, payload, qos=QOS, retain=retain)
        self._track(info.mid, None)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def publish_event(self, event: dict[str, Any]) -> bool:
        """Hand one stored event to paho unless it already holds it; True if handed now."""
        if self._render is None or self._stopping:
            return False
        with self._lock:
            if event["id"] in self._handed:
                return False
            self._handed.add(event["id"])
        try:
            topic, payload = self._render(event)
            info = self._client.publish(topic, payload, qos=QOS, retain=False)
        except Exception:
            with self._lock:
                self._handed.discard(event["id"])
            log.exception("cannot publish event %s", event.get("id"))
            return False
        self._track(info.mid, event["id"])
        return True

    def replay(self) -> int:
        """Hand over every outbox event paho does not hold yet (at start, after reconnects)."""
        if self._outbox is None or self._render is None:
            return 0
        with self._lock:
            held = set(self._handed)
        count = 0
        for event in self._outbox.outbox_pending(exclude=held):
            count += self.publish_event(event)
        if count:
            log.info("MQTT: %d queued event(s) handed over for delivery", count)
        return count

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._handed)

    def _track(self, mid: int, event_id: str | None) -> None:
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                acked = True
            else:
                self._mids[mid] = event_id
                acked = False
        if acked and event_id is not None:
            self._acks.put(event_id)

    # -- paho callbacks (network thread; never raise) --------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:  # unlike Frigate: a refused connect is not a connection
                if self._refused != str(reason_code):
                    log.warning("MQTT broker %s refused the connection: %s (retrying)", self._where, reason_code)
                self._refused = str(reason_code)
                self._set_health("degraded", f"broker {self._where} refused the connection: {reason_code}; "
                                             f"retrying ({self._waiting()})")
                return
            self._refused = None
            self.connects += 1
            self._connected.set()
            info = client.publish(self.status_topic, "online", qos=QOS, retain=True)
            self._track(info.mid, None)
            if self._subscriptions:
                client.subscribe([(topic, QOS) for topic in self._subscriptions])
            self.replay()
            log.info("MQTT connected to %s (%d event(s) waiting)", self._where, self.in_flight)
            self._set_health("ok", f"connected to {self._where}")
            if self._on_connected is not None:
                self._on_connected()
        except Exception:
            log.exception("MQTT: error in the connect handler")

    def _on_connect_fail(self, client, userdata) -> None:
        self._set_health("degraded", f"cannot reach broker {self._where}; retrying ({self._waiting()})")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            self._connected.clear()
            self._subscribed.clear()
            self._forget_unsent_retained()
            if not self._stopping and self._refused is None:
                log.warning("MQTT disconnected from %s (%s); reconnecting", self._where, reason_code)
                self._set_health("degraded", f"disconnected from {self._where}; reconnecting ({self._waiting()})")
        except Exception:
            log.exception("MQTT: error in the disconnect handler")

    def _forget_unsent_retained(self) -> None:
        """Drop paho's copies of unacknowledged status/state/discovery messages.

        paho resends every unacknowledged QoS 1 message after a reconnect, *after* the
        connect callback has published fresh ones, so a stale retained state would win.
        They are republished on connect anyway. Events are never dropped here.
        """
        with self._lock:
            stale = [mid for mid, event_id in self._mids.items() if event_id is None]
            for mid in stale:
                del self._mids[mid]
        messages = getattr(self._client, "_out_messages", None)
        mutex = getattr(self._client, "_out_message_mutex", None)
        if messages is None or mutex is None or not stale:  # a future paho: leave it be
            return
        with mutex:
            for mid in stale:
                messages.pop(mid, None)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        try:
            with self._lock:
                if mid not in self._mids:
                    self._early.add(mid)
                    return
                event_id = self._mids.pop(mid)
            if event_id is not None:
                if reason_code.is_failure:  # MQTT 5 only; keep it queued for the next replay
                    with self._lock:
                        self._handed.discard(event_id)
                    return
                self._acks.put(event_id)
        except Exception:
            log.exception("MQTT: error in the publish handler")

    def _on_message(self, client, userdata, message) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            log.warning("MQTT message with an invalid UTF-8 topic ignored")
            return
        try:
            for pattern, handler in self._subscriptions.items():
                if paho.topic_matches_sub(pattern, topic):
                    handler(topic, bytes(message.payload), bool(message.retain))
        except Exception:  # a bad message must never stop the network thread
            log.exception("MQTT: error handling a message on %.200s", topic)

    # -- outbox acknowledgements ----------------------------------------------------
    def _flush_acks(self) -> None:
        """Delete acknowledged events from the outbox in batches (off the network thread)."""
        done = False
        while not done:
            item = self._acks.get()
            batch = []
            while True:
                if item is None:
                    done = True
                else:
                    batch.append(item)
                try:
                    item = self._acks.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            try:
                if self._outbox is not None:
                    self._outbox.outbox_delete(batch)
            except Exception:  # the rows stay; they are sent again (at least once)
                log.exception("MQTT: cannot remove %d delivered event(s) from the outbox", len(batch))
            with self._lock:
                self._handed.difference_update(batch)
                self.delivered += len(batch)

    def _waiting(self) -> str:
        try:
            count = self._outbox.outbox_count() if self._outbox is not None else self.in_flight
        except Exception:  # a closed store while stopping
            count = self.in_flight
        return f"{count} event(s) waiting"

    def _set_health(self, state: str, detail: str) -> None:
        if self._health is not None:
            self._health.set(self._health_name, state, detail)
