"""Issue 17 part 4 in headless Chromium: the pictures draw from the data they claim to show,
with no console error (the ``page`` fixture fails on any).

The site is test_dashboard_browser's: a live daemon on the simulated scale over a month of
seeded history with each night's movement, and a reminder service whose plan is known.
Expected figures are counted from the store with the owners' functions, not read back
from the page.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

from dashboard import nights as night_data
from dashboard.localtime import clock
from device.insights import analysis
from scheduler import policy
from tests.test_dashboard_browser import browser, page, site, wait_text  # noqa: F401  (fixtures)

NUMBER = re.compile(r"\d")


def config_of(site):
    return site["daemon"].config


def plotted(page, element_id, series):
    """The values of one series of a drawn chart (charts.js keeps each plot by its element's id)."""
    return page.evaluate(f"cwCharts.plots[{element_id!r}].data[{series}]")


def legend_values(page, chart):
    return [v.inner_text() for v in page.locator(f"#{chart} .u-legend .u-value").all()]


def test_history_marks_each_cramp_night_on_the_intake_chart(page, site):
    config, store = config_of(site), site["daemon"].store
    page.goto(page.base + "/history")
    page.wait_for_selector("#history-chart .uplot canvas")
    last = policy.day_of(time.time(), config.hydration, config.tz)
    rows = analysis.nights(store, config, last - timedelta(days=29), last)
    marks = plotted(page, "history-chart", 3)
    assert len(marks) == 30 == len(rows)
    assert [m is not None for m in marks] == [r["cramp_night"] for r in rows]  # each on its own day
    assert sum(m is not None for m in marks) == sum(r["cramp_night"] for r in rows) >= 3
    intake = plotted(page, "history-chart", 1)
    assert all(m > v for m, v in zip(marks, intake) if m is not None)  # the dot sits over its bar
    assert f"{sum(r['cramp_night'] for r in rows)} cramp nights" in page.locator("#history-cramps").inner_text()


def test_legends_show_values_before_any_hover_and_after_it(page, site):
    for path, charts in (("/", ["today-chart"]), ("/history", ["history-chart"]),
                         ("/nights", ["sleep-chart", "hours-chart"])):
        page.goto(page.base + path)
        for chart in charts:
            page.wait_for_selector(f"#{chart} .uplot canvas")
            values = legend_values(page, chart)
            assert values and all(NUMBER.search(v) for v in values), (path, chart, values)
        box = page.locator(f"#{charts[0]} .u-over").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)  # a hover shows that point
        page.mouse.move(1, 1)  # and leaving brings the resting values back, never "–"
        page.wait_for_timeout(100)
        assert all(NUMBER.search(v) for v in legend_values(page, charts[0])), path


def test_sleep_weeks_and_cramp_hours_on_the_nights_page(page, site):
    config, store = config_of(site), site["daemon"].store
    page.goto(page.base + "/nights")
    page.wait_for_selector("#hours-chart .uplot canvas")
    last = analysis.last_night_day(time.time(), config)
    first = last - timedelta(days=last.weekday() + 7 * 11)
    nights = night_data.nights(store, config.tz, last, (last - first).days + 1, timeline=False)
    cramps = sum(n["cramp_count"] for n in nights)
    bars = plotted(page, "hours-chart", 1)
    assert sum(bars) == cramps == int(page.locator("#hours-total").inner_text()) > 0  # every cramp, once
    hours = plotted(page, "hours-chart", 0)
    assert len(hours) == len(bars) >= 12
    slept = plotted(page, "sleep-chart", 1)
    assert len(slept) == 12 and all(5 < h < 10 for h in slept if h is not None) and slept[-1] is not None


def test_a_nights_movement_is_drawn_with_its_wake_ups(page, site):
    page.goto(page.base + "/nights")
    first = page.locator("details.movement[open]").first
    night = first.get_attribute("data-night")
    page.wait_for_selector(f"#move-{night} .uplot canvas")
    card = page.locator(f"#night-{night}")
    bands = page.evaluate(f"cwCharts.plots['move-{night}'].cwBands.length")
    assert bands == card.locator("li.wake").count()  # each wake-up (and cramp logged alone) is on the trace
    assert len(plotted(page, f"move-{night}", 1)) > 20
    other = page.locator("details.movement:not([open])").first
    other_night = other.get_attribute("data-night")
    other.locator("summary").click()  # drawn when opened
    page.wait_for_selector(f"#move-{other_night} .uplot canvas")
    assert 20 < len(plotted(page, f"move-{other_night}", 1)) <= 600


def test_the_calendar_marks_cramp_nights_and_goal_days(page, site):
    config, store = config_of(site), site["daemon"].store
    page.goto(page.base + "/insights")
    last = analysis.last_night_day(time.time(), config)
    rows = analysis.nights(store, config, last - timedelta(days=7 * 12 - 1), last)
    assert page.locator("#cal-grid .cal-day").count() == len(rows)
    assert page.locator("#cal-grid .cal-day.cramp").count() == sum(r["cramp_night"] for r in rows) >= 3
    goal_days = sum(r["goal_met"] and r["intake_measured"] for r in rows)
    assert page.locator("#cal-grid .cal-day.goal").count() == goal_days
    assert page.locator("#cal-cramp-nights").inner_text() == str(sum(r["cramp_night"] for r in rows))
    cramp_day = page.locator("#cal-grid .cal-day.cramp").first
    assert "cramp" in cramp_day.get_attribute("title")


def test_today_says_how_long_since_the_last_drink_and_when_the_next_reminder_is(page, site):
    page.goto(page.base + "/")
    since = wait_text(page, "#since-drink", lambda t: "ago" in t or t == "just now")
    assert re.fullmatch(r"just now|\d+ min ago|\d+ h( \d+ min)? ago", since), since
    planned = site["reminders"].planned
    expected = f"A drink at {clock(planned['t'], config_of(site).tz)}"
    assert page.locator("#next-reminder").inner_text().startswith(expected)
    assert page.locator("#next-note").inner_text() == "if nothing is drunk before then"
