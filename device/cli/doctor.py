"""``crampwatch doctor``: after wiring, check each part once and say what to do.

One line a part, in the order a person fixes them: GPIO, I2C, the accelerometer, the
bottle scale and its calibration, MQTT, the dashboard. A line starts with ``ok``, with
``FIX`` (what is wrong and what to do), or with ``--`` (off, or not checked because
a part it needs failed). The exit status is 0 when nothing needs fixing, 1 otherwise.

The checks only look: the accelerometer's id register is read, never written (a
running daemon's FIFO is left alone); the calibration is read from the database
read-only; the HX711 is read a few times. With ``simulate`` the same checks run on
the simulator's rig (:func:`device.hardware.rigs.rig`: pin- and register-level fake
chips), so they can be tried and tested without hardware.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import ssl
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from device.config import Config
from vocabulary.errors import ConfigError, SensorError, SensorNotFound, SensorTimeout

HX711_READS = 5
I2C_TRIES = 3  # a loose wire NACKs now and then: a part is missing only if it never answers
# Net weight on the scale that makes the stored tare implausible (grams): below it the
# zero moved (or the cell was turned over), above it the scale factor is wrong.
MIN_PLAUSIBLE_G = -50.0
MAX_PLAUSIBLE_G = 20_000.0
SERVICE_STOP = "`sudo systemctl stop crampwatch` while you check"


@dataclass(frozen=True)
class Finding:
    """One part's verdict: ``ok`` True (fine), False (needs doing) or None (off / not checked)."""

    part: str
    ok: bool | None
    text: str

    def line(self) -> str:
        mark = {True: "ok", False: "FIX", None: "--"}[self.ok]
        return f"{mark:<4} {self.part}: {self.text}"


def run_doctor(config: Config, *, simulate: bool = False, bus=None, out: Callable[[str], None] = print,
               timeout: float = 3.0) -> int:
    """Print one line per part; return 0 when all are fine, 1 when something needs doing.

    ``bus``: the I2C bus to probe instead of the configured one (an object with smbus2's
    methods, e.g. :class:`simulator.i2c_bus.FakeSMBus`); ``timeout``: seconds for each
    network check.
    """
    needs_doing = False
    for finding in check_all(config, simulate=simulate, bus=bus, timeout=timeout):
        out(finding.line())
        needs_doing |= finding.ok is False
    return 1 if needs_doing else 0


def check_all(config: Config, *, simulate: bool = False, bus=None, timeout: float = 3.0) -> Iterator[Finding]:
    """Every part's finding, in order (a generator: each appears as soon as it is known)."""
    with warnings.catch_warnings():
        # Glitch and fallback warnings become part of a line, never a traceback.
        warnings.simplefilter("ignore")
        bottle = BottleCheck(config, simulate)
        try:
            gpio = bottle.gpio()
            yield gpio
            yield from _i2c_and_accelerometer(config, simulate, bus)
            readings = None
            if not config.bottle.enabled:
                yield Finding("bottle scale", None, "off (bottle.enabled = false)")
            elif gpio.ok is not True:
                yield Finding("bottle scale", None, "not checked: GPIO does not work")
            else:
                finding, readings = bottle.read()
                yield finding
        finally:
            bottle.close()
        if config.bottle.enabled:
            yield check_calibration(config, readings, simulate=simulate)
    yield check_mqtt(config, timeout=timeout)
    yield check_dashboard(config, timeout=timeout)


