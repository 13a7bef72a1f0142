"""The bottle-side reminder hardware: a glowing LED, a buzzer, a button. All optional.

An active reminder makes the LED (gpiozero :class:`~gpiozero.PWMLED`) pulse; if it is
still unanswered after ``escalate_after_min`` the service calls :meth:`Outputs.alarm`
for one short :class:`~gpiozero.Buzzer` pattern. The :class:`~gpiozero.Button` (wired
to ground, internal pull-up) acknowledges when pressed and released, and snoozes when
held for ``hold_s``. Pins come from the configuration; an unset pin is an absent part.

>>> from device.config import OutputsSection
>>> from simulator.rigs import simulated_pin_factory
>>> factory = simulated_pin_factory()
>>> out = Outputs(OutputsSection(led_pin=12, buzzer_pin=16), pin_factory=factory)
>>> out.open(); out.glow(); out.glowing
True
>>> out.clear(); out.glowing, out.led.value
(False, 0.0)
>>> out.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from device.config import OutputsSection

log = logging.getLogger(__name__)


class Outputs:
    """LED, buzzer and button on one pin factory; ``on_press``/``on_hold`` are the button's actions.

    ``pin_factory`` None means the board's own (:func:`device.hardware.pins.make_pin_factory`),
    chosen only when a pin is configured. ``close()`` is idempotent.
    """

    def __init__(self, config: OutputsSection, *, pin_factory=None, on_press: Callable[[], object] | None = None,
                 on_hold: Callable[[], object] | None = None, fade_s: float = 1.0,
                 beep: tuple[float, float, int] = (0.15, 0.1, 3), bounce_s: float | None = 0.03):
        self.config = config
        self._factory = pin_factory
        self._own_factory = False
        self._on_press, self._on_hold = on_press, on_hold
        self._fade_s, self._beep, self._bounce_s = fade_s, beep, bounce_s
        self.led = self.buzzer = self.button = None
        self.glowing = False
        self._held = False

    @property
    def configured(self) -> bool:
        c = self.config
        return any(p is not None for p in (c.led_pin, c.buzzer_pin, c.button_pin))

    def open(self) -> None:
        """Claim the configured pins (raises if the GPIO backend refuses them)."""
        if not self.configured:
            return
        from gpiozero import Button, Buzzer, PWMLED

        try:
            if self._factory is None:
                from device.hardware.pins import make_pin_factory

                self._factory = make_pin_factory()
                self._own_factory = True
            c, f = self.config, self._factory
            if c.led_pin is not None:
                self.led = PWMLED(c.led_pin, pin_factory=f)
            if c.buzzer_pin is not None:
                self.buzzer = Buzzer(c.buzzer_pin, pin_factory=f)
            if c.button_pin is not None:
                self.button = Button(c.button_pin, pull_up=True, bounce_time=self._bounce_s,
                                     hold_time=c.hold_s, pin_factory=f)
                self.button.when_pressed = self._pressed
                self.button.when_held = self._held_down
                self.button.when_released = self._released
        except Exception:
            self.close()
            raise

    # -- what the service asks for ------------------------------------------------------
    def glow(self) -> None:
        """Pulse the LED until :meth:`clear` (it runs in gpiozero's background thread)."""
        if self.led is not None and not self.glowing:
            self.led.pulse(fade_in_time=self._fade_s, fade_out_time=self._fade_s)
        self.glowing = True

    def alarm(self) -> None:
        """One short buzzer pattern (in the background)."""
        if self.buzzer is not None:
            on, off, n = self._beep
            self.buzzer.beep(on_time=on, off_time=off, n=n, background=True)

    def clear(self) -> None:
        """LED and buzzer off."""
        if self.led is not None:
            self.led.off()
        if self.buzzer is not None:
            self.buzzer.off()
        self.glowing = False

    def close(self) -> None:
        for name in ("button", "buzzer", "led"):
            device, _ = getattr(self, name), setattr(self, name, None)
            if device is not None:
                try:
                    device.close()
                except Exception:  # closing must finish for the other devices
                    log.debug("closing %s failed", name, exc_info=True)
        if self._own_factory and self._factory is not None:
            self._factory.close()
            self._factory = None
        self.glowing = False

    # -- the button ---------------------------------------------------------------------
    # gpiozero fires when_held while the button is still down and when_released after any
    # press, so a hold must not also count as a press.
    def _pressed(self) -> None:
        self._held = False

    def _held_down(self) -> None:
        self._held = True
        _call(self._on_hold, "button hold")

    def _released(self) -> None:
        if not self._held:
            _call(self._on_press, "button press")
        self._held = False


def _call(action: Callable[[], object] | None, what: str) -> None:
    if action is None:
        return
    try:
        action()
    except Exception:  # the button's thread must survive a failing action
        log.exception("%s failed", what)
