"""The configuration: one TOML file, declared once here, strictly validated.

Every setting has a default, so no file is needed to run the simulator. Unknown keys
are rejected and each problem names its key path, the file and line, and what is
allowed. The README's configuration reference is generated from these models
(``crampwatch check-config --reference``), so the documentation cannot drift.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vocabulary.errors import ConfigError

GPIO_PIN = Annotated[int, Field(ge=0, le=27)]


class Section(BaseModel):
    """A strict config section: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def default_data_dir() -> str:
    """Where state lives when none is configured: systemd's StateDirectory, else XDG."""
    if os.environ.get("STATE_DIRECTORY"):
        return os.environ["STATE_DIRECTORY"].split(":")[0]
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "crampwatch")


DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class DeviceSection(Section):
    id: str | None = Field(None, pattern=DEVICE_ID_PATTERN,
                           description="Device id used in MQTT topics, the MQTT client id and discovery ids ([A-Za-z0-9_-]); "
                                       "unset: chosen once from this machine (host name, /etc/machine-id) and the data "
                                       "directory, and kept in the file 'device-id' there.")
    data_dir: str = Field(default_factory=default_data_dir,
                          description="Directory for the SQLite database (created if missing).")
    timezone: str = Field("localtime",
                          description="IANA time zone for days, nights and bedtime, or 'localtime' for the system's.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value != "localtime":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'localtime'") from None
        return value


VIRTUAL_FILESYSTEMS = ("/proc", "/sys", "/dev")


def data_dir_problem(value: str) -> str | None:
    """Why ``device.data_dir`` cannot hold the database, or None when it can (or may:
    a directory still to be created under a writable one). Creates nothing.

    >>> data_dir_problem(":memory:") is None
    True
    >>> print(data_dir_problem("/proc/crampwatch"))
    /proc/crampwatch is on a virtual filesystem (/proc), which cannot hold a database
    """
    if value == ":memory:":
        return None
    path = os.path.abspath(os.path.expanduser(value))
    for root in VIRTUAL_FILESYSTEMS:
        if path == root or path.startswith(root + "/"):
            return f"{path} is on a virtual filesystem ({root}), which cannot hold a database"
    if os.path.isfile(path):
        if path.endswith((".sqlite3", ".db")):  # data_dir may name the database file itself
            return None if os.access(path, os.R_OK | os.W_OK) else f"{path} is not writable"
        return f"{path} is a file, not a directory"
    if os.path.isdir(path):
        return None if os.access(path, os.W_OK | os.X_OK) else f"{path} is not writable"
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{path} cannot be created: {parent} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path} cannot be created: {parent} is not writable"
    return None


def check_data_dir(config: "Config") -> None:
    """Raise ConfigError naming ``device.data_dir`` when it cannot hold the database."""
    problem = data_dir_problem(config.device.data_dir)
    if problem is not None:
        raise ConfigError(f"device.data_dir: {problem}", [f"device.data_dir: {problem}"],
                          details=[_detail(problem, key="device.data_dir")])


class BottleSection(Section):
    enabled: bool = Field(True, description="Read the bottle scale at all.")
    dout_pin: GPIO_PIN = Field(5, description="BCM GPIO number wired to the HX711 DOUT.")
    pd_sck_pin: GPIO_PIN = Field(6, description="BCM GPIO number wired to the HX711 PD_SCK.")
    gain: Literal[128, 64, 32] = Field(128, description="HX711 channel and gain: 128 or 64 (channel A), 32 (channel B).")
    rate_hz: Literal[10, 80] = Field(10, description="HX711 output rate as strapped by its RATE pin (10 or 80 SPS).")
    density_g_per_ml: float = Field(1.0, gt=0.5, lt=2.0,
                                    description="Density of what is in the bottle; 1.0 means 1 g = 1 mL.")

    @model_validator(mode="after")
    def _distinct_pins(self):
        if self.dout_pin == self.pd_sck_pin:
            raise ValueError("dout_pin and pd_sck_pin must be different GPIOs")
        return self


