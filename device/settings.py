"""Settings edited on the dashboard: the config file's own models, saved as overrides.

The page is built from :class:`device.config.Config` (every section, field, type,
bound and description comes from its pydantic models), so a new section appears by
itself. Changes are validated by the same models as the file and stored in the
store's settings table under ``config.overrides`` as ``{section: {key: value}}``;
:meth:`SettingsService.effective` is the file's configuration with them applied.
The dashboard uses the effective values at once, and so do the reminders (hydration,
stretching, snooze and escalation times, the doctor thresholds: see
:class:`scheduler.service.ReminderService`); the sensors, MQTT and the outputs' pins
read them when they start (``apply_overrides``).

A few settings are also changed while running by another part, which keeps them in
the settings table under their own dotted key (``LIVE_KEYS``: the daily goal, which
the MQTT ``goal`` command sets too); the page reads them there and changes them through
their action (``live``: :meth:`device.actions.Actions.set_goal`, with its range check
and rate limit), so every part sees one goal at once.

Some fields are shown but not editable here: paths (``*_file``, ``*_dir``, where a
logged-in page could point the daemon at any file), the dashboard's own binding,
``LOCKED_KEYS``, which are used before the settings table can be read (the database's
integrity check at start), and ``BROKER_KEYS``, the broker connection: the daemon sends
the broker password to ``mqtt.host``, so a page must not choose where it goes or switch
TLS off. Overrides of such keys stored by an older version are ignored (and dropped,
with one log line) when the settings are first read.
Fields that look secret are not shown at all.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from device.actions import GOAL_SETTING, ActionRefused, RateLimited
from device.config import Config

log = logging.getLogger(__name__)

OVERRIDES_KEY = "config.overrides"
LIVE_KEYS = (GOAL_SETTING,)
LOCKED_SECTIONS = {"dashboard"}
LOCKED_SUFFIXES = ("_file", "_dir")
LOCKED_KEYS = {"storage.integrity_check"}  # runs before the database (and its overrides) is read
BROKER_KEYS = {"mqtt.host", "mqtt.port", "mqtt.username", "mqtt.tls", "mqtt.client_id"}  # where the password goes
SECRET_WORDS = ("password", "secret", "token")
FILE_ONLY = "can only be changed in the configuration file"


class SettingsError(ValueError):
    """Rejected changes; ``fields`` maps ``section.key`` to what is wrong."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def locked(section: str, name: str) -> str | None:
    """Why ``section.name`` cannot be changed on the dashboard, or None if it can."""
    key = f"{section}.{name}"
    if key in BROKER_KEYS:
        return f"{FILE_ONLY}: it is part of the broker connection, which is sent the broker password"
    if section in LOCKED_SECTIONS or name.endswith(LOCKED_SUFFIXES) or key in LOCKED_KEYS:
        return FILE_ONLY
    return None


def editable(section: str, name: str) -> bool:
    return locked(section, name) is None


def secret(name: str, schema: dict) -> bool:
    return schema.get("writeOnly") or schema.get("format") == "password" or any(w in name for w in SECRET_WORDS)


def apply_overrides(config: Config, overrides: dict[str, dict[str, Any]]) -> Config:
    """``config`` with ``overrides`` applied and validated (raises SettingsError)."""
    data = config.model_dump(mode="json")
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return type(config).model_validate(data)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
            for where in _where(err, type(config)):
                problems[where] = _message(err)
        raise SettingsError(problems) from None


def _where(err: dict, config_cls) -> list[str]:
    """The settings an error is about: its location, else the ``section.key`` names it
    mentions (a rule across sections, e.g. a GPIO used twice), else ``settings``."""
    if err["loc"]:
        return [".".join(str(p) for p in err["loc"][:2])]
    named = [f"{a}.{b}" for a, b in re.findall(r"\b([a-z_]+)\.([a-z_]+)\b", err["msg"])
             if a in config_cls.model_fields and b in config_cls.model_fields[a].annotation.model_fields]
    return named or ["settings"]


def _message(err: dict) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if len(err["loc"]) > 2:  # an item of a list setting
        msg = f"item {int(err['loc'][2]) + 1 if isinstance(err['loc'][2], int) else err['loc'][2]}: {msg}"
    return msg


