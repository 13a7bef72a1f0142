"""The bed accelerometer's driver, chosen by chip name (``[bed] chip``)."""

from __future__ import annotations


def driver_class(chip: str):
    """:class:`sensors.mpu6050.MPU6050` for ``"mpu6050"``, else :class:`sensors.adxl345.ADXL345`."""
    if chip == "mpu6050":
        from sensors.mpu6050 import MPU6050

        return MPU6050
    from sensors.adxl345 import ADXL345

    return ADXL345


def open_accelerometer(chip: str, bus, *, rate_hz: float, range_g: float, address: int | None = None):
    """The ``chip`` driver on ``bus`` (a bus number, or an object with smbus2's methods)."""
    kwargs = {"rate_hz": rate_hz, "range_g": range_g}
    if address is not None:
        kwargs["address"] = address
    return driver_class(chip)(bus, **kwargs)
