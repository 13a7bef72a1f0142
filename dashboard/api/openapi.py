"""The OpenAPI 3.1 document of the API (a test checks it lists exactly the routes).

The settings body is generated from the configuration models, like the settings page;
cross-field rules (two pins must differ, say) cannot be written in JSON Schema and are
answered with a 400 naming the fields.
"""

from __future__ import annotations

import functools

from flask import jsonify

from dashboard.api import bp
from dashboard.services import services
from device.actions import DRINK_MAX_AGE_S, DRINK_RANGE_ML, SNOOZE_RANGE_MIN
from device.drinks import KINDS, SOURCES
from device.factors import ALCOHOL_MAX, EXERCISE, FACTORS, MEDICATION_MAX
from device.settings import editable, secret

NUM = {"type": "number"}
INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(required: list[str], **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


ERROR = _obj(["error"], error=STR, fields={"type": "object", "additionalProperties": STR})
BOTTLE = _obj(["live"], live=BOOL, grams=_nullable(NUM), present=_nullable(BOOL), contents_ml=_nullable(NUM), t=NUM)
REMINDER = _nullable({"type": "object", "required": ["message"], "properties": {"kind": STR, "message": STR}})
DRINK = _obj(["id", "t", "time", "ml", "kind", "source"], id=STR, t=NUM, time=STR, ml=NUM, kind={"enum": list(KINDS)},
             source={"enum": list(SOURCES), "description": "bottle: detected by the scale; manual: logged by hand"},
             corrected=BOOL)
TODAY = _obj(["date", "intake_ml", "goal_ml", "pace_ml", "pace_delta_ml", "drinks", "bottle"],
             date={**STR, "description": "the day's local date; a day runs from halfway through the night before to "
                                         "halfway through the night after (03:00 to 03:00 with 07:00 and 23:00)"},
             intake_ml={**NUM, "description": "every drink as it stands: bottle and by hand, corrections applied"},
             caffeine_ml={**NUM, "description": "of which tea and coffee"}, goal_ml=NUM, progress=NUM, pace_ml=NUM,
             pace_delta_ml=NUM,
             drinks={"type": "array", "items": DRINK}, refills=INT, bottle=BOTTLE, reminder=REMINDER,
             last_drink=_nullable({**DRINK, "properties": {**DRINK["properties"], "ago_s": NUM}}),
             next_reminder={"$ref": "#/components/schemas/NextReminder"})
HISTORY = _obj(["view", "goal_ml", "rows"], view={"enum": ["day", "week", "month"]}, goal_ml=NUM,
               rows={"type": "array", "items": _obj(["key", "label", "intake_ml", "days", "met_days"], key=STR,
                                                     label=STR, intake_ml=NUM, caffeine_ml=NUM, days=INT,
                                                     met_days=INT, cramp_nights=INT, recorded_nights=INT)})
NEXT_REMINDER = _nullable(_obj(["t", "kind", "reason", "time"], t=NUM, kind={"enum": ["hydration", "stretch"]},
                               reason={"enum": ["snoozed", "behind", "bedtime"]}, time=STR, tomorrow=BOOL, note=STR))
NULL_NUM = _nullable(NUM)
TRENDS = _obj(["first", "last", "weeks", "cramp_hours"], first=STR, last=STR, weeks={"type": "array", "items": _obj(
    ["week", "first", "nights", "mean_asleep_h", "mean_wakes", "cramp_nights"], week=STR, first=STR, label=STR,
    nights=INT,
    mean_asleep_h=NULL_NUM, mean_wakes=NULL_NUM, cramp_nights=INT)},
    cramp_hours=_obj(["hours", "counts", "cramps"], hours={"type": "array", "items": STR},
                     counts={"type": "array", "items": INT}, cramps=INT, first=STR, last=STR))
CALENDAR = _obj(["days", "cramp_nights", "goal_days"], first=_nullable(STR), last=_nullable(STR), offset=INT,
                goal_ml=NULL_NUM, cramp_nights=INT, goal_days=INT, days={"type": "array", "items": _obj(
                    ["date", "intake_ml", "measured", "goal_met", "level", "recorded", "cramps", "cramp_night"],
                    date=STR, label=STR, intake_ml=NUM, measured=BOOL, goal_met=BOOL,
                    level={"type": "integer", "minimum": 0, "maximum": 4}, recorded=BOOL, cramps=INT,
                    cramp_night=BOOL)})
SPAN = _obj(["start", "end"], start=NUM, end=NUM)
MOVEMENT = _obj(["night", "start", "end", "movement", "points", "sleep", "wakes", "cramps"], night=STR, label=STR,
                tz=STR, start=NUM, end=NUM, movement={**BOOL, "description": "false: no movement is kept here"},
                points={"type": "array", "maxItems": 600, "items": {"type": "array", "items": NUM, "minItems": 2,
                                                                     "maxItems": 2}},
                sleep=_nullable(SPAN), wakes={"type": "array", "items": _obj(
                    ["id", "start", "end", "cramp"], id=STR, start=NUM, end=NUM, bed_exit=BOOL, cramp=BOOL,
                    **{"from": STR, "to": STR})},
                cramps={"type": "array", "items": _obj(["id", "t"], id=STR, t=NUM, time=STR)})
RUN = _obj(["current", "best"], current=INT, best=INT)
WAKE = _obj(["id", "start", "end", "cramp"], id=STR, start=NUM, end=NUM, bed_exit=BOOL, detector=BOOL,
            score=NUM, label=_nullable(BOOL), cramp=BOOL)
NIGHT = _obj(["date", "wakes", "cramps", "wake_count", "cramp_count"], date=STR,
             sleep=_nullable(_obj(["start", "end"], start=NUM, end=NUM, evidence=_nullable(STR),
                                  sureness=_nullable(STR))), wakes={"type": "array", "items": WAKE},
             cramps={"type": "array", "items": _obj(["id", "t"], id=STR, t=NUM)}, wake_count=INT, cramp_count=INT)
CALIBRATION = _obj(["offset", "counts_per_gram"], offset=NUM, counts_per_gram=NUM, empty_bottle_g=_nullable(NUM))
WIZARD = _obj(["step", "current"], step={"enum": ["tare", "known", "empty", "done"]}, known_g=_nullable(NUM),
              current=CALIBRATION, result=_nullable(CALIBRATION), scale=BOOL)
SETTINGS = _obj(["sections"], sections={"type": "array", "items": _obj(
    ["section", "fields"], section=STR, title=STR, fields={"type": "array", "items": _obj(
        ["key", "schema", "editable", "overridden"], key=STR, schema={"type": "object"}, editable=BOOL,
        overridden=BOOL)})})
GROUP = _obj(["label", "nights", "cramp_nights", "rate"], label=STR, nights=INT, cramp_nights=INT, rate=_nullable(NUM))
COMPARISON = _obj(["key", "title", "groups", "enough", "finding", "rate_ratio", "ci_low", "ci_high", "p_value",
                   "sentence"], key={"enum": ["goal", "stretch", "quartiles", *FACTORS, "electrolyte"]}, title=STR,
                  factor={**BOOL, "description": "a daily factor's comparison"},
                  groups={"type": "array", "items": GROUP}, enough=BOOL, finding=BOOL, rate_ratio=_nullable(NUM),
                  ci_low=_nullable(NUM), ci_high=_nullable(NUM), p_value=_nullable(NUM), sentence=STR)
INSIGHT_ROW = _obj(["night", "recorded", "wakes", "cramps", "cramp_night", "intake_ml", "goal_met", "stretched"],
                   night=STR, morning=STR, recorded=BOOL, sleep_start=_nullable(NUM), sleep_end=_nullable(NUM),
                   asleep_h=_nullable(NUM), wakes=INT, bed_exits=INT, cramps=INT, confirmed=INT, cramp_night=BOOL,
                   intake_ml=NUM, intake_measured=BOOL, goal_ml=NUM, goal_met=BOOL, late_intake_ml=NUM, stretched=BOOL,
                   electrolyte=BOOL, factors=_nullable({"type": "object"}))
DOCTOR = _obj(["raised", "cramp_nights", "nights", "threshold", "message"], raised=BOOL, cramp_nights=INT, nights=INT,
              threshold=INT, message=_nullable(STR))
INSIGHTS = _obj(["enough", "nights", "needed", "message", "comparisons", "rows", "doctor", "summary", "note"],
                enough=BOOL, nights=INT, needed=INT, message=_nullable(STR), alpha=NUM, first=STR, last=STR,
                goal_ml=NUM, late_intake_h=NUM, comparisons={"type": "array", "items": COMPARISON},
                rows={"type": "array", "items": INSIGHT_ROW}, doctor=DOCTOR, summary={"type": "object"}, note=STR)
EXERCISE_LEVEL = {"enum": list(EXERCISE)}
ALCOHOL = {"anyOf": [BOOL, {"type": "integer", "minimum": 0, "maximum": ALCOHOL_MAX}],
           "description": "true/false or a number of drinks"}
MEDICATION = {"type": "string", "maxLength": MEDICATION_MAX, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
              "description": "free text, one line; an empty string clears it"}
FACTORS_OUT = _obj(["day", "recorded", *FACTORS, "electrolyte_ml", "today"], day=STR, recorded=BOOL,
                   supplement=_nullable(BOOL), exercise=_nullable(EXERCISE_LEVEL), alcohol=_nullable(ALCOHOL),
                   medication=_nullable(STR), electrolyte_ml=NUM, today=STR, changed=BOOL)
HEALTH = _obj(["overall", "components", "version", "storage"], overall=STR, components={"type": "object"},
              version=STR, storage=_obj(["events"], events=INT))


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict:
    return _json({"$ref": "#/components/schemas/Error"}, description)


DATE = {"type": "string", "format": "date", "pattern": r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$",
        "description": "A date from 2000-01-01 to 2100-12-31"}
CLOCK = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "03:40"}