class SettingsService:
    """Reads and writes the overrides; caches the effective configuration."""

    def __init__(self, config: Config, store):
        self.config, self.store = config, store
        self._lock = threading.Lock()
        self._cache: tuple[str, Config] | None = None
        self._drop_locked()

    def _saved(self) -> dict[str, dict[str, Any]]:
        """The overrides in the store, as they were saved."""
        saved = self.store.get_setting(OVERRIDES_KEY, {}) or {}
        return {s: dict(v) for s, v in saved.items() if isinstance(v, dict)} if isinstance(saved, dict) else {}

    def _drop_locked(self) -> None:
        """Drop saved overrides of keys that are not editable (saved by an older version)."""
        with self._lock:
            saved = self._saved()
            stale = sorted(f"{s}.{k}={v!r:.80}" for s, values in saved.items() for k, v in values.items()
                           if not editable(s, k))
            if not stale:
                return
            log.warning("ignoring dashboard overrides %s: these can only be set in the configuration file "
                        "(its values are used; the overrides are dropped)", ", ".join(stale))
            kept = {s: {k: v for k, v in values.items() if editable(s, k)} for s, values in saved.items()}
            try:
                self.store.set_setting(OVERRIDES_KEY, {s: v for s, v in kept.items() if v})
            except (sqlite3.Error, OSError):  # overrides() ignores them all the same; dropped at a later start
                pass

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The saved overrides of editable keys, with the live keys' current values."""
        out = {s: {k: v for k, v in values.items() if editable(s, k)} for s, values in self._saved().items()}
        out = {s: v for s, v in out.items() if v}
        sections = type(self.config).model_fields
        for key in LIVE_KEYS:
            section, name = key.split(".", 1)
            if section in sections and name in sections[section].annotation.model_fields:
                value = self.store.get_setting(key)
                if value is not None:
                    if isinstance(value, float) and value.is_integer():
                        value = int(value)
                    out.setdefault(section, {})[name] = value
        return out

    def effective(self) -> Config:
        overrides = self.overrides()
        key = json.dumps(overrides, sort_keys=True)
        cache = self._cache
        if cache is not None and cache[0] == key:
            return cache[1]
        try:
            config = apply_overrides(self.config, overrides)
        except SettingsError as exc:  # the file changed under an old override: the file wins
            log.warning("ignoring dashboard settings that no longer validate: %s", exc)
            config = self.config
        self._cache = (key, config)
        return config

    def describe(self, health=None) -> list[dict]:
        """Every section and field, with schema, value, file value and whether overridden."""
        effective, overrides = self.effective(), self.overrides()
        out = []
        for section, field in type(self.config).model_fields.items():
            model = field.annotation
            props = _schema(model).get("properties", {})
            fields = []
            for name, schema in props.items():
                if secret(name, schema):
                    continue
                fields.append({"key": name, "label": name.replace("_", " ").capitalize(),
                               "description": model.model_fields[name].description or "",
                               "schema": _plain(schema), "editable": editable(section, name),
                               "value": _json(getattr(getattr(effective, section), name)),
                               "file_value": _json(getattr(getattr(self.config, section), name)),
                               "overridden": name in overrides.get(section, {})})
            status = health.get(section).to_dict() if health is not None and section in health.snapshot() else None
            title = (field.description or section).rstrip(".")
            out.append({"section": section, "title": title, "fields": fields, "status": status})
        return out

    def update(self, changes: dict[str, Any], *, live: dict[str, Callable[[Any], Any]]) -> Config:
        """Validate ``{section: {key: value}}`` against the models and save it durably.

        ``live`` maps each of ``LIVE_KEYS`` to the action that sets it (e.g.
        ``{GOAL_SETTING: lambda ml: actions.set_goal(ml, source="dashboard")}``). It runs
        when the value changes, after every value was validated and before the other
        changes are saved; its refusal (``ActionRefused``) is a SettingsError naming the
        key, and a rate limit (``RateLimited``) passes through, with nothing saved.
        """
        problems: dict[str, str] = {}
        if not isinstance(changes, dict) or not changes:
            raise SettingsError({"settings": "send an object of sections, e.g. {\"bottle\": {\"rate_hz\": 80}}"})
        sections = type(self.config).model_fields
        for section, values in changes.items():
            if section not in sections:
                problems[section] = f"unknown section; allowed: {', '.join(sections)}"
            elif not isinstance(values, dict):
                problems[section] = "must be an object of settings"
            else:
                known = sections[section].annotation.model_fields
                for name in values:
                    if name not in known or secret(name, {}):
                        problems[f"{section}.{name}"] = "unknown setting"
                    elif locked(section, name):
                        problems[f"{section}.{name}"] = locked(section, name)
        if problems:
            raise SettingsError(problems)
        with self._lock:
            merged = {s: dict(v) for s, v in self.overrides().items()}
            for section, values in changes.items():
                merged.setdefault(section, {}).update(values)
            config = apply_overrides(self.config, merged)
            file_data, new_data = self.config.model_dump(mode="json"), config.model_dump(mode="json")
            diff = {s: {k: v for k, v in new_data[s].items() if v != file_data[s].get(k)} for s in new_data}
            for key in LIVE_KEYS:
                section, name = key.split(".", 1)
                unchanged = new_data[section][name] == getattr(getattr(self.effective(), section), name)
                if name in changes.get(section, {}) and not unchanged:  # a section's form sends it each time
                    try:
                        live[key](new_data[section][name])
                    except RateLimited:
                        raise
                    except ActionRefused as exc:
                        raise SettingsError({key: str(exc)}) from None
                diff.get(section, {}).pop(name, None)
            self.store.set_setting(OVERRIDES_KEY, {s: v for s, v in diff.items() if v})
        return self.effective()


@functools.lru_cache(maxsize=64)
def _schema(model) -> dict:
    """A section model's JSON schema (built once: pydantic takes milliseconds for it)."""
    return model.model_json_schema()


def _json(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _plain(schema: dict) -> dict:
    """The field's JSON schema reduced to what a form needs (type, bounds, choices)."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    base = options[0] if len(options) == 1 else schema
    out = {k: base[k] for k in ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                "minLength", "maxLength", "pattern", "format") if k in base}
    if "anyOf" in schema and any(s.get("type") == "null" for s in schema["anyOf"]):
        out["nullable"] = True
    if out.get("type") == "array":
        items = base.get("items", {})
        if "enum" in items:
            out["type"], out["options"] = "multi", items["enum"]
        elif items.get("type") in ("string", "integer", "number"):
            out["type"], out["item_type"] = "list", items["type"]
        else:
            out["type"] = "json"
    if "type" not in out and "enum" not in out or out.get("type") == "object":
        out["type"] = "json"
    return out
