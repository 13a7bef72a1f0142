"""Insights on the daily factors (issue 17 part 2): a planted effect is found with the same
exact test and intervals as hydration and stretching, no effect is rarely claimed, and too
few recorded days say "not enough nights yet"."""

from __future__ import annotations

import random
from datetime import timedelta

from device.insights import analysis
from device.storage.store import Store
from tests.test_insights import FIRST, at, by_key, config
from vocabulary.events import DailyFactors, Drink, Sleep, Wake

FACTOR_KEYS = ("supplement", "exercise", "alcohol", "medication", "electrolyte")


def plant(store: Store, nights: int, *, seed: int, hard: float = 1.0, electrolyte: float = 1.0,
          recorded: float = 1.0, base: float = 0.2) -> list[bool]:
    """``nights`` days and nights with factors recorded on a share ``recorded`` of the days.

    Cramp nights are ``hard`` times as likely after a day of hard exercise and ``electrolyte``
    times after a day with an electrolyte drink (logged by hand); the other factors vary at
    random with no effect. Returns the planted cramp nights.
    """
    rng = random.Random(seed)
    truth = []
    for k in range(nights):
        day = FIRST + timedelta(days=k)
        exercise = rng.choice(["none", "none", "light", "hard"])
        salts = rng.random() < 0.3
        events: list = [Drink(t=at(day, h), ml=350.0) for h in (8, 11, 14, 17, 20)]
        if salts:
            events.append(Drink(t=at(day, 15.5), ml=330.0, source="manual", kind="electrolyte", via="dashboard"))
        if rng.random() < recorded:
            events.append(DailyFactors(t=at(day, 21.0), day=day.isoformat(), exercise=exercise,
                                       supplement=rng.random() < 0.4, alcohol=rng.choice([False, False, 1, 2]),
                                       medication=rng.choice(["", "", "ibuprofen"]), source="dashboard"))
        p = base * (hard if exercise == "hard" else 1.0) * (electrolyte if salts else 1.0)
        cramp = rng.random() < p
        truth.append(cramp)
        events += [Sleep(start=at(day, 23.4), end=at(day, 30.8)),
                   Wake(start=at(day, 27.0), end=at(day, 27.1), bed_exit=True, cramp=cramp, score=0.7)]
        store.add_events(events)
    return truth


def analyse_planted(nights: int, seed: int, **kw) -> dict:
    store = Store(":memory:")
    truth = plant(store, nights, seed=seed, **kw)
    result = analysis.analyse(store, config(), at(FIRST + timedelta(days=nights), 12.0))
    assert [r["cramp_night"] for r in result["rows"]] == truth
    return result


def test_a_planted_hard_exercise_effect_is_found_on_most_seeds():
    found = []
    for seed in range(20):
        exercise = by_key(analyse_planted(200, seed, hard=3.0), "exercise")
        assert [g["label"] for g in exercise["groups"]] == ["With hard exercise", "With light or no exercise"]
        assert exercise["test"] == "Fisher's exact test, two-sided" and exercise["factor"]
        found.append(exercise["finding"] and exercise["rate_ratio"] > 1.0 and exercise["ci_low"] > 1.0)
    print(f"planted exercise effect found on {sum(found)} of {len(found)} seeds")
    assert sum(found) >= 15
    sentence = by_key(analyse_planted(200, 1, hard=3.0), "exercise")["sentence"]
    assert "after days with hard exercise" in sentence and "not proof of a cause" in sentence


def test_a_planted_electrolyte_effect_comes_from_the_drinks_logged_by_hand():
    found = []
    for seed in range(20, 30):
        salts = by_key(analyse_planted(200, seed, electrolyte=0.25, base=0.35), "electrolyte")
        found.append(salts["finding"] and salts["rate_ratio"] < 1.0 and salts["ci_high"] < 1.0)
    assert sum(found) >= 7, found
    assert "less common after days with an electrolyte drink" in salts["sentence"]


def test_no_factor_effect_is_rarely_claimed():
    claims = []
    for seed in range(100, 140):
        result = analyse_planted(160, seed)
        claims += [by_key(result, key)["finding"] for key in FACTOR_KEYS]
    print(f"no-effect claims: {sum(claims)} of {len(claims)} factor comparisons")
    assert sum(claims) <= 0.08 * len(claims)  # Fisher's test is conservative: nominal 5%


def test_days_without_a_record_are_left_out_and_too_few_say_not_enough_nights_yet():
    result = analyse_planted(120, 5, hard=3.0, recorded=0.5)
    recorded_days = sum(1 for r in result["rows"] if r["factors"] is not None)
    assert 40 < recorded_days < 80 and result["summary"]["factor_days"] == recorded_days
    exercise = by_key(result, "exercise")
    assert sum(g["nights"] for g in exercise["groups"]) == recorded_days  # unrecorded days are unknown, not "no"
    few = analyse_planted(120, 5, recorded=0.04)
    for key in ("supplement", "exercise", "alcohol", "medication"):
        c = by_key(few, key)
        assert not c["enough"] and not c["finding"] and c["p_value"] is None, c
        assert c["sentence"].startswith("Not enough nights yet to compare")
    assert by_key(few, "electrolyte")["enough"]  # drinks are measured every day


def test_a_factor_left_unset_on_a_recorded_day_counts_as_no():
    store = Store(":memory:")
    plant(store, 40, seed=3)
    day = FIRST + timedelta(days=45)
    store.add_events([Sleep(start=at(day, 23.4), end=at(day, 30.8)),
                      DailyFactors(t=at(day, 20.0), day=day.isoformat(), supplement=True)])
    row = analysis.analyse(store, config(), at(day + timedelta(days=1), 12.0))["rows"][-1]
    assert row["factors"] == {"supplement": True, "exercise": "none", "alcohol": False, "medication": ""}


def test_the_insights_page_and_api_show_the_factor_comparisons():
    from dashboard import create_app

    store = Store(":memory:")
    plant(store, 120, seed=2, hard=3.0, recorded=0.6)
    now = at(FIRST + timedelta(days=120), 12.0)
    client = create_app(config(), store=store, clock=lambda: now, test_config={"TESTING": True}).test_client()
    html = client.get("/insights?weeks=all").get_data(as_text=True)
    assert 'id="factors-intro"' in html and "Factors recorded for" in html
    card = html[html.index('id="cmp-exercise"'):]
    assert card.index("<svg") < card.index("</section>") and "With hard exercise" in card
    data = client.get("/api/v1/insights?weeks=0").get_json()
    exercise = by_key(data, "exercise")
    assert exercise["enough"] and exercise["p_value"] is not None and exercise["factor"] is True
    assert {r["factors"]["exercise"] for r in data["rows"] if r["factors"]} == {"none", "light", "hard"}
