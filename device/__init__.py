"""The crampwatch daemon: configuration, lifecycle, storage, MQTT and the command line."""