# -- GPIO and the HX711 ------------------------------------------------------------------
class BottleCheck:
    """GPIO and the HX711: the board's pin factory, or the simulator's pins and fake chip.

    :meth:`gpio` first (it makes the factory), then :meth:`read`, then :meth:`close`.
    """

    def __init__(self, config: Config, simulate: bool):
        self.config = config
        self.simulate = simulate
        self.factory = None
        self.simulated = None  # the SimulatedBottle (pins and fake HX711) when simulating

    def gpio(self) -> Finding:
        from device.hardware.pins import check_gpio_present, gpio_devices, gpio_pins, make_pin_factory

        pins = gpio_pins(self.config)
        if not pins:
            return Finding("GPIO", None, "no part uses GPIO in this configuration")
        if self.simulate:
            from device.hardware.rigs import rig

            simulator = rig(self.config, simulate=True)
            if self.config.bottle.enabled:
                self.simulated = simulator.bottle(scripted=True)
                self.factory = self.simulated.factory
            else:
                self.factory = simulator.pin_factory()
            return Finding("GPIO", True, f"simulated pins (gpiozero MockFactory) for GPIO {_pin_list(pins)}")
        try:
            check_gpio_present()
        except ConfigError as exc:
            return Finding("GPIO", False, str(exc))
        try:
            self.factory = make_pin_factory()
        except SensorError as exc:
            return Finding("GPIO", False, str(exc))
        devices = ", ".join(str(p) for p in gpio_devices()) or "no GPIO device"
        backend = type(self.factory).__name__.removesuffix("Factory")
        return Finding("GPIO", True, f"{backend} ({devices}) for GPIO {_pin_list(pins)}")

    def read(self) -> tuple[Finding, list[int] | None]:
        """Open the HX711 and read it a few times: (finding, the readings or None)."""
        from sensors.hx711 import HX711, is_saturated

        cfg = self.config.bottle
        where = f"HX711 on DOUT GPIO{cfg.dout_pin}, PD_SCK GPIO{cfg.pd_sck_pin}"
        try:
            if self.simulated is not None:
                driver = self.simulated.open_driver()
            else:
                driver = HX711(cfg.dout_pin, cfg.pd_sck_pin, gain=cfg.gain, pin_factory=self.factory,
                               rate_hz=cfg.rate_hz)
        except Exception as exc:  # lgpio says "GPIO busy" when another process holds a pin
            return Finding("bottle scale", False, f"cannot use GPIO{cfg.dout_pin}/GPIO{cfg.pd_sck_pin}: {exc}; "
                           f"if the crampwatch service is running it holds them: {SERVICE_STOP}"), None
        wait = 1.0 + 4.0 / cfg.rate_hz  # a conversion, after the settling that follows a reset
        try:
            readings = [driver.read_raw(timeout=wait) for _ in range(HX711_READS)]
        except SensorTimeout:
            return Finding("bottle scale", False, f"{where}: DOUT never went low (no data in {wait:g} s): check the "
                           f"HX711's VCC (3V3) and GND, DOUT to GPIO{cfg.dout_pin} and SCK to "
                           f"GPIO{cfg.pd_sck_pin} (bottle.dout_pin, bottle.pd_sck_pin)"), None
        except SensorNotFound:
            return Finding("bottle scale", False, f"{where}: DOUT stays low, no chip drives it: check the "
                           f"HX711's power and that DOUT is not shorted to GND"), None
        except SensorError as exc:
            return Finding("bottle scale", False, f"{where}: {exc}"), None
        finally:
            driver.close()
        if all(r == 0 for r in readings):
            return Finding("bottle scale", False, f"{where}: every reading is 0: check the load cell's four wires "
                           f"at E+/E-/A-/A+ and the HX711's DOUT wire"), readings
        saturated = [r for r in readings if is_saturated(r)]
        if len(saturated) * 2 >= len(readings):
            return Finding("bottle scale", False, f"{where}: {len(saturated)} of {len(readings)} readings are "
                           f"saturated (0x7FFFFF / -0x800000): a load cell wire is off, A+/A- are swapped with "
                           f"E+/E-, or the cell is overloaded"), readings
        if len(set(readings)) == 1:
            return Finding("bottle scale", False, f"{where}: {len(readings)} identical readings ({readings[0]}); a "
                           f"working HX711 always shows some noise: check the DOUT wire"), readings
        good = [r for r in readings if not is_saturated(r)]
        return Finding("bottle scale", True, f"{where} gives data ({len(good)} readings around "
                       f"{statistics.median(good):.0f} counts)"), good

    def close(self) -> None:
        if self.simulated is not None:
            self.simulated.close()
        elif self.factory is not None:
            self.factory.close()
        self.factory = self.simulated = None


def _pin_list(pins: list[int]) -> str:
    return ", ".join(str(p) for p in pins)


