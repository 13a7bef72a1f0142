"""The ``crampwatch`` command (:mod:`device.cli.main`) and the sub-commands that are more than a call."""
