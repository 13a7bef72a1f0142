"""A printable report for a doctor's visit: one self-contained HTML file, charts as inline SVG.

``crampwatch report --weeks N [--out FILE]`` writes it from :func:`device.insights.analysis.analyse`:
the period's nights, cramps, intake and stretching, week by week and night by night, the
group comparisons and the doctor note. No script, no external file, no web font: it
opens and prints anywhere, offline. The SVG charts here are also the Insights page's.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from html import escape
from typing import Any

from device.config import Config
from device.factors import FACTORS
from device.identity import device_id

CRAMP, WATER, STRETCH, GOAL, MUTED = "#d13f3f", "#3b8ef0", "#23965b", "#5d6a7a", "#8a96a6"


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}".replace(",", "\u202f")


# -- SVG charts ------------------------------------------------------------------------------
def svg_group_rates(comparison: dict[str, Any], *, width: int = 340) -> str:
    """Bars: the share of cramp nights in each group of a comparison (label above each bar).

    Drawn at its natural size where there is room and scaled down on a narrow screen
    (width 100 %, fixed height, ``meet``), so the labels stay legible on a phone.
    """
    groups = comparison.get("groups") or []
    if not groups:
        return ""
    row, bar_h, span = 40, 16, 230
    height = len(groups) * row + 4
    parts = [f'<svg class="insight-chart rates" viewBox="0 0 {width} {height}" width="100%" height="{height}" '
             f'preserveAspectRatio="xMinYMin meet" role="img" '
             f'aria-label="{escape(comparison["title"])}: share of nights with cramps per group">']
    for k, g in enumerate(groups):
        y = k * row + 4
        rate = g["rate"] or 0.0
        parts.append(f'<text x="0" y="{y + 11}" font-size="12" fill="currentColor">{escape(g["label"])}</text>')
        parts.append(f'<rect x="0" y="{y + 16}" width="{span}" height="{bar_h}" fill="{MUTED}" fill-opacity="0.2"/>')
        parts.append(f'<rect x="0" y="{y + 16}" width="{span * rate:.1f}" height="{bar_h}" fill="{CRAMP}">'
                     f'<title>{g["cramp_nights"]} of {g["nights"]} nights</title></rect>')
        parts.append(f'<text x="{span + 6}" y="{y + 28}" font-size="12" fill="currentColor">'
                     f'{round(100 * rate)}% ({g["cramp_nights"]}/{g["nights"]})</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_nights(rows: list[dict[str, Any]], *, width: int = 720) -> str:
    """One column per night: the day's intake against the goal, cramps and stretching."""
    if not rows:
        return ""
    height, top, base = 150, 14, 110
    step = width / len(rows)
    goal = max(r["goal_ml"] for r in rows) or 1.0
    peak = max([goal * 1.5] + [r["intake_ml"] for r in rows])
    scale = (base - top) / peak
    parts = [f'<svg class="insight-chart nights" viewBox="0 0 {width} {height}" '
             f'width="100%" height="{height}" preserveAspectRatio="xMinYMin meet" role="img" '
             f'aria-label="Intake per day, cramp nights and stretching">']
    gy = base - goal * scale
    for k, r in enumerate(rows):
        x = k * step
        bar = r["intake_ml"] * scale
        if r["intake_measured"]:
            parts.append(f'<rect x="{x + step * 0.15:.1f}" y="{base - bar:.1f}" width="{step * 0.7:.1f}" '
                         f'height="{bar:.1f}" fill="{WATER}" fill-opacity="{1.0 if r["goal_met"] else 0.55}">'
                         f'<title>{r["night"]}: {round(r["intake_ml"])} mL</title></rect>')
        if r["stretched"]:
            parts.append(f'<rect x="{x + step * 0.15:.1f}" y="{base + 6}" width="{step * 0.7:.1f}" height="8" '
                         f'fill="{STRETCH}"><title>{r["night"]}: stretched</title></rect>')
        if r["cramp_night"]:
            parts.append(f'<circle cx="{x + step / 2:.1f}" cy="{base + 24}" r="{min(6.0, max(2.0, step * 0.35)):.1f}" '
                         f'fill="{CRAMP}"><title>night after {r["night"]}: {r["cramps"]} cramp(s)</title></circle>')
        elif not r["recorded"]:
            parts.append(f'<circle cx="{x + step / 2:.1f}" cy="{base + 24}" r="1.5" fill="{MUTED}"/>')
    parts.append(f'<line x1="0" x2="{width}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="{GOAL}" stroke-dasharray="4 3">'
                 f'<title>goal {round(goal)} mL</title></line>')
    parts.append(f'<text x="{width - 4}" y="{gy - 4:.1f}" text-anchor="end" font-size="11" fill="{GOAL}">'
                 f'goal {round(goal)} mL</text>')
    parts.append(f'<text x="0" y="{height - 2}" font-size="11" fill="currentColor">{escape(rows[0]["night"])}</text>')
    parts.append(f'<text x="{width}" y="{height - 2}" text-anchor="end" font-size="11" fill="currentColor">'
                 f'{escape(rows[-1]["night"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def legend_html() -> str:
    """The nights chart's key (inline SVG swatches: no style attributes, which a strict CSP blocks)."""
    def swatch(colour: str, shape: str = "rect") -> str:
        mark = (f'<circle cx="5" cy="5" r="5" fill="{colour}"/>' if shape == "circle"
                else f'<rect width="10" height="10" fill="{colour}"/>')
        return f'<svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true">{mark}</svg>'

    return (f'<p class="legend muted small">{swatch(WATER)} intake that day (paler: below the goal) '
            f'{swatch(STRETCH)} stretched before bed {swatch(CRAMP, "circle")} cramp that night</p>')


# -- the report ------------------------------------------------------------------------------
def weekly(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped by ISO week of the evening's date (the report's table and the dashboard's
    sleep trend: ``mean_asleep_h`` and ``mean_wakes`` are per recorded night, None without one)."""
    weeks: dict[str, list[dict]] = {}
    for r in rows:
        y, w, _ = date.fromisoformat(r["night"]).isocalendar()
        weeks.setdefault(f"{y}-W{w:02d}", []).append(r)
    out = []
    for key, part in weeks.items():
        measured = [r for r in part if r["intake_measured"]]
        slept = [r for r in part if r["recorded"]]
        out.append({"week": key, "first": part[0]["night"], "nights": sum(r["recorded"] for r in part),
                    "cramp_nights": sum(r["cramp_night"] for r in part), "cramps": sum(r["cramps"] for r in part),
                    "mean_intake_ml": round(sum(r["intake_ml"] for r in measured) / len(measured)) if measured else None,
                    "goal_met_days": sum(r["goal_met"] for r in measured), "measured_days": len(measured),
                    "stretched_days": sum(r["stretched"] for r in part),
                    "mean_asleep_h": round(sum(r["asleep_h"] for r in slept) / len(slept), 2) if slept else None,
                    "mean_wakes": round(sum(r["wakes"] for r in slept) / len(slept), 2) if slept else None})
    return out


STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #18212c; margin: 2rem auto;
       max-width: 58rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; border-bottom: 1px solid #ccd;
       padding-bottom: .2rem; } h3 { font-size: 1rem; margin-bottom: .3rem; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; } th, td { border-bottom: 1px solid #e2e8f0;
       padding: .2rem .4rem; text-align: right; } th:first-child, td:first-child { text-align: left; }
.muted { color: #5d6a7a; } .doctor { background: #fdeced; color: #7a1f1f; border: 1px solid #f1b9b9; padding: .7rem 1rem;
       border-radius: 8px; } .legend { font-size: 12px; color: #5d6a7a; } .insight-chart { max-width: 100%; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .4rem 1.5rem; }
.facts div { border-left: 3px solid #3b8ef0; padding-left: .5rem; } .facts b { display: block; font-size: 1.2rem; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } section, tr { break-inside: avoid; } }
"""


def render(result: dict[str, Any], config: Config, *, weeks: int, generated: float | None = None) -> str:
    """The report as one HTML document (a string)."""
    generated = time.time() if generated is None else generated
    tz = config.tz
    rows, summary, doctor = result["rows"], result["summary"], result["doctor"]
    when = datetime.fromtimestamp(generated, tz).strftime("%Y-%m-%d %H:%M")
    out = ['<!doctype html><html lang="en"><head><meta charset="utf-8">',
           f"<title>crampwatch report {escape(result['first'])} to {escape(result['last'])}</title>",
           f"<style>{STYLE}</style></head><body>",
           "<h1>Night leg cramps, intake and stretching</h1>",
           f'<p class="muted">Nights after {escape(result["first"])} to {escape(result["last"])} ({weeks} week'
           f'{"s" if weeks != 1 else ""}) &middot; device {escape(device_id(config, keep=False))} &middot; made {escape(when)} '
           f'({escape(str(tz))}) by crampwatch. Measured at home: drinks by a scale under the water bottle, wake-ups '
           "by a movement sensor on the bed frame, cramps confirmed by the person where they pressed the bedside "
           "button or labelled them, otherwise the sensor's guess.</p>"]
    out.append('<section id="doctor"><h2>Frequent cramps</h2>')
    if doctor["raised"]:
        out.append(f'<p class="doctor" role="note">{escape(doctor["message"])}</p>')
    else:
        out.append(f'<p>Cramps on {doctor["cramp_nights"]} of the last {doctor["nights"]} nights '
                   f'(the note about seeing a doctor shows from {doctor["threshold"]}).</p>')
    out.append("</section>")
    facts = [("Nights recorded", f"{summary['recorded_nights']} of {summary['nights']}"),
             ("Nights with cramps", str(summary["cramp_nights"])), ("Cramps", str(summary["cramps"])),
             ("Wake-ups", str(summary["wakes"])),
             ("Mean daily intake", f"{_fmt(summary['mean_intake_ml'])} mL"),
             ("Days at the goal", f"{summary['goal_met_days']} of {summary['measured_days']} "
                                  f"(goal {_fmt(result['goal_ml'])} mL)"),
             ("Evenings with stretching", f"{summary['stretched_days']} of {summary['nights']}")]
    out.append('<section id="summary"><h2>Summary</h2><div class="facts">'
               + "".join(f"<div>{escape(k)}<b>{escape(v)}</b></div>" for k, v in facts) + "</div></section>")
    out.append(f'<section id="nights-chart"><h2>Nights, intake and stretching</h2>{svg_nights(rows)}{legend_html()}'
               "</section>")
    out.append('<section id="comparisons"><h2>Comparisons</h2>')
    if not result["enough"]:
        out.append(f"<p>{escape(result['message'])}</p>")
    for c in result["comparisons"]:
        if c.get("factor") and not c["enough"]:
            continue  # said in one line below, not once for each daily factor
        out.append(f'<h3>{escape(c["title"])}</h3>{svg_group_rates(c)}<p>{escape(c["sentence"])}</p>')
    few = [c["title"].lower() for c in result["comparisons"] if c.get("factor") and not c["enough"]]
    if few:
        out.append(f"<p>Daily factors not compared (not enough recorded days yet): {escape(', '.join(few))}.</p>")
    out.append(f'<p class="muted">{escape(result["note"])} Method: nights with at least one cramp are counted in '
               "each group; the rate ratio is the share in the first group over the share in the second, with a 95% "
               "confidence interval (Katz log method); the p-value is from Fisher's exact test (two-sided). With "
               f"several comparisons, one may fall below p = {result['alpha']:g} by chance.</p></section>")
    out.append('<section id="weeks"><h2>Week by week</h2><table><thead><tr><th>Week</th><th>Nights</th>'
               "<th>Cramp nights</th><th>Cramps</th><th>Mean intake (mL)</th><th>Days at goal</th>"
               "<th>Stretched</th></tr></thead><tbody>")
    for w in weekly(rows):
        out.append(f"<tr><td>{w['week']} (from {w['first']})</td><td>{w['nights']}</td><td>{w['cramp_nights']}</td>"
                   f"<td>{w['cramps']}</td><td>{_fmt(w['mean_intake_ml'])}</td>"
                   f"<td>{w['goal_met_days']}/{w['measured_days']}</td><td>{w['stretched_days']}</td></tr>")
    out.append("</tbody></table></section>")
    out.append(f'<section id="night-table"><h2>Night by night</h2><table><thead><tr><th>Night after</th>'
               f"<th>Asleep</th><th>Hours</th><th>Wake-ups</th><th>Cramps</th><th>Intake (mL)</th>"
               f"<th>Last {result['late_intake_h']:g} h (mL)</th><th>Stretched</th></tr></thead><tbody>")
    for r in rows:
        asleep = "not recorded"
        if r["recorded"]:
            a = datetime.fromtimestamp(r["sleep_start"], tz).strftime("%H:%M")
            b = datetime.fromtimestamp(r["sleep_end"], tz).strftime("%H:%M")
            asleep = f"{a}–{b}"
        cramps = f"{r['cramps']}" + (f" ({r['confirmed']} confirmed)" if r["cramps"] else "")
        out.append(f"<tr><td>{r['night']}</td><td>{asleep}</td><td>{_fmt(r['asleep_h'], 1)}</td><td>{r['wakes']}</td>"
                   f"<td>{cramps}</td><td>{_fmt(r['intake_ml']) if r['intake_measured'] else '–'}</td>"
                   f"<td>{_fmt(r['late_intake_ml']) if r['intake_measured'] else '–'}</td>"
                   f"<td>{'yes' if r['stretched'] else 'no'}</td></tr>")
    out.append("</tbody></table></section>")
    out.append(f'<p class="muted">{escape(result["note"])} {escape(DOCTOR_NOTE)}</p></body></html>')
    return "\n".join(out)


DOCTOR_NOTE = ("Frequent, severe or persistent cramps, or cramps with weakness, swelling or numbness, are a reason "
               "to see a doctor.")


def write_report(store, config: Config, weeks: int, *, now: float | None = None, progress=None) -> str:
    """Analyse the last ``weeks`` weeks and render the report; ``progress``
    (:class:`device.cli.progress.Progress`) shows each stage."""
    from device.insights.analysis import analyse

    now = time.time() if now is None else now
    if progress is not None:
        progress.step(f"analysing {weeks} weeks of nights, drinks and factors")
    result = analyse(store, config, now, weeks=weeks)
    if progress is not None:
        progress.step(f"drawing {len(result['rows'])} nights")
    return render(result, config, weeks=weeks, generated=now)


# -- CSV summaries (crampwatch export --summaries DIR) ----------------------------------------
NIGHT_COLUMNS = ["night", "morning", "recorded", "sleep_start", "sleep_end", "asleep_h", "wakes", "bed_exits",
                 "cramps", "confirmed", "cramp_night"]
DAY_COLUMNS = ["date", "intake_ml", "intake_measured", "goal_ml", "goal_met", "late_intake_ml", "stretched",
               "electrolyte", *FACTORS]  # a factor is empty on a day nothing was recorded for


def write_summaries(store, config: Config, directory, *, now: float | None = None) -> list:
    """Write ``daily.csv`` (one row per local day) and ``nightly.csv`` (one per night, with the
    day before) into ``directory``; return their paths. Times are local ISO 8601."""
    import csv
    from pathlib import Path

    from device.insights.analysis import analyse

    now = time.time() if now is None else now
    tz = config.tz
    rows = analyse(store, config, now)["rows"]
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)

    def cell(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else value

    def day(r: dict) -> list:
        return [cell(r[k] if k not in FACTORS else (r["factors"] or {}).get(k)) for k in DAY_COLUMNS[1:]]

    def local(t):
        return "" if t is None else datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")

    from device.storage.store import private_opener  # health data: the owner's only

    daily, nightly = out / "daily.csv", out / "nightly.csv"
    with open(daily, "w", newline="", encoding="utf-8", opener=private_opener) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DAY_COLUMNS)
        for r in rows:
            w.writerow([r["night"]] + day(r))
    with open(nightly, "w", newline="", encoding="utf-8", opener=private_opener) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(NIGHT_COLUMNS + ["day_" + k for k in DAY_COLUMNS[1:]])
        for r in rows:
            values = [local(r[k]) if k in ("sleep_start", "sleep_end") else cell(r[k]) for k in NIGHT_COLUMNS]
            w.writerow(values + day(r))
    return [daily, nightly]