_TOPIC = r"^[^+#/\x00]([^+#\x00]*[^+#/\x00])?$"  # no wildcards, no leading or trailing slash


class BedSection(Section):
    enabled: bool = Field(True, description="Read the bed-frame accelerometer at all.")
    chip: Literal["adxl345", "mpu6050"] = Field("adxl345", description="Accelerometer on the bed frame.")
    i2c_bus: int = Field(1, ge=0, le=30, description="I2C bus number (/dev/i2c-N); 1 on a Raspberry Pi.")
    address: int | None = Field(None, ge=0x03, le=0x77,
                                description="I2C address; unset means the chip's default (0x53 ADXL345, 0x68 MPU-6050).")
    rate_hz: Literal[25, 50, 100] = Field(50, description="Accelerometer output rate in Hz.")
    range_g: Literal[2, 4, 8] = Field(2, description="Accelerometer range in g.")
    button_pin: GPIO_PIN | None = Field(17, description="BCM GPIO of the bedside 'I had a cramp' button (to GND); unset if none.")
    epoch_s: Literal[10, 15, 20, 30, 60] = Field(30, description="Length of the activity epochs stored for each night.")


class MqttSection(Section):
    host: str | None = Field(None, min_length=1, description="Broker host; MQTT is off when unset.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is the usual one for TLS).")
    base_topic: str | None = Field(None, pattern=_TOPIC, max_length=200,
                                   description="Topic prefix for status, state, events and commands; unset means 'crampwatch/<device id>'.")
    discovery_prefix: str = Field("homeassistant", pattern=_TOPIC, max_length=200,
                                  description="Home Assistant discovery prefix; its '<prefix>/status' topic is watched for restarts.")
    username: str | None = Field(None, min_length=1, description="Broker user name; unset connects anonymously.")
    password_file: str | None = Field(None, min_length=1,
                                      description="File whose first line is the broker password; unset uses $CRAMPWATCH_MQTT_PASSWORD if set.")
    tls: bool = Field(False, description="Connect with TLS (the server certificate is verified).")
    ca_file: str | None = Field(None, min_length=1, description="CA certificate file for TLS; unset uses the system's CAs.")
    cert_file: str | None = Field(None, min_length=1, description="Client certificate file for TLS client authentication.")
    key_file: str | None = Field(None, min_length=1, description="Private key of the client certificate.")
    keepalive: int = Field(60, ge=5, le=3600, description="Seconds between keep-alive pings; the broker declares us offline after 1.5 times this.")
    client_id: str | None = Field(None, min_length=1, max_length=128,
                                  description="MQTT client id; unset means 'crampwatch-<device id>'.")
    reconnect_max_s: float = Field(10.0, ge=1, le=300,
                                   description="Longest wait between reconnect attempts (the wait doubles from 1 s up to this).")
    outbox_max_age_days: float = Field(30.0, gt=0, le=3650,
                                       description="Events not delivered after this long are dropped from the outbox (and counted in health).")
    outbox_max_events: int = Field(10000, ge=10, le=10_000_000,
                                   description="Most undelivered events kept in the outbox; the oldest beyond this are dropped (and counted).")
    state_refresh_s: float = Field(60.0, ge=5, le=86400,
                                   description="The retained state is published on every change and at least this often; "
                                               "Home Assistant shows its sensors unavailable after 3 times this without one "
                                               "(expire_after: a bridged broker may keep a stale 'online').")
    suggested_area: str | None = Field(None, min_length=1, max_length=100,
                                       description="Home Assistant area suggested for the device when it is first discovered, e.g. 'Bedroom'.")

    @model_validator(mode="after")
    def _tls_files_need_tls(self):
        files = [name for name in ("ca_file", "cert_file", "key_file") if getattr(self, name) is not None]
        if files and not self.tls:
            raise ValueError(f"{', '.join(files)} set but tls is false; set tls = true")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together; set both or neither")
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file needs a username")
        return self


