"""The daemon: a list of named start steps, stopped in reverse order.

``crampwatch run`` and ``crampwatch demo`` build a :class:`Daemon`, start it, wait
for SIGTERM/SIGINT (or a duration), and stop it. Nothing here is module-level state.
"""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable

from device.config import Config
from device.health import Health
from device.runtime.logs import setup_logging
from device.storage.store import Store

log = logging.getLogger(__name__)
DEMO_HISTORY_DAYS = 30


class Daemon:
    """Everything that runs: storage, sensors, (later) MQTT, reminders, dashboard.

    >>> from device.config import Config
    >>> d = Daemon(Config.model_validate({"device": {"data_dir": ":memory:"}}), simulate=True)
    >>> [name for name, _start, _stop in d.steps]
    ['storage', 'mqtt', 'bottle', 'bed', 'reminders', 'health', 'dashboard']
    """

    def __init__(self, config: Config, *, simulate: bool = False, hardware=None):
        self.config = config
        self.simulate = simulate
        self.health = Health()
        self.stop_event = threading.Event()
        self.store: Store | None = None
        self.storage_monitor = None
        self.bottle = None
        self.bed = None
        self.bedside = None
        self.reminders = None
        self._rig = None
        self._bed_hardware = None
        self._pin_factory = None
        self.dashboard = None
        self.mqtt = None
        self.health_writer = None
        # What MQTT publishes as <base>/state.
        self.mqtt_state_provider: Callable[[], dict] | None = self.state
        # Every change a person makes, from MQTT, the dashboard or a button (made with the store).
        self.actions = None
        self.settings = None  # the file's configuration with the dashboard's overrides, read live
        self._hardware = hardware
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self.steps: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
            ("storage", self._start_storage, self._stop_storage),
            ("mqtt", self._start_mqtt, self._stop_mqtt),  # before the sensors: their events reach the outbox
            ("bottle", self._start_bottle, self._stop_bottle),
            ("bed", self._start_bed, self._stop_bed),
            ("reminders", self._start_reminders, self._stop_reminders),
            ("health", self._start_health, self._stop_health),  # health.json for `crampwatch status`
            ("dashboard", self._start_dashboard, self._stop_dashboard),  # last: it shows all the others
        ]

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        for name, start, stop in self.steps:
            log.debug("starting %s", name)
            try:
                start()
            except Exception:
                self.stop()
                raise
            self._stops.append((name, stop))
        log.info("crampwatch running (%s sensors, data in %s)",
                 "simulated" if self.simulate else "hardware", self.store.path)

    def stop(self) -> None:
        """Stop every started step in reverse order; safe to call twice."""
        self.stop_event.set()
        while self._stops:
            name, stop = self._stops.pop()
            log.debug("stopping %s", name)
            try:
                stop()
            except Exception:  # one broken step must not keep the others running
                log.exception("error while stopping %s", name)

    def wait(self, duration: float | None = None) -> None:
        deadline = None if duration is None else time.monotonic() + duration
        while not self.stop_event.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            self.stop_event.wait(1.0 if remaining is None else min(1.0, remaining))

    # -- steps --------------------------------------------------------------------
    def _start_storage(self) -> None:
        from device.storage.monitor import StorageMonitor
        from device.storage.opening import open_checked

        from device.identity import database_exists, with_device_id

        data_dir = self.config.device.data_dir
        earlier_database = database_exists(self.config)
        # A database that fails its check stops the start (StorageCorrupt, exit status 2)
        # after a copy was kept: see device.storage.opening. The check is the file's setting:
        # dashboard overrides live in the database it checks.
        self.store = open_checked(data_dir if data_dir == ":memory:" else self.config.data_path,
                                  self.config.storage.integrity_check, self.health)
        self.health.set("storage", "ok", self.store.path)
        from device.actions import Actions

        # The parts are looked up when an action runs: a command that arrives before the
        # reminders or the bottle started (or while they are off) is refused, never lost.
        self.actions = Actions(self.store, reminders=lambda: self.reminders, bottle=lambda: self.bottle,
                               config=lambda: self.settings.effective())
        # Without a configured device.id: the one chosen for this machine and data directory,
        # kept beside the database from the first start on (device.identity). Set before
        # the settings service: every config it gives out carries it.
        self.config = with_device_id(self.config, earlier_database=earlier_database)
        # Settings saved on the dashboard override the file for every part started
        # after this (an override that no longer validates is ignored, with a warning).
        from device.settings import SettingsService

        self.settings = SettingsService(self.config, self.store)
        self.config = self.settings.effective()
        cfg = self.config.storage
        self.storage_monitor = StorageMonitor(
            self.store, self.health, min_free_mb=cfg.min_free_mb, retention_days=cfg.epoch_retention_days,
            unwritten=lambda: sum(len(p) for p in self._pending()), retry=self._retry_pending)
        self.storage_monitor.start()

    def _pending(self) -> list:
        """Every holder of events the store refused (device.storage.pending_events)."""
        return [part.pending for part in (self.bottle, self.bed, self.actions) if part is not None]

    def _retry_pending(self) -> None:
        self.actions.retry()  # a person's entries (the bedside button...); the sensor threads retry on their own

    def _stop_storage(self) -> None:
        if self.storage_monitor is not None:
            self.storage_monitor.stop()
        if self.actions is not None:
            self.actions.close()  # a last try for entries the database refused
        self.store.close()

    def _start_mqtt(self) -> None:
        from device.mqtt.service import MqttService

        # Off (health "off") without mqtt.host; with a broker that is down it starts anyway.
        self.mqtt = MqttService(self.config, self.store, self.health,
                                state_provider=self.mqtt_state_provider, actions=self.actions)
        self.mqtt.start()

    def _stop_mqtt(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()

    def _start_bottle(self) -> None:
        if not self.config.bottle.enabled:
            self.health.set("bottle", "off", "disabled in the configuration")
            return
        from device.workers.bottle_worker import BottleWorker
        from device.workers.calibration import load_calibration
        from sensors.bottle_detector import BottleDetector, BottleParams

        hardware = self._hardware or self.rig().bottle()
        self._hardware = hardware
        calibration = load_calibration(self.store, hardware.default_calibration)
        detector = BottleDetector(density_g_per_ml=self.config.bottle.density_g_per_ml,
                                  params=BottleParams(tare_g=calibration.empty_bottle_g))
        self.bottle = BottleWorker(
            hardware.open_driver, detector,
            self.store, self.health, calibration=calibration, rate_hz=self.config.bottle.rate_hz)
        self.bottle.start()

    def _stop_bottle(self) -> None:
        if self.bottle is not None:
            self.bottle.stop()
        if self._hardware is not None:
            self._hardware.close()

    def state(self) -> dict:
        """The current state (MQTT's retained state, the dashboard's live view)."""
        from device.mqtt.state import daemon_state

        return daemon_state(self)

    def rig(self):
        """Where the hardware comes from: this Pi's, or the simulator's (:func:`device.hardware.rigs.rig`)."""
        if self._rig is None:
            from device.hardware.rigs import rig

            self._rig = rig(self.config, simulate=self.simulate)
        return self._rig

    def pin_factory(self):
        """One gpiozero pin factory for the buttons and outputs (a MockFactory when simulated)."""
        if self._pin_factory is None:
            self._pin_factory = self.rig().pin_factory()
        return self._pin_factory

    def _start_bed(self) -> None:
        if not self.config.bed.enabled:
            self.health.set("bed", "off", "disabled in the configuration")
        else:
            from device.workers.bed_worker import BedWorker
            from sensors.night_analysis import NightAnalyzer

            cfg = self.config.bed
            button = self.simulate and cfg.button_pin is not None  # the simulated sleeper presses it
            self._bed_hardware = self.rig().bed(pin_factory=self.pin_factory() if button else None)
            analyzer = NightAnalyzer(cfg.rate_hz, epoch_s=cfg.epoch_s, params=self._bed_hardware.analyzer_params)
            self.bed = BedWorker(self._bed_hardware.open_driver, analyzer,
                                 self.store, self.health, rate_hz=cfg.rate_hz,
                                 epoch_flush_s=self.config.storage.epoch_flush_s)
            self.bed.start()
        if self.config.bed.button_pin is not None:
            from device.hardware.bedside import BedsideButton

            try:
                self.bedside = BedsideButton(self.config.bed.button_pin, self.actions, pin_factory=self.pin_factory())
            except Exception as exc:  # no GPIO: cramps can still be logged on the dashboard and MQTT
                log.warning("bedside button unavailable: %s", exc)
                self.health.set("bedside_button", "failed", f"{type(exc).__name__}: {exc}")

    def _stop_bed(self) -> None:
        if self.bedside is not None:
            self.bedside.close()
        if self.bed is not None:
            self.bed.stop()
        if self._bed_hardware is not None:
            self._bed_hardware.close()

    def _start_reminders(self) -> None:
        import vocabulary.reminder_events  # noqa: F401  (registers reminder event types)
        from scheduler.service import ReminderService

        publish = None
        if self.mqtt is not None and self.mqtt.enabled:
            publish = self.mqtt.publish_retained
        outputs = self.config.outputs
        wants_pins = any(p is not None for p in (outputs.led_pin, outputs.buzzer_pin, outputs.button_pin))
        self.reminders = ReminderService(
            self.config, self.store, self.health, publish=publish, settings=self.settings.effective,
            pin_factory=self.pin_factory() if wants_pins else None,
            bottle_present=lambda: self.bottle.detector.state.present if self.bottle is not None else None,
            on_press=lambda: self._button(self.actions.ack),
            on_hold=lambda: self._button(lambda source: self.actions.snooze(
                self.reminders.config.outputs.snooze_min, source=source)))  # the setting now, not at start
        self.store.subscribe(self.reminders.on_event)
        self.reminders.start()

    @staticmethod
    def _button(action) -> None:
        """A press of the bottle-side button: the same action as MQTT and the dashboard.
        Nothing may raise into gpiozero's callback thread; a refusal is one log line."""
        from device.actions import ActionRefused

        try:
            action(source="button")
        except ActionRefused as exc:
            log.info("button press ignored: %s", exc)
        except Exception:
            log.exception("button press failed")

    def _stop_reminders(self) -> None:
        if self.reminders is not None:
            self.reminders.stop()

    def _start_health(self) -> None:
        from device.runtime.health_file import HealthWriter, daemon_health_path, daemon_snapshot, health_path

        path = None
        if self.config.device.data_dir != ":memory:":
            path = daemon_health_path(self.config.data_path)
            beside = health_path(self.config.data_path)
            if path != beside:  # a snapshot left beside the database by a run by hand is stale now
                beside.unlink(missing_ok=True)
        self.health_writer = HealthWriter(path, lambda: daemon_snapshot(self))
        self.health_writer.start()

    def _stop_health(self) -> None:
        if self.health_writer is not None:
            self.health_writer.stop()

    def health_loop_alive(self) -> bool:
        """The systemd watchdog pings only while this is true."""
        return self.health_writer is not None and self.health_writer.alive()

    def _start_dashboard(self) -> None:
        from dashboard.server import for_daemon

        # Refuses (ConfigError) a non-loopback host without a password; a taken port is
        # reported in health and the daemon keeps recording.
        self.dashboard = for_daemon(self)

    def _stop_dashboard(self) -> None:
        if self.dashboard is not None:
            self.dashboard.stop()


def run_daemon(config: Config, *, simulate: bool = False, duration: float | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``duration`` seconds); return the exit status."""
    from device.runtime.sdnotify import Notifier, Watchdog

    setup_logging(config.logging.level)
    if not simulate:  # a machine with no GPIO at all is a configuration error, not a retry
        from device.hardware.pins import check_gpio_present

        check_gpio_present(config)
    daemon = Daemon(config, simulate=simulate)
    notifier = Notifier()  # systemd Type=notify; does nothing without $NOTIFY_SOCKET
    watchdog = Watchdog(notifier, daemon.health_loop_alive, status=lambda: f"health: {daemon.health.overall}")
    stop = lambda signum, frame: daemon.stop_event.set()  # noqa: E731
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.start()
        notifier.ready(f"running; health: {daemon.health.overall}")
        watchdog.start()
        daemon.wait(duration)
    finally:
        notifier.stopping()
        watchdog.stop()
        daemon.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("crampwatch stopped")
    return 0


def run_demo(config: Config, *, duration: float | None = None) -> int:
    """The daemon on simulated sensors with a throwaway data directory."""
    with tempfile.TemporaryDirectory(prefix="crampwatch-demo-") as tmp:
        config = config.model_copy(update={"device": config.device.model_copy(update={"data_dir": tmp})})
        print(f"crampwatch demo: simulated bottle, data in {tmp} (deleted on exit); Ctrl-C to stop", flush=True)
        from simulator.history import seed_history

        with Store(config.data_path) as store:
            seeded = seed_history(store, DEMO_HISTORY_DAYS, end=time.time(), tz=config.tz, seed=config.simulator.seed,
                                  epochs=True)  # the past nights' movement too, for the Nights page
        print(f"crampwatch demo: {seeded['days']} days of simulated history ({seeded['events']} events)", flush=True)
        if config.dashboard.enabled:
            host = config.dashboard.host
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
            print(f"crampwatch demo: dashboard at http://{host}:{config.dashboard.port}/", flush=True)
        return run_daemon(config, simulate=True, duration=duration)
