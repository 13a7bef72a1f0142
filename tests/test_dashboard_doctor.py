"""The Nights page and its API show the one doctor flag (device.insights.analysis), as the MQTT state does."""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from dashboard import create_app
from device.health import Health
from device.insights import analysis
from device.mqtt.state import daemon_state
from device.storage.store import Store
from tests.test_dashboard_fixtures import TZ, make_config
from vocabulary.events import CrampLog, Sleep, Wake

FIRST = date(2026, 11, 17)  # the nights after 17 to 23 November; "last night" is the 23rd's


def at(day: date, hour: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() + hour * 3600.0


def seven_nights(store: Store, cramps: set[int], *, denied: set[int] = frozenset()) -> None:
    for k in range(7):
        day = FIRST + timedelta(days=k)
        wake = Wake(start=at(day, 27.0), end=at(day, 27.1), bed_exit=True, cramp=k in cramps, score=0.8)
        store.add_events([Sleep(start=at(day, 23.5), end=at(day, 30.8)), wake])
        if k in denied:
            store.add_event(CrampLog(t=at(day, 31.2), confirmed=False, wake_id=wake.id, source="dashboard"))


def site(store: Store, now: float, **sections):
    config = make_config(**sections)
    app = create_app(config, store=store, health=Health(clock=lambda: now), clock=lambda: now,
                     test_config={"TESTING": True})
    return config, app.test_client()


def note_of(page: str) -> str | None:
    start = page.find('class="alert doctor"')
    if start < 0:
        return None
    return html.unescape(page[page.index(">", start) + 1:page.index("</p>", start)])


# 22:00 on the 24th: tonight (the 24th's night) is on the page already, but it has not happened;
# the flag counts the seven nights up to last night, where three had cramps.
NOW = at(FIRST + timedelta(days=7), 22.0)


def test_the_nights_page_the_api_and_the_mqtt_state_agree():
    store = Store(":memory:")
    seven_nights(store, {0, 3, 6})
    config, client = site(store, NOW)
    flag = analysis.doctor_flag_at(store, config, NOW)
    assert flag["raised"] and flag["cramp_nights"] == 3 and flag["nights"] == 7
    mqtt = daemon_state(SimpleNamespace(store=store, config=config, reminders=None, bottle=None), NOW)["doctor_flag"]
    assert mqtt == flag
    assert note_of(client.get("/nights").get_data(as_text=True)) == flag["message"]
    api = client.get("/api/v1/nights").get_json()
    assert api["doctor"] == flag and api["doctor_note"] == flag["message"]


@pytest.mark.parametrize("query", ["?last=2026-11-01", "?last=2026-11-20"])
def test_an_older_page_shows_the_same_flag(query):
    store = Store(":memory:")
    seven_nights(store, {0, 3, 6})
    config, client = site(store, NOW)
    message = analysis.doctor_flag_at(store, config, NOW)["message"]
    assert note_of(client.get("/nights" + query).get_data(as_text=True)) == message
    assert client.get("/api/v1/nights" + query + "&count=3").get_json()["doctor_note"] == message


def test_a_denied_cramp_and_the_configured_thresholds_count_on_the_nights_page_too():
    store = Store(":memory:")
    seven_nights(store, {0, 3, 6}, denied={6})  # the person said the last one was no cramp
    _, client = site(store, NOW)
    assert note_of(client.get("/nights").get_data(as_text=True)) is None
    assert client.get("/api/v1/nights").get_json()["doctor"]["cramp_nights"] == 2
    store = Store(":memory:")
    seven_nights(store, {0, 3, 6})
    _, client = site(store, NOW, insights={"doctor_nights": 4})
    assert note_of(client.get("/nights").get_data(as_text=True)) is None
    assert client.get("/api/v1/nights").get_json()["doctor"]["threshold"] == 4