class DashboardSection(Section):
    enabled: bool = Field(True, description="Serve the local web dashboard.")
    host: str = Field("127.0.0.1", min_length=1,
                      description="Address the dashboard binds to; anything but loopback needs a password (crampwatch set-password).")
    port: int = Field(8080, ge=1, le=65535, description="Dashboard TCP port.")
    password_file: str | None = Field(None, min_length=1,
                                      description="File holding the salted hash of the dashboard password (written by crampwatch set-password); unset means 'dashboard-password' in device.data_dir.")
    public_url: str | None = Field(None, max_length=500,
                                   description="The http(s) address people open the dashboard at (e.g. its TLS reverse proxy); Home Assistant's "
                                               "device page links to it. Unset: the bound address, when that is beyond loopback.")
    embed_origins: list[str] = Field(default_factory=list, max_length=10,
                                     description="Web origins ('scheme://host[:port]', http or https, no wildcards) that may show the "
                                                 "dashboard in a frame, e.g. Home Assistant's 'http://homeassistant.local:8123' for an "
                                                 "iframe panel; empty: no page may frame it.")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else web_url(value, origin_only=False)

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(web_url(v, origin_only=True) for v in value))


def web_url(value: str, *, origin_only: bool) -> str:
    """An http(s) URL with a host and no user name, wildcard, query or fragment; with
    ``origin_only`` just ``scheme://host[:port]`` (lower case), as a CSP source names a site.

    >>> web_url("HTTPS://HA.example.org:8123/", origin_only=True)
    'https://ha.example.org:8123'
    >>> web_url("https://*.example.org", origin_only=True)
    Traceback (most recent call last):
    ...
    ValueError: 'https://*.example.org': no wildcards; name each origin
    """
    from urllib.parse import urlsplit

    text = value.strip()
    if "*" in text:
        raise ValueError(f"{value!r}: no wildcards; name each origin")
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r}: not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"{value!r}: needs http:// or https:// and a host name or address")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment \
            or any(c.isspace() or c in "'\";," for c in text):
        raise ValueError(f"{value!r}: no user name, query, fragment, spaces, quotes or commas")
    if not origin_only:
        return text
    if parts.path not in ("", "/"):
        raise ValueError(f"{value!r}: an origin has no path (scheme://host[:port])")
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}{'' if port is None else f':{port}'}"


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")


class SimulatorSection(Section):
    drink_interval_s: float = Field(60.0, ge=5, le=3600,
                                    description="In simulate mode the person drinks or refills at least this often.")
    seed: int = Field(1, description="Seed of the simulated scenario.")
    night_minutes: float = Field(
        12.0, ge=10, le=60,
        description="Length of a simulated (demo) night in minutes: in bed, asleep, a cramp and as many more "
                    "wake-ups as fit, up again, the bed empty until the next night. The night analysis uses "
                    "parameters made for such compressed nights; real nights keep theirs.")


class StorageSection(Section):
    epoch_flush_s: float = Field(
        300.0, ge=0, le=3600,
        description="Bed activity epochs are kept in memory this long and then written in one commit (fewer SD card writes); "
                    "a power cut loses at most this much epoch history, never an event. 0 writes each epoch at once.")
    epoch_retention_days: int = Field(
        400, ge=0, le=36500,
        description="Bed activity epochs older than this many days are deleted (daily, in small batches); 0 keeps them for ever. "
                    "Events (drinks, cramps, nights) are never deleted.")
    integrity_check: Literal["quick", "full", "off"] = Field(
        "quick", description="Database check at start: 'quick' (PRAGMA quick_check), 'full' (PRAGMA integrity_check, slower) or 'off'. "
                             "A damaged database stops the start (exit status 2) after a copy is kept; only the file's value counts.")
    min_free_mb: float = Field(
        50.0, ge=0, le=1_000_000,
        description="Storage health turns 'degraded' when the data directory's file system has less than this many MB free.")


_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_QUIET_SPAN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"