# -- the calibration ---------------------------------------------------------------------
def stored_calibration(config: Config):
    """The calibration in the database, read-only: ``(Calibration or None, problem or None)``."""
    from device.storage.store import DB_NAME
    from device.workers.calibration import CALIBRATION_KEY
    from sensors.calibration import Calibration

    if config.device.data_dir == ":memory:":
        return None, None
    db = config.data_path / DB_NAME
    try:
        if not db.exists():
            return None, None
        with closing(sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (CALIBRATION_KEY,)).fetchone()
    except (OSError, sqlite3.Error) as exc:
        return None, f"cannot read {db}: {exc}"
    if row is None:
        return None, None
    import json

    try:
        return Calibration.from_dict(json.loads(row[0])), None
    except (TypeError, ValueError) as exc:
        return None, f"the stored calibration in {db} is damaged ({exc})"


def check_calibration(config: Config, readings: list[int] | None, *, simulate: bool = False) -> Finding:
    """The stored scale factor and tare: there, non-zero, and plausible against ``readings``."""
    from device.hardware.rigs import rig
    from sensors.calibration import MIN_COUNTS_PER_GRAM
    from sensors.hx711 import SATURATED_HIGH, SATURATED_LOW

    calibration, problem = stored_calibration(config)
    if problem:
        return Finding("calibration", False, f"{problem}; run the doctor as the service's user: "
                       f"`sudo -u crampwatch .venv/bin/crampwatch doctor --data-dir {config.data_path}`")
    note = ""
    if calibration is None:
        if not simulate:
            return Finding("calibration", False, f"none stored in {config.data_path}: run `crampwatch calibrate`")
        calibration = rig(config, simulate=True).default_calibration
        note = " (none stored: the simulated load cell's own)"
    factor, tare = calibration.counts_per_gram, calibration.offset
    if abs(factor) < MIN_COUNTS_PER_GRAM:
        return Finding("calibration", False, f"scale factor {factor:g} counts/g is implausible (a 1-5 kg load cell "
                       f"gives hundreds): run `crampwatch calibrate` with a known weight")
    if not SATURATED_LOW < tare < SATURATED_HIGH:
        return Finding("calibration", False, f"tare {tare:.0f} counts is a saturated reading: check the load "
                       f"cell wiring, then run `crampwatch calibrate`")
    text = f"{factor:.1f} counts/g, tare {tare:.0f} counts{note}"
    if readings:
        grams = calibration.to_grams(statistics.median(readings))
        if not MIN_PLAUSIBLE_G <= grams <= MAX_PLAUSIBLE_G:
            return Finding("calibration", False, f"{text}, but the scale reads {grams:.0f} g now: the tare is out "
                           f"of date or the load cell moved; take everything off and tare (dashboard or MQTT "
                           f"`cmd/tare`), or run `crampwatch calibrate` again")
        text += f"; the scale reads {grams:.0f} g now"
    return Finding("calibration", True, text)


# -- I2C and the accelerometer -----------------------------------------------------------
def _chips():
    from sensors.adxl345 import ADXL345
    from sensors.mpu6050 import MPU6050

    # chip -> (driver class, its possible addresses)
    return {"adxl345": (ADXL345, (0x53, 0x1D)), "mpu6050": (MPU6050, (0x68, 0x69))}


def _i2c_and_accelerometer(config: Config, simulate: bool, bus) -> Iterator[Finding]:
    cfg = config.bed
    if not cfg.enabled:
        yield Finding("I2C", None, "not used (bed.enabled = false)")
        yield Finding("accelerometer", None, "off (bed.enabled = false)")
        return
    finding, bus, owned = _open_i2c(config, simulate, bus)
    yield finding
    if bus is None:
        yield Finding("accelerometer", None, "not checked: I2C does not work")
        return
    try:
        yield check_accelerometer(bus, cfg.i2c_bus, cfg.chip, cfg.address)
    finally:
        if owned:
            bus.close()


