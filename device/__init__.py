"""The crampwatch daemon: configuration, lifecycle, storage, MQTT and the command line.

Its parts, from the bottom up (imports point down; pyproject.toml's import-linter
contracts keep them so):

- :mod:`device.config`, :mod:`device.health`, the rules every reader shares
  (:mod:`device.labels`, :mod:`device.drinks`, :mod:`device.factors`) and
  :mod:`device.guards` (strict JSON input, rate limits).
- :mod:`device.storage`: the SQLite store, its schema, opening and watching it, backups
  and exports (beside it, one layer up from the rules: :mod:`scheduler.policy`).
- :mod:`device.actions`: every change a person makes, for every surface.
- :mod:`device.settings` (the dashboard's overrides of the configuration),
  :mod:`device.identity` (which device this is) and :mod:`device.hardware` (GPIO pins,
  the bottle and bed rigs, the bedside button); above them the reminder service.
- :mod:`device.insights` (the analysis of nights and intake, the doctor's report),
  then :mod:`device.workers` (the sensor threads), :mod:`device.mqtt` and
  :mod:`device.runtime` (logging, sd_notify, the health file); then the dashboard.
- :mod:`device.daemon`: the composition root, which starts them all.
- :mod:`device.cli`: the ``crampwatch`` command.
"""
