"""The Insights page, its API and the doctor's report load no scipy (issue 16).

scipy alone cost the daemon ~70 MB, against a budget of 80 MB on a Pi Zero 2 W; the
exact test and the interval are plain Python now (device/insights/stats.py). Nothing a person
opens in the dashboard may load scipy, pandas or matplotlib lazily either: a fresh
interpreter builds the dashboard over months of history, opens every page and API
GET, writes the report and the CSV summaries, and says which of them it has loaded.
Memory itself is measured in benchmarks/daemon_memory.py, not here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy", "pandas", "matplotlib")
RUNTIME = ("vocabulary", "device", "sensors", "scheduler", "dashboard", "simulator")

OPEN_EVERYTHING = r"""
import json, re, sys, tempfile
from urllib.parse import urlsplit

from dashboard import create_app
from device.insights import report
from device.health import Health
from device.storage.store import Store
from simulator.history import seed_history
from tests.test_dashboard_fixtures import NOW, TZ, make_config

HEAVY = %(heavy)r
store = Store(":memory:", clock=lambda: NOW)
seed_history(store, 90, end=NOW, tz=TZ, seed=3)
config = make_config()
client = create_app(config, store=store, health=Health(clock=lambda: NOW), clock=lambda: NOW,
                    test_config={"TESTING": True}).test_client()
assert not [m for m in HEAVY if m in sys.modules], "loaded before any page"

def get(url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return r.get_data(as_text=True)

opened = []
home = get("/")
nav = re.findall(r'href="([^"]+)"', re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', home, re.DOTALL).group(1))
for page in nav:
    html = get(page)
    opened.append(page)
    for href in dict.fromkeys(re.findall(r'href="([^"#]+)"', html)):
        href = href.replace("&amp;", "&")
        if urlsplit(href).path == page and urlsplit(href).query:
            get(href)
            opened.append(href)
document = json.loads(get("/api/v1/openapi.json"))
for path, ops in document["paths"].items():
    if "get" in ops and "{" not in path and path != "/stream":  # the live stream never ends
        get("/api/v1" + path)
        opened.append("/api/v1" + path)
insights = client.get("/api/v1/insights").get_json()
html = report.write_report(store, config, 13, now=NOW)
with tempfile.TemporaryDirectory() as out:
    report.write_summaries(store, config, out, now=NOW)
print(json.dumps({"opened": opened, "loaded": [m for m in HEAVY if m in sys.modules],
                  "p_values": [c["p_value"] for c in insights["comparisons"] if not c.get("factor")],
                  "report_has_p": "exact test p =" in html}))
"""


def test_no_page_api_get_or_report_loads_scipy_or_other_heavy_libraries():
    run = subprocess.run([sys.executable, "-c", OPEN_EVERYTHING % {"heavy": HEAVY}], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"/insights", "/insights?weeks=all", "/nights", "/history", "/settings", "/health",
            "/calibrate", "/api/v1/insights", "/api/v1/today"} <= set(result["opened"])
    # the exact tests really ran: every comparison has its p-value, the report prints them (the
    # daily factors' have none here: no factor is recorded in the simulated history)
    assert len(result["p_values"]) == 3 and all(p is not None for p in result["p_values"])
    assert result["report_has_p"]
    assert result["loaded"] == []


def test_the_runtime_packages_never_import_scipy_pandas_or_matplotlib():
    found = []
    for package in RUNTIME:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in HEAVY]
    assert found == []