def _open_i2c(config: Config, simulate: bool, bus):
    """(finding, bus or None, owned) for the bed's I2C bus."""
    from device.hardware.rigs import rig
    from sensors.i2c import open_bus

    number = config.bed.i2c_bus
    if bus is not None:
        return Finding("I2C", True, f"bus {number} (given)"), bus, False
    if simulate:
        fake_bus, fake = rig(config, simulate=True).still_bed_bus()
        return Finding("I2C", True, f"bus {number} (simulated, {fake.__class__.__name__} attached)"), fake_bus, True
    path = Path(f"/dev/i2c-{number}")
    if not path.exists():
        return Finding("I2C", False, f"not enabled: no {path}; enable it with `sudo raspi-config` -> Interface "
                       f"Options -> I2C (or dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot"), None, False
    if not os.access(path, os.R_OK | os.W_OK):
        return Finding("I2C", False, f"{path} is there but this user may not use it: `sudo adduser $USER i2c` "
                       f"and log in again (the service's user is in the i2c group already)"), None, False
    try:
        opened, owned = open_bus(number)
    except SensorError as exc:
        return Finding("I2C", False, str(exc)), None, False
    return Finding("I2C", True, f"bus {number} ({path})"), opened, owned


def _read_id(bus, address: int, driver) -> int | None:
    """The chip's id register at ``address``, or None when nothing acknowledges there."""
    error = None
    for attempt in range(I2C_TRIES):
        try:
            return bus.read_byte_data(address, driver.ID_REGISTER)
        except OSError as exc:
            error = exc
            time.sleep(0.01 * (attempt + 1))
    if error.errno in (errno.ENXIO, errno.EREMOTEIO):
        return None
    raise error


def check_accelerometer(bus, number: int, chip: str, address: int | None) -> Finding:
    """Whether the configured chip answers its id at its address (and if not, who does)."""
    chips = _chips()
    driver, _ = chips[chip]
    address = driver.DEFAULT_ADDRESS if address is None else address
    at = f"0x{address:02X} on I2C bus {number}"
    try:
        got = _read_id(bus, address, driver)
        if got == driver.CHIP_ID:
            return Finding("accelerometer", True, f"{driver.CHIP} answers at {at} ({driver.ID_NAME} 0x{got:02X})")
        if got is not None:
            hint = driver.ID_HINTS.get(got, "")
            hint = f" ({hint.split(':')[0]}, not supported)" if hint and "sensors." not in hint else ""
            return Finding("accelerometer", False, f"the chip at {at} reads {driver.ID_NAME} 0x{got:02X}, not "
                           f"0x{driver.CHIP_ID:02X} as an {driver.CHIP} does{hint}: another chip answers there; "
                           f"check bed.chip and bed.address against the board (`i2cdetect -y {number}`)")
        # Nothing there: is it at its other address, or is it the other chip?
        for other_chip, (other, other_addresses) in chips.items():
            for other_address in other_addresses:
                if (other_chip, other_address) == (chip, address):
                    continue
                if _read_id(bus, other_address, other) == other.CHIP_ID:
                    fix = (f"set bed.address = 0x{other_address:02X}" if other_chip == chip
                           else f"set bed.chip = \"{other_chip}\"" + (
                               "" if other_address == other.DEFAULT_ADDRESS else f" and bed.address = 0x{other_address:02X}"))
                    return Finding("accelerometer", False, f"no {driver.CHIP} answers at {at}, but an {other.CHIP} "
                                   f"answers at 0x{other_address:02X}: {fix}")
    except OSError as exc:
        return Finding("accelerometer", False, f"I2C bus {number} fails: {exc}; check SDA (GPIO2) and SCL (GPIO3)")
    return Finding("accelerometer", False, f"no {driver.CHIP} answers at {at}: check its VCC (3V3), GND, SDA to "
                   f"GPIO2 and SCL to GPIO3{driver.ADDRESS_HINT}; `i2cdetect -y {number}` lists what answers")


