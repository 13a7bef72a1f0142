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
    # 3: reminder state (scheduler/state.py). One row per reminder, so that a restart
    # neither repeats nor forgets one: `state` is active, acknowledged, snoozed or done;
    # `since` is when it (re)became active (escalation counts from it); `day` is the
    # local date it belongs to (one stretching prompt a day).
    """
    CREATE TABLE reminders (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        day           TEXT NOT NULL,
        state         TEXT NOT NULL,
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL,
        since         REAL NOT NULL,
        snoozed_until REAL,
        escalated     INTEGER NOT NULL DEFAULT 0,
        reason        TEXT,
        payload       TEXT NOT NULL
    );
    CREATE INDEX reminders_state ON reminders (state);
    CREATE INDEX reminders_kind_day ON reminders (kind, day);
    """,
    # 4: per-epoch bed activity (not raw samples): the nights' movement timelines.
    # `presence` is the breathing-band evidence that someone lies in bed (NULL when the
    # analysis had none, e.g. for imported actigraphy counts).
    """
    CREATE TABLE epochs (
        t        REAL PRIMARY KEY,
        activity REAL NOT NULL,
        presence REAL
    );
    """,
]
