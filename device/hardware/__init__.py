"""The hardware the daemon runs on: the GPIO backend, the bottle and bed rigs (this Pi's,
or the simulator's through :func:`device.hardware.rigs.rig`), and the bedside button."""
