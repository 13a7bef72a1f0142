"""Durable storage: the SQLite store and its schema, opening and watching it, events it
refused for now, and the one way crampwatch writes its own small files."""