def clock_minutes(hhmm: str) -> int:
    """Minutes after midnight of an ``HH:MM`` setting."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class HydrationSection(Section):
    enabled: bool = Field(True, description="Send hydration reminders at all.")
    goal_ml: int = Field(2000, ge=250, le=10000,
                         description="Daily drinking goal in mL (the MQTT/dashboard 'goal' command overrides it).")
    wake_time: str = Field("07:00", pattern=_CLOCK_TIME,
                           description="Usual time of getting up, local 'HH:MM': reminders start and last night's summary is published then.")
    bedtime: str = Field("23:00", pattern=_CLOCK_TIME,
                         description="Usual bedtime, local 'HH:MM' (after midnight is allowed, e.g. '00:30').")
    cutoff_h: float = Field(2.0, ge=0, le=6,
                            description="No hydration reminders in the last hours before bedtime (spares the night bathroom trips).")
    behind_ml: int = Field(300, ge=50, le=2000,
                           description="Remind when intake is this many mL behind the expected pace (and idle_min has passed).")
    idle_min: int = Field(60, ge=10, le=480,
                          description="Remind only when nothing was drunk, and no reminder ended, for this many minutes.")
    front_load: float = Field(0.3, ge=0, le=1,
                              description="Shape of the expected pace: 0 is even through the day; 0.3 expects 1.3x the average rate after waking, 0.7x at the cutoff.")
    quiet_hours: list[Annotated[str, Field(pattern=_QUIET_SPAN)]] = Field(
        default_factory=list,
        description="Local 'HH:MM-HH:MM' spans (may wrap midnight) with no hydration reminders and no buzzer.")
    away_limit_min: int = Field(30, ge=5, le=720,
                                description="No hydration reminders once the bottle has been off the scale this long (the person is out).")

    @model_validator(mode="after")
    def _window_makes_sense(self):
        wake, bed = clock_minutes(self.wake_time), clock_minutes(self.bedtime)
        if bed <= wake:
            bed += 24 * 60
        if bed - self.cutoff_h * 60 - wake < 60:
            raise ValueError(f"wake_time {self.wake_time} to bedtime {self.bedtime} less cutoff_h {self.cutoff_h:g} "
                             "leaves less than an hour for drinking")
        return self


class StretchSection(Section):
    enabled: bool = Field(True, description="Prompt a stretching routine before bed.")
    lead_min: int = Field(30, ge=0, le=180, description="Prompt this many minutes before hydration.bedtime.")
    exercises: list[Literal["calf", "hamstring", "foot"]] = Field(
        default_factory=lambda: ["calf", "hamstring", "foot"], min_length=1,
        description="The routine, in order: any of calf, hamstring, foot.")
    hold_s: int = Field(30, ge=5, le=120, description="Hold each stretch this many seconds.")
    repeats: int = Field(3, ge=1, le=10, description="Repeat each stretch this many times (each side).")


class InsightsSection(Section):
    min_nights: int = Field(28, ge=7, le=365,
                            description="Compare groups of nights only once this many recorded nights are stored (before that: 'not enough nights yet').")
    min_group_nights: int = Field(5, ge=2, le=100,
                                  description="Each group of a comparison (goal met or not, stretched or not) needs at least this many nights.")
    quartile_min_nights: int = Field(60, ge=20, le=3650,
                                     description="Compare intake quartiles only from this many nights with a measured intake.")
    late_intake_h: float = Field(3.0, ge=0.5, le=8,
                                 description="The insights table shows what was drunk in this many hours before bedtime.")
    doctor_nights: int = Field(3, ge=1, le=31,
                               description="Cramp nights within the last doctor_window nights that raise the 'see a doctor' note.")
    doctor_window: int = Field(7, ge=1, le=31, description="How many recent nights the doctor note looks at.")
    alpha: float = Field(0.05, gt=0, lt=0.5,
                         description="A difference between groups is reported when the exact test's p-value is below this.")

    @model_validator(mode="after")
    def _flag_fits_window(self):
        if self.doctor_nights > self.doctor_window:
            raise ValueError(f"doctor_nights ({self.doctor_nights}) cannot exceed doctor_window ({self.doctor_window})")
        return self


class OutputsSection(Section):
    led_pin: GPIO_PIN | None = Field(None, description="BCM GPIO of the reminder LED (PWM glow); unset means no LED.")
    buzzer_pin: GPIO_PIN | None = Field(None, description="BCM GPIO of the active buzzer; unset means no buzzer.")
    button_pin: GPIO_PIN | None = Field(
        None, description="BCM GPIO of the bottle-side button to ground (press = acknowledge, hold = snooze); unset means none.")
    hold_s: float = Field(1.5, ge=0.5, le=10, description="Holding the button this many seconds snoozes instead of acknowledging.")
    snooze_min: int = Field(15, ge=1, le=720, description="A button hold snoozes the reminder for this many minutes.")
    escalate_after_min: int = Field(10, ge=1, le=240,
                                    description="Sound a short buzzer pattern when a reminder is still unanswered after this many minutes.")

    @model_validator(mode="after")
    def _distinct_pins(self):
        pins = [p for p in (self.led_pin, self.buzzer_pin, self.button_pin) if p is not None]
        if len(pins) != len(set(pins)):
            raise ValueError("led_pin, buzzer_pin and button_pin must be different GPIOs")
        return self


class Config(Section):
    device: DeviceSection = Field(default_factory=DeviceSection, description="This device.")
    bottle: BottleSection = Field(default_factory=BottleSection, description="The HX711 bottle scale.")
    bed: BedSection = Field(default_factory=BedSection, description="The bed-frame accelerometer and the bedside button.")
    mqtt: MqttSection = Field(default_factory=MqttSection, description="MQTT and Home Assistant.")
    dashboard: DashboardSection = Field(default_factory=DashboardSection, description="The local web dashboard.")
    logging: LoggingSection = Field(default_factory=LoggingSection, description="Logging.")
    simulator: SimulatorSection = Field(default_factory=SimulatorSection, description="Simulated sensors.")
    hydration: HydrationSection = Field(default_factory=HydrationSection, description="Hydration reminders and the day's rhythm.")
    stretch: StretchSection = Field(default_factory=StretchSection, description="The pre-bed stretching prompt.")
    outputs: OutputsSection = Field(default_factory=OutputsSection, description="Reminder LED, buzzer and bottle-side button.")
    insights: InsightsSection = Field(default_factory=InsightsSection, description="What the Insights page, the report and the doctor note compare.")
    storage: StorageSection = Field(default_factory=StorageSection, description="The database on the SD card: write batching, retention, checks.")

    @model_validator(mode="after")
    def _pins_used_once(self):
        used: dict[int, str] = {}
        pins = [("bottle.dout_pin", self.bottle.dout_pin if self.bottle.enabled else None),
                ("bottle.pd_sck_pin", self.bottle.pd_sck_pin if self.bottle.enabled else None),
                ("bed.button_pin", self.bed.button_pin),
                ("outputs.led_pin", self.outputs.led_pin), ("outputs.buzzer_pin", self.outputs.buzzer_pin),
                ("outputs.button_pin", self.outputs.button_pin)]
        for key, pin in pins:
            if pin is None:
                continue
            if pin in used:
                raise ValueError(f"GPIO{pin} is used twice: {used[pin]} and {key}")
            used[pin] = key
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The configured time zone as a ZoneInfo."""
        name = self.device.timezone
        if name == "localtime":
            return _local_zone()
        return ZoneInfo(name)

    @property
    def data_path(self) -> Path:
        return Path(self.device.data_dir).expanduser()


