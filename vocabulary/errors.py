"""Every exception and warning crampwatch raises, in one small tree.

No logic lives here. Each leaf also inherits the builtin it most resembles, so code
that does not know crampwatch can still catch it (``except TimeoutError``).
Recoverable sensor glitches are *warnings* and become health, never crashes.
"""


class CrampwatchError(Exception):
    """Base of every error crampwatch raises on purpose."""


# --- configuration ----------------------------------------------------------
class ConfigError(CrampwatchError, ValueError):
    """The configuration file or a setting is invalid; ``problems`` lists each one, and
    ``details`` each as ``{"key", "file", "line", "message"}`` where known."""

    def __init__(self, message, problems=(), *, details=()):
        super().__init__(message)
        self.problems = list(problems)
        self.details = list(details)


# --- sensors ----------------------------------------------------------------
class SensorError(CrampwatchError, OSError):
    """A sensor could not be read."""


class SensorTimeout(SensorError, TimeoutError):
    """A sensor did not produce data in time (HX711 DOUT never went low)."""


class SensorNotFound(SensorError):
    """The chip at the configured address or pins is not the one expected."""


class SensorBusError(SensorError):
    """The bus kept failing (I2C errno 121 with loose wires) after retries."""


# --- input data -------------------------------------------------------------
class TraceError(CrampwatchError, ValueError):
    """A recorded trace file is missing, has wrong columns or an unparseable row."""


# --- storage ----------------------------------------------------------------
class StorageError(CrampwatchError, RuntimeError):
    """The database cannot be opened, migrated or written."""


class SchemaTooNew(StorageError):
    """The database was written by a newer crampwatch than this one."""


class RestoreRefused(StorageError, ValueError):
    """A file to restore is missing, not a crampwatch database, damaged or too new; nothing was replaced."""


# --- warnings ---------------------------------------------------------------
class CrampwatchWarning(Warning):
    """Base of crampwatch's warnings."""


class SensorGlitch(CrampwatchWarning):
    """A single bad reading (saturation, clock stretched too long); it was dropped."""


class PinFactoryFallback(CrampwatchWarning):
    """The preferred GPIO backend was not available and another one is used."""