@functools.lru_cache(maxsize=8)
def _settings_body(config_cls) -> dict:
    """``{section: {key: value}}`` for every editable setting, from the pydantic models."""
    sections = {}
    for name, field in config_cls.model_fields.items():
        schema = field.annotation.model_json_schema()
        props = {k: {x: y for x, y in v.items() if x not in ("title", "default")}
                 for k, v in schema.get("properties", {}).items() if editable(name, k) and not secret(k, v)}
        if props:
            sections[name] = {"type": "object", "properties": props, "additionalProperties": False}
            if "$defs" in schema:
                sections[name]["$defs"] = schema["$defs"]
    return {"type": "object", "properties": sections, "additionalProperties": False, "minProperties": 1}


def _op(summary: str, ok: dict, *, body: dict | None = None, params: list | None = None, errors=(),
        status: str = "200") -> dict:
    op = {"summary": summary, "responses": {status: ok, "401": _err("Not logged in")}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    for code in errors:
        op["responses"][str(code)] = _err({400: "Invalid input (the field is named)", 403: "CSRF token missing",
                                           404: "Not found", 409: "Not possible now", 415: "Not JSON",
                                           422: "Cannot calibrate with these readings",
                                           429: "Asked too often; wait Retry-After seconds",
                                           503: "Service unavailable"}[code])
    if "429" in op["responses"]:
        op["responses"]["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1},
                                                             "description": "Seconds until it is allowed again"}}
    return op