def _local_zone() -> ZoneInfo:
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except OSError:
        return ZoneInfo("UTC")


def search_paths() -> list[Path]:
    """Where a config file is looked for when ``--config`` is not given, in order."""
    paths = []
    if os.environ.get("CRAMPWATCH_CONFIG"):
        paths.append(Path(os.environ["CRAMPWATCH_CONFIG"]))
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    paths.append(Path(xdg) / "crampwatch" / "config.toml")
    paths.append(Path("/etc/crampwatch/config.toml"))
    return paths


def find_config(explicit: str | os.PathLike | None) -> Path | None:
    """The file to load: the explicit one (which must exist), else the first that exists."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found", [f"{path}: file not found"],
                              details=[_detail("config file not found", path=path)])
        return path
    for path in search_paths():
        if path.is_file():
            return path
    return None


def load_config(explicit: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> tuple[Config, Path | None]:
    """Load and validate the configuration; raise ConfigError listing every problem."""
    path = find_config(explicit)
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}", [f"{path}: cannot read: {exc}"],
                              details=[_detail(f"cannot read: {exc}", path=path)]) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"at line (\d+)", str(exc))
            raise ConfigError(f"{path}: invalid TOML: {exc}", [f"{path}: invalid TOML: {exc}"],
                              details=[_detail(f"invalid TOML: {exc}", path=path,
                                               line=int(at.group(1)) if at else None)]) from None
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    return validate_config(data, path, text), path


def validate_config(data: dict[str, Any], path: Path | None = None, text: str = "") -> Config:
    """Validate a parsed TOML document; ConfigError names each key path and line."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        details = [_describe(err, path, text) for err in exc.errors()]
        problems = [problem_text(d) for d in details]
        where = str(path) if path else "configuration"
        raise ConfigError(f"{where}: {len(problems)} problem(s)\n  " + "\n  ".join(problems), problems,
                          details=details) from None


