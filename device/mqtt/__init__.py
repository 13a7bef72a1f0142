"""MQTT: the connection, the durable outbox's publishing, retained state, Home Assistant
discovery and the commands that come in."""
