"""End to end in headless Chromium (Debian's chromium driven by Playwright): every page
opens without a console error, and a person acknowledges a reminder, confirms a cramp,
changes the goal, calibrates the simulated scale, logs, corrects and deletes drinks and
sets a day's factors.

The dashboard is served by waitress over a running daemon on the simulated scale
(SimulatedBottle in scripted mode: the test puts weights on it) with a month of history.
With CI=true a missing browser or Playwright is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from dashboard import create_app
from dashboard.scale import WorkerScale
from dashboard.server import DashboardServer, _store_epochs
from device.config import Config
from device.daemon import Daemon
from device.storage.store import Store
from device.workers.calibration import load_calibration
from simulator.history import seed_history
from simulator.rigs import SimulatedBottle
from tests.test_dashboard_fixtures import TZ, TZ_NAME, FakeReminders

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(ok: bool, why: str) -> None:
    if not ok:
        (pytest.fail if IN_CI else pytest.skip)(f"{why} (tools/run-tests installs it)")


def wait_text(page, selector, predicate, timeout=15.0):
    """Poll an element's text from Python (the page's CSP forbids evaluated strings)."""
    deadline = time.monotonic() + timeout
    while True:
        text = page.locator(selector).inner_text()
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} still reads {text!r}")
        page.wait_for_timeout(200)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A live daemon (simulated scale) and its dashboard on a free port."""
    data = tmp_path_factory.mktemp("e2e")
    config = Config.model_validate({"device": {"data_dir": str(data), "timezone": TZ_NAME},
                                    "dashboard": {"enabled": False}})
    with Store(data) as store:
        seed_history(store, 30, end=time.time(), tz=TZ, seed=11, epochs=True)  # with the nights' movement
    hardware = SimulatedBottle(config, scripted=True)
    hardware.place(SimulatedBottle.empty_bottle_g + 500.0)
    daemon = Daemon(config, simulate=True, hardware=hardware)
    daemon.start()
    worker = daemon.bottle
    scale = WorkerScale(worker, lambda: worker.calibration, lambda c: daemon.actions.calibrate(c, source="test"))
    reminders = FakeReminders(clock=time.time)
    reminders.planned = {"t": time.time() + 5400.0, "kind": "hydration", "reason": "behind"}
    app = create_app(config, store=daemon.store, health=daemon.health, scale=scale, reminders=reminders,
                     epochs=_store_epochs(daemon.store))
    server = DashboardServer(app, "127.0.0.1", 0)
    server.start()
    yield {"url": server.url.rstrip("/"), "daemon": daemon, "hardware": hardware, "reminders": reminders}
    server.stop()
    daemon.stop()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "Playwright for Python is not installed")
    _need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, site):
    """A fresh page; the test fails on any console error or uncaught exception."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.base = site["url"]
    page.expected = []  # substrings of console errors a test provokes on purpose
    yield page
    context.close()
    assert [p for p in problems if not any(x in p for x in page.expected)] == []


@pytest.mark.parametrize("path,heading", [("/", "Today"), ("/history", "History"), ("/history?view=week", "History"),
                                          ("/history?view=month", "History"), ("/nights", "Nights"),
                                          ("/settings", "Settings"), ("/calibrate", "Calibrate the scale"),
                                          ("/health", "Health")])
def test_every_page_opens_cleanly(page, path, heading):
    page.goto(page.base + path)
    assert page.locator("h1").first.inner_text() == heading
    if path.startswith("/history") or path == "/":
        page.wait_for_selector(".uplot canvas")  # the vendored chart library drew
    page.wait_for_timeout(300)


SHOTS = os.environ.get("CRAMPWATCH_SCREENSHOTS")  # a directory: save screenshots of the main pages there


PAGES = [("today", "/"), ("history", "/history"), ("nights", "/nights"), ("insights", "/insights"),
         ("settings", "/settings"), ("calibrate", "/calibrate"), ("health", "/health")]
NAV_BOXES = "[...document.querySelectorAll('.nav a')].map(a => a.getBoundingClientRect()).map(r => [r.left, r.right])"


@pytest.mark.parametrize("width,height", [(360, 780), (1280, 900)])
def test_main_pages_fit_a_phone_and_a_laptop(browser, site, width, height):
    """Nothing scrolls sideways and every tab of the navigation is on the screen, at a 360 px phone
    too; with CRAMPWATCH_SCREENSHOTS=DIR the pages are saved as PNG (docs/screenshots)."""
    phone = width < 600
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone,
                                  device_scale_factor=2 if phone else 1)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    site["reminders"].fire(message="Time for a glass of water: 350 mL behind pace")
    try:
        for name, path in PAGES:
            page.goto(site["url"] + path)
            if name == "today":
                assert re.search(r"\d+\s*mL", wait_text(page, "#contents", lambda t: "mL" in t))
                page.wait_for_selector("#reminder-active:not([hidden])")
            if name in ("today", "history", "nights"):
                page.wait_for_selector(".uplot canvas")
            if name == "calibrate":
                wait_text(page, "#reading", lambda t: t != "–")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways"
            boxes = page.evaluate(NAV_BOXES)
            assert len(boxes) == len(PAGES) and all(0 <= a and b <= width for a, b in boxes), (name, boxes)
            if SHOTS:
                page.wait_for_timeout(400)
                page.screenshot(path=os.path.join(SHOTS, f"{name}{'-phone' if phone else ''}.png"), full_page=True)
    finally:
        site["reminders"].current = None
        context.close()
    assert errors == []


def test_acknowledge_a_reminder(page, site):
    reminders = site["reminders"]
    reminders.calls.clear()
    page.goto(page.base + "/")
    assert page.locator("#reminder-none").is_visible()
    reminders.fire(message="Time for a glass of water: 400 mL behind pace")
    page.wait_for_selector("#reminder-active:not([hidden])")  # arrives over the live stream
    assert "400 mL behind pace" in page.locator("#reminder-text").inner_text()
    page.click("#ack")
    page.wait_for_selector("#reminder-none:not([hidden])")
    assert reminders.calls == [("ack",)]
    reminders.fire()
    page.wait_for_selector("#reminder-active:not([hidden])")
    page.click("button.snooze[data-minutes='15']")
    page.wait_for_selector("#toast:has-text('Snoozed')")
    assert reminders.calls[-1] == ("snooze", 15)


def test_confirm_a_cramp_and_add_a_missed_one(page, site):
    store = site["daemon"].store
    page.goto(page.base + "/nights")
    wake = page.locator("li.wake[data-wake]").filter(has_not=page.locator(".badge.cramp, .badge.ok")).first
    wake_id = wake.get_attribute("data-wake")
    wake.locator("button[data-cramp='true']").click()
    page.wait_for_selector(f"li[data-wake='{wake_id}'] .badge.cramp")  # after the reload
    labels = [e for e in store.events(types=["cramp"]) if e.get("wake_id") == wake_id]
    assert labels[-1]["confirmed"] is True and labels[-1]["source"] == "dashboard"
    night = page.locator("section.night").nth(1)
    before = night.locator("li.wake").count()
    night.locator("details.add-cramp summary").click()
    night.locator("input[name=time]").fill("03:17")
    night.locator("button:has-text('Add cramp')").click()
    page.wait_for_selector("#toast:has-text('Cramp added at 03:17')")
    assert page.locator("section.night").nth(1).locator("li.wake").count() == before + 1


def test_change_the_goal(page, site):
    page.expected.append("status of 400")  # the refused goal of 100 mL
    page.goto(page.base + "/settings")
    goal = page.locator("#hydration-goal_ml")
    goal.fill("100")
    page.click("#section-hydration button[type=submit]")
    error = page.locator("#err-hydration-goal_ml")
    error.wait_for(state="visible")
    assert "250" in error.inner_text() and goal.get_attribute("aria-invalid") == "true"
    goal.fill("2400")
    page.click("#section-hydration button[type=submit]")
    page.wait_for_selector("#toast:has-text('Saved')")
    page.goto(page.base + "/")
    assert page.locator("#goal").inner_text().replace("\u202f", " ") == "2 400 mL"
    assert site["daemon"].store.get_setting("hydration.goal_ml") == 2400


def test_calibration_wizard_against_the_simulated_scale(page, site):
    hardware, store = site["hardware"], site["daemon"].store
    page.goto(page.base + "/calibrate")
    hardware.place(0.0)
    time.sleep(0.5)
    page.click("#do-tare")
    page.wait_for_selector(".step.current[data-step=known]", timeout=20_000)
    hardware.place(1000.0)
    time.sleep(0.5)
    page.fill("#known-grams", "1000")
    page.click("#known-form button[type=submit]")
    page.wait_for_selector(".step.current[data-step=empty]", timeout=20_000)
    hardware.place(SimulatedBottle.empty_bottle_g)
    time.sleep(0.5)
    page.click("#do-empty")
    page.wait_for_selector(".step.current[data-step=done]", timeout=20_000)
    assert "counts per gram" in page.locator("#result").inner_text()
    cal = load_calibration(store)
    assert abs(cal.counts_per_gram - SimulatedBottle.COUNTS_PER_GRAM) < 2
    assert abs(cal.offset - SimulatedBottle.OFFSET_COUNTS) < 500
    assert abs(cal.empty_bottle_g - SimulatedBottle.empty_bottle_g) < 2
    hardware.place(SimulatedBottle.empty_bottle_g + 250.0)  # the live reading uses the new calibration at once
    wait_text(page, "#reading", lambda t: t != "–" and abs(float(t.split()[0]) - 560) < 3)


def test_log_in_with_the_password(browser, tmp_path):
    from werkzeug.security import generate_password_hash

    store = Store(tmp_path)
    app = create_app(Config.model_validate({"device": {"data_dir": str(tmp_path), "timezone": TZ_NAME}}),
                     store=store, test_config={"PASSWORD_HASH": generate_password_hash("kitchen-table-9")})
    server = DashboardServer(app, "127.0.0.1", 0)
    server.start()
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(server.url + "nights")
        assert page.locator("h1").inner_text() == "Log in"
        page.fill("#password", "kitchen-table")
        page.click("button[type=submit]")
        assert "not right" in page.locator(".alert").inner_text()
        page.fill("#password", "kitchen-table-9")
        page.click("button[type=submit]")
        page.wait_for_url("**/nights")
        assert page.locator("h1").inner_text() == "Nights"
        page.click("button:has-text('Log out')")
        page.wait_for_url("**/login")
    finally:
        context.close()
        server.stop()
        store.close()
    assert [e for e in errors if "401" not in e] == []  # the refused password is a 401


def _ml(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def test_log_correct_and_delete_drinks_and_set_the_days_factors(page, site):
    """Issue 17: one tap logs a drink of the chosen kind, a typed volume another; a drink is
    corrected and deleted from the list; the factor toggles record today's factors."""
    from datetime import date

    from device.factors import between

    store = site["daemon"].store
    manual = lambda: [e for e in store.events(types=["drink"]) if e["source"] == "manual"]  # noqa: E731
    page.goto(page.base + "/")
    before = _ml(page.locator("#intake").inner_text())

    page.click("#drink-kinds button[data-kind='tea']")
    page.click("button.preset[data-ml='250']")
    wait_text(page, "#intake", lambda t: _ml(t) == before + 250)
    tea = manual()[-1]
    assert (tea["ml"], tea["kind"], tea["via"]) == (250.0, "tea", "dashboard")
    page.wait_for_selector(f"li[data-drink='{tea['id']}'] .badge:has-text('by hand')")
    assert "Tea and coffee today: 250" in page.locator("#caffeine").inner_text()

    page.click("#drink-kinds button[data-kind='water']")
    page.fill("#log-drink-form input[name=ml]", "120")
    page.click("#log-drink-form button[type=submit]")
    wait_text(page, "#intake", lambda t: _ml(t) == before + 370)
    assert [(e["ml"], e["kind"]) for e in manual()[-2:]] == [(250.0, "tea"), (120.0, "water")]

    page.click(f"li[data-drink='{tea['id']}'] button.edit-drink")
    page.fill("#drink-edit input[name=ml]", "200")
    page.select_option("#drink-edit select[name=kind]", "coffee")
    page.click("#drink-edit button[type=submit]")
    wait_text(page, "#intake", lambda t: _ml(t) == before + 320)
    page.wait_for_selector(f"li[data-drink='{tea['id']}'] .badge:has-text('corrected')")
    assert "coffee" in page.locator(f"li[data-drink='{tea['id']}']").inner_text()

    page.click(f"li[data-drink='{tea['id']}'] button.edit-drink")
    page.click("#drink-delete")  # asks once more
    page.click("#drink-delete")
    page.wait_for_selector(f"li[data-drink='{tea['id']}']", state="detached")
    wait_text(page, "#intake", lambda t: _ml(t) == before + 120)
    changes = [c for c in store.events(types=["drink_change"]) if c["drink_id"] == tea["id"]]
    assert [(c.get("ml"), c.get("kind"), c["deleted"]) for c in changes] == [
        (200.0, "coffee", False), (None, None, True)]
    assert tea["id"] in {e["id"] for e in store.events(types=["drink"])}  # still stored: nothing is lost

    page.check("#f-supplement")
    page.wait_for_selector("#f-recorded:has-text('Recorded')")
    page.click("button.exercise[data-exercise='hard']")
    page.wait_for_selector("button.exercise.chosen[data-exercise='hard']")
    page.check("#f-alcohol")
    page.fill("#f-medication", "magnesium 300 mg")
    page.click("#f-medication-form button[type=submit]")
    day = page.locator("#factors").get_attribute("data-day")
    expected = {"supplement": True, "exercise": "hard", "alcohol": True, "medication": "magnesium 300 mg"}
    recorded = lambda: between(store, date.fromisoformat(day), date.fromisoformat(day)).get(day)  # noqa: E731
    deadline = time.monotonic() + 15
    while recorded() != expected:
        assert time.monotonic() < deadline, recorded()
        page.wait_for_timeout(200)
    page.reload()
    assert page.locator("#f-supplement").is_checked() and page.locator("#f-alcohol").is_checked()
    assert page.locator("button.exercise.chosen").get_attribute("data-exercise") == "hard"
    assert page.locator("#f-medication").input_value() == "magnesium 300 mg"


def test_set_a_past_days_factors_from_history(page, site):
    from datetime import date, timedelta

    from device.factors import between

    page.goto(page.base + "/history")
    today = date.fromisoformat(page.locator("#factors").get_attribute("data-day"))
    earlier = (today - timedelta(days=3)).isoformat()
    page.fill("#factors-day", earlier)
    page.wait_for_selector(f"#factors-when:has-text('{earlier}')")
    page.click("button.exercise[data-exercise='light']")
    page.wait_for_selector("#f-recorded:has-text('Recorded')")
    store = site["daemon"].store
    assert between(store, today - timedelta(days=3), today - timedelta(days=3))[earlier] == {"exercise": "light"}
