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
]
