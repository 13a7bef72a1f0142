"""The sensor threads: bottle scale and bed accelerometer, from driver to stored event."""