def _detail(message: str, *, key: str | None = None, path: Path | None = None, line: int | None = None) -> dict:
    """One problem as ``check-config --json`` shows it."""
    return {"key": key, "file": None if path is None else str(path), "line": line, "message": message}


def problem_text(detail: dict) -> str:
    """A problem as one line: ``file:line: key: message`` (the parts known)."""
    where = f"{detail['file']}:{detail['line']}: " if detail["file"] and detail["line"] else (
        f"{detail['file']}: " if detail["file"] else "")
    return f"{where}{detail['key'] + ': ' if detail['key'] else ''}{detail['message']}"


def problem_details(exc: Exception, path: Path | None = None) -> list[dict]:
    """Each problem of ``exc`` as ``{"key", "file", "line", "message"}``; a key found in the
    configuration file ``path`` is given its file and line there."""
    details = [dict(d) for d in getattr(exc, "details", None) or [_detail(str(exc))]]
    text = None
    for d in details:
        if d["key"] and d["file"] is None and path is not None:
            if text is None:
                try:
                    text = Path(path).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    text = ""
            line = _line_of(text, d["key"].split("."))
            if line:
                d.update(file=str(path), line=line)
    return details


def _describe(err: dict, path: Path | None, text: str) -> dict:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(sorted(parent.model_fields)) if parent else ""
        msg = f"unknown key; allowed here: {allowed}"
    else:
        msg = err["msg"].removeprefix("Value error, ")
        if "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
            msg += f" (got {err['input']!r})"
    line = _line_of(text, loc) if text else None
    return _detail(msg, key=key, path=path, line=line)


def _model_at(loc: list[str]):
    model: Any = Config
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return None
        model = field.annotation
    return model


def _line_of(text: str, loc: list[str]) -> int | None:
    """Line number of a key path in a TOML text (tables and dotted keys; best effort)."""
    table: list[str] = []
    header = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\s*(#.*)?$")
    assign = re.compile(r"^\s*([A-Za-z0-9_.\-\"]+)\s*=")
    table_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            table = [p.strip().strip('"') for p in m.group(1).split(".")]
            if table == loc:
                table_line = number
            continue
        m = assign.match(line)
        if m and table + [p.strip('"') for p in m.group(1).split(".")] == loc:
            return number
    return table_line


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def effective_toml(config: Config) -> str:
    """The effective configuration as TOML (what ``check-config`` prints)."""
    import tomli_w

    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))


def reference_markdown() -> str:
    """A Markdown table of every setting, its default and its meaning."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    defaults = Config().model_dump(mode="json")
    for section, field in Config.model_fields.items():
        model = field.annotation
        for name, sub in model.model_fields.items():
            default = defaults[section].get(name)
            if section == "device" and name == "data_dir":
                default = "$STATE_DIRECTORY or ~/.local/state/crampwatch"
            rows.append(f"| `{section}.{name}` | `{default!r}` | {sub.description} |".replace("`None`", "unset"))
    return "\n".join(rows)