def _q(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


CHANGE = (400, 403, 415)
ML = {"type": "number", "minimum": DRINK_RANGE_ML[0], "maximum": DRINK_RANGE_ML[1]}
DRINK_ID = {"name": "drink_id", "in": "path", "required": True, "schema": STR,
            "description": "drink-<ms> (bottle) or drink-<ms>-manual"}


def document() -> dict:
    """The OpenAPI 3.0 document."""
    paths = {
        "/today": {"get": _op("Today's intake, pace, drinks, bottle and reminder", _json(TODAY))},
        "/history": {"get": _op("Daily totals or weekly/monthly averages", _json(HISTORY), params=[
            _q("view", {"type": "string", "enum": ["day", "week", "month"]}, "Grouping"),
            _q("count", {"type": "integer", "minimum": 1, "maximum": 366}, "How many days/weeks/months (up to 366)")],
            errors=(400,))},
        "/streaks": {"get": _op("Runs of days at the goal and of stretching", _json(_obj(["goal", "stretch"],
                                                                                      goal=RUN, stretch=RUN)))},
        "/bottle": {"get": _op("The scale's live reading", _json(BOTTLE))},
        "/nights": {"get": _op("Nights with wake-ups and cramps", _json(_obj(
            ["nights"], nights={"type": "array", "items": NIGHT}, doctor=DOCTOR, doctor_note=_nullable(STR))), params=[
            _q("last", DATE, "The newest night (its evening's date)"),
            _q("count", {"type": "integer", "minimum": 1, "maximum": 62}, "How many nights")], errors=(400,))},
        "/wakes/{wake_id}/label": {"post": _op(
            "Confirm or deny that a wake-up was a cramp",
            _json(_obj(["id", "wake_id", "cramp"], id=STR, wake_id=STR, cramp=BOOL)),
            body=_obj(["cramp"], cramp=BOOL), errors=CHANGE + (404, 429),
            params=[{"name": "wake_id", "in": "path", "required": True, "schema": STR}])},
        "/cramps": {"post": _op(
            "Add a cramp the detector missed", _json(_obj(["id", "t", "night"], id=STR, t=NUM, time=STR,
                                                          night=STR, created=BOOL)),
            body={"oneOf": [_obj(["t"], t={"type": "number", "minimum": round(services().clock()) - 366 * 86400,
                                            "maximum": round(services().clock()) + 300,
                                            "description": "Unix time, within the last year"}),
                            _obj(["night", "time"], night=DATE, time=CLOCK)]},
            errors=CHANGE + (429,), status="201")},
        "/drinks": {"post": _op(
            "Log a drink not from the bottle (source manual); the same t again is the same drink (200)",
            _json({**DRINK, "properties": {**DRINK["properties"], "created": BOOL}}),
            body={**_obj(["ml"], ml=ML, kind={"enum": list(KINDS), "default": "water"},
                         t={"type": "number", "minimum": round(services().clock() - DRINK_MAX_AGE_S),
                            "maximum": round(services().clock()) + 300,
                            "description": "Unix time, within the last week (now when absent)"}),
                  "additionalProperties": False},
            errors=CHANGE + (429,), status="201")},
        "/drinks/{drink_id}": {
            "patch": _op("Correct a stored drink's volume or kind (stored as a correction; the drink stays)",
                         _json({**DRINK, "properties": {**DRINK["properties"], "changed": BOOL}}),
                         body={**_obj([], ml=ML, kind={"enum": list(KINDS)}), "minProperties": 1,
                               "additionalProperties": False},
                         errors=CHANGE + (404, 409, 429), params=[DRINK_ID]),
            "delete": _op("Delete a stored drink (stored as a deletion; left out of every total)",
                          _json({**DRINK, "properties": {**DRINK["properties"], "deleted": BOOL, "changed": BOOL}}),
                          errors=(403, 404, 429), params=[DRINK_ID])},
        "/factors": {
            "get": _op("A day's factors (null where never set) and its electrolyte drinks", _json(FACTORS_OUT),
                       params=[_q("day", DATE, "The local day (today when absent)")], errors=(400,)),
            "patch": _op("Record factors for a day (today without day); only the ones given change",
                         _json(FACTORS_OUT),
                         body={**_obj([], day=DATE, supplement=BOOL, exercise=EXERCISE_LEVEL, alcohol=ALCOHOL,
                                      medication=MEDICATION),
                               "anyOf": [{"required": [k]} for k in FACTORS], "additionalProperties": False},
                         errors=CHANGE + (429,))},
        "/reminder": {"get": _op("The active reminder and the next one planned", _json(_obj(
            ["active"], active=REMINDER, next={"$ref": "#/components/schemas/NextReminder"})))},
        "/nights/trends": {"get": _op(
            "Sleep, wake-ups and cramp nights per week; cramps by hour of the night", _json(TRENDS),
            params=[_q("weeks", {"type": "integer", "minimum": 1, "maximum": 104}, "How many weeks (default 12)")],
            errors=(400,))},
        "/nights/{night}/movement": {"get": _op(
            "A night's movement, downsampled, with its sleep period, wake-ups and cramps", _json(MOVEMENT),
            params=[{"name": "night", "in": "path", "required": True, "schema": DATE,
                     "description": "The night (its evening's date)"},
                    _q("points", {"type": "integer", "minimum": 10, "maximum": 600},
                       "At most this many points (default 240)")], errors=(400,))},
        "/calendar": {"get": _op(
            "Each day's intake against the goal and the cramps of the night after it", _json(CALENDAR),
            params=[_q("weeks", {"type": "integer", "minimum": 1, "maximum": 53}, "How many weeks (default 12)")],
            errors=(400,))},
        "/reminder/ack": {"post": _op("Acknowledge the active reminder", _json(_obj(["active"], active=REMINDER)),
                                      errors=(403, 409, 429, 503))},
        "/reminder/snooze": {"post": _op("Snooze the active reminder", _json(_obj(["active"], active=REMINDER)),
                                         body=_obj(["minutes"], minutes={"type": "integer", "minimum": SNOOZE_RANGE_MIN[0],
                                                                         "maximum": SNOOZE_RANGE_MIN[1]}),
                                         errors=CHANGE + (409, 429, 503))},
        "/settings": {"get": _op("Every setting with its schema and value", _json(SETTINGS)),
                      "patch": _op("Change settings (validated like the config file)", _json(SETTINGS),
                                   body=_settings_body(type(services().config)),
                                   errors=CHANGE)},
        "/calibration": {"get": _op("The calibration and the wizard's step", _json(WIZARD))},
        "/calibration/tare": {"post": _op("Step 1: read the empty scale", _json(WIZARD), errors=(403, 409, 503))},
        "/calibration/known": {"post": _op("Step 2: a known weight is on the scale", _json(WIZARD),
                                           body=_obj(["grams"], grams={"type": "number", "minimum": 1,
                                                                       "maximum": 50000}),
                                           errors=CHANGE + (409, 422, 503))},
        "/calibration/empty": {"post": _op("Step 3: the empty bottle is on the scale; save", _json(WIZARD),
                                           body=_obj([], skip=BOOL), errors=CHANGE + (409, 422, 503))},
        "/calibration/reset": {"post": _op("Start the wizard again", _json(WIZARD), errors=(403,))},
        "/health": {"get": _op("Sensors, MQTT, storage and version", _json(HEALTH))},
        "/insights": {"get": _op("Cramp nights by intake and stretching: per-night table, comparisons, doctor flag",
                                 _json(INSIGHTS), params=[_q("weeks", {"type": "integer", "minimum": 0, "maximum": 520},
                                                            "Only the last N weeks (0 or absent: all nights)")],
                                 errors=(400,))},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": _json({"type": "object"})}}},
        "/stream": {"get": _op("Live updates (Server-Sent Events)", {
            "description": "An event stream: events 'weight', 'reminder', 'health', 'event'",
            "content": {"text/event-stream": {"schema": STR}}}, errors=(503,))},
    }
    paths["/cramps"]["post"]["responses"]["200"] = _json(_obj(["id"], id=STR), "Already recorded")
    paths["/drinks"]["post"]["responses"]["200"] = _json(DRINK, "Already recorded (the same t)")
    return {"openapi": "3.1.0",
            "info": {"title": "crampwatch dashboard API", "version": services().version,
                     "description": "Changes need a session cookie and the X-CSRF-Token header."},
            "servers": [{"url": "/api/v1"}], "paths": paths,
            "components": {"schemas": {"Error": ERROR, "NextReminder": NEXT_REMINDER},
                           "securitySchemes": {"session": {"type": "apiKey", "in": "cookie",
                                                           "name": "crampwatch_session"}}},
            "security": [{"session": []}]}


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3 document."""
    return jsonify(document())
