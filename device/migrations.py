"""The database schema, as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. Add a migration by
appending to ``MIGRATIONS``; never edit one that has shipped. Statements are
split on ``;``, so none may contain a semicolon of its own (no triggers).
"""

MIGRATIONS: list[str] = [
    # 1: events (the source of truth) and durable settings such as the calibration.
    """
    CREATE TABLE events (
        id          TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        t           REAL NOT NULL,
        payload     TEXT NOT NULL,
        recorded_at REAL NOT NULL
    );
    CREATE INDEX events_type_t ON events (type, t);
    CREATE INDEX events_t ON events (t);
    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # 2: the MQTT outbox. A row is written in the same transaction as its event and
    # removed when the broker acknowledges the publish (PUBACK), so nothing stored is
    # lost by a broker outage or a kill -9. `seq` keeps the publishing order.
    """
    CREATE TABLE outbox (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id  TEXT NOT NULL UNIQUE REFERENCES events (id) ON DELETE CASCADE,
        queued_at REAL NOT NULL
    );
    CREATE INDEX outbox_queued_at ON outbox (queued_at);
    """,
]