# -- MQTT --------------------------------------------------------------------------------
def check_mqtt(config: Config, *, timeout: float = 3.0) -> Finding:
    """TCP connect and an MQTT CONNECT with the configured credentials (the password never shown)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from device.mqtt.client import close_sockets, read_password

    cfg = config.mqtt
    if cfg.host is None:
        return Finding("MQTT", None, "off (mqtt.host is not set)")
    where = f"{cfg.host}:{cfg.port}"
    try:
        password = read_password(cfg)
    except ConfigError as exc:
        return Finding("MQTT", False, str(exc))
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"crampwatch-doctor-{os.getpid()}",
                         clean_session=True, protocol=paho.MQTTv311)
    client.connect_timeout = timeout
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    result: list = []
    client.on_connect = lambda c, userdata, flags, reason, props: result.append(reason)
    try:
        if cfg.tls:
            client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        client.connect(cfg.host, cfg.port, keepalive=max(5, int(timeout) + 5))
        deadline = time.monotonic() + timeout
        while not result and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    except ssl.SSLError as exc:
        return Finding("MQTT", False, f"TLS with {where} failed: {exc}; check mqtt.tls, mqtt.ca_file and the port")
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, unknown host
        return Finding("MQTT", False, f"cannot reach {where}: {exc}; is the broker running, and are mqtt.host "
                       f"and mqtt.port right?")
    finally:
        if result and not result[0].is_failure:
            client.disconnect()
            client.loop(timeout=0.1)  # sends the DISCONNECT
        sock = client.socket()
        if sock is not None:
            sock.close()
        close_sockets(client)
    who = f" as {cfg.username}" if cfg.username else " anonymously"
    if not result:
        return Finding("MQTT", False, f"{where} accepted the connection but sent no MQTT answer in {timeout:g} s: "
                       f"is it an MQTT broker (TLS port without mqtt.tls?)")
    if result[0].is_failure:
        return Finding("MQTT", False, f"the broker at {where} refused crampwatch{who}: {result[0]}; check "
                       f"mqtt.username and the password in mqtt.password_file")
    return Finding("MQTT", True, f"connected to {where}{who}" + (" over TLS" if cfg.tls else ""))


# -- the dashboard -----------------------------------------------------------------------
def check_dashboard(config: Config, *, timeout: float = 3.0) -> Finding:
    """The configured host/port answers HTTP (or is free while crampwatch is stopped), and a
    bind beyond this machine has a password."""
    from dashboard.passwords import password_path
    from dashboard.server import is_loopback

    cfg = config.dashboard
    if not cfg.enabled:
        return Finding("dashboard", None, "off (dashboard.enabled = false)")
    host = cfg.host.strip("[]")
    where = f"{cfg.host}:{cfg.port}"
    local = is_loopback(host)
    if not local:
        path = password_path(config)
        try:
            has_password = path is not None and path.stat().st_size > 0
        except FileNotFoundError:
            has_password = False
        except OSError as exc:
            return Finding("dashboard", False, f"cannot tell whether a password is set ({exc}): run the doctor as "
                           f"the service's user (`sudo -u crampwatch ...`)")
        if not has_password:
            return Finding("dashboard", False, f"dashboard.host = {cfg.host!r} serves your network but no password "
                           f"is set: run `crampwatch set-password`, or set dashboard.host = '127.0.0.1'")
    reach = "this machine only" if local else "your network, with a password"
    target = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    answer = _http_status(target, cfg.port, timeout)
    running = _daemon_running(config)
    if answer is not None and answer.startswith("HTTP/"):
        if running is False:
            return Finding("dashboard", False, f"another program answers at {where} and crampwatch is not running: "
                           f"set dashboard.port to a free port")
        return Finding("dashboard", True, f"http://{where}/ answers ({answer}); {reach}")
    if answer is not None:
        return Finding("dashboard", False, f"something that is not a web server answers at {where}: set "
                       f"dashboard.port to a free port")
    if running:
        return Finding("dashboard", False, f"crampwatch is running but nothing answers at {where}: "
                       f"`crampwatch status` shows why (is the port taken?)")
    try:
        _try_bind(host, cfg.port)
    except OSError as exc:
        return Finding("dashboard", False, f"crampwatch could not serve at {where}: {exc}; set dashboard.host "
                       f"to an address of this machine and dashboard.port to a free port")
    return Finding("dashboard", True, f"crampwatch is not running; {where} is free for it ({reach})")


def _http_status(host: str, port: int, timeout: float) -> str | None:
    """The status line a GET / gets at host:port ('' if not HTTP), or None if nothing listens."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii"))
            data = s.recv(256)
    except OSError:
        return None
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return line if line.startswith("HTTP/") else ""


def _try_bind(host: str, port: int) -> None:
    """Raise OSError if crampwatch could not bind host:port now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))


def _daemon_running(config: Config) -> bool | None:
    """Whether crampwatch runs on this data directory (its health file), None if unknown."""
    from device.cli.status import collect_status

    try:
        return bool(collect_status(config)["daemon"]["running"])
    except Exception:  # an unreadable data directory: we cannot tell
        return None
