"""The crampwatch daemon: configuration, lifecycle, storage, MQTT and the command line.

Its parts, from the bottom up (imports point down; pyproject.toml's import-linter
contracts keep them so):

- :mod:`device.config`, :mod:`device.health`, :mod:`device.labels`, :mod:`device.guards`:
  the configuration file, every part's health, confirmed cramp labels, strict JSON
  input and rate limits.
- :mod:`device.storage`: the SQLite store, its schema, opening and watching it.
- :mod:`device.actions`: every change a person makes, for every surface.
- :mod:`device.settings` (the dashboard's overrides of the configuration) and
  :mod:`device.hardware` (GPIO pins, the bottle and bed rigs, the bedside button).
- :mod:`device.insights` (the analysis of nights and intake, the doctor's report),
  then :mod:`device.workers` (the sensor threads) and :mod:`device.mqtt`.
- :mod:`device.runtime` (logging, sd_notify, the health file) and
  :mod:`device.daemon`: the composition root, which starts them all.
- :mod:`device.cli`: the ``crampwatch`` command.
"""
