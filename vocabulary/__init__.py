"""The words every layer shares: errors, events and the recorded-trace formats.

The bottom of crampwatch: the sensors' detectors, the simulator, the reminders, the
daemon and the dashboard all speak these, and this package imports none of them.
"""
