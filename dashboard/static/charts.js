/* Charts on uPlot (vendored in static/vendor/uplot): sized to their box, themed from CSS. */
(function () {
  'use strict';
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function hh(v) {  /* hours since the day's midnight (past 24 after the next one) as a clock time */
    var t = Math.round(v * 60), h = Math.floor(t / 60) % 24, m = t % 60;
    return (h < 10 ? '0' : '') + h + ':' + (m < 10 ? '0' : '') + m;
  }

  function responsive(el, opts, data) {
    opts.width = Math.max(240, el.clientWidth);
    var plot = new uPlot(opts, data, el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () { plot.setSize({ width: Math.max(240, el.clientWidth), height: opts.height }); }).observe(el);
    }
    return plot;
  }

  function axis(extra) {
    var a = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') } };
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  /* Cumulative intake through the day and the expected pace to the goal. */
  function today(el, chart) {
    var pts = chart.pace, seen = {}, xs = [];
    chart.intake.concat(pts).forEach(function (p) { if (!seen[p[0]]) { seen[p[0]] = 1; xs.push(p[0]); } });
    xs.sort(function (a, b) { return a - b; });
    var intake = [], k = 0, total = 0;
    xs.forEach(function (x) {
      while (k < chart.intake.length && chart.intake[k][0] <= x) { total = chart.intake[k][1]; k++; }
      intake.push(total);
    });
    var last = chart.intake[chart.intake.length - 1][0];
    intake = intake.map(function (v, i) { return xs[i] > last ? null : v; });
    var pace = xs.map(function (x) {
      if (x <= pts[0][0]) return 0;
      for (var i = 1; i < pts.length; i++) {
        if (x <= pts[i][0]) { var a = pts[i - 1], b = pts[i]; return a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0]); }
      }
      return pts[pts.length - 1][1];
    });
    var p1 = pts[pts.length - 1];
    var range = chart.range || [0, 24], splits = [];  /* the day: halfway through one night to the next */
    for (var s = Math.ceil(range[0] / 6) * 6; s <= range[1]; s += 6) splits.push(s);
    return responsive(el, {
      height: 200, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: range }, y: { range: function (u, min, max) { return [0, Math.max(max, p1[1]) * 1.08]; } } },
      axes: [axis({ values: function (u, v) { return v.map(hh); }, splits: function () { return splits; } }),
             axis({ size: 56, values: function (u, v) { return v.map(function (x) { return x >= 1000 ? (x / 1000) + ' L' : x; }); } })],
      series: [{ label: 'Time', value: function (u, v) { return v == null ? '–' : hh(v); } },
               { label: 'Drunk', stroke: css('--water'), width: 3, fill: css('--brand-soft'), paths: uPlot.paths.stepped({ align: 1 }),
                 points: { show: false },
                 value: function (u, v) { return v == null ? '–' : Math.round(v) + ' mL'; } },
               { label: 'Pace', stroke: css('--muted'), width: 1.5, dash: [6, 6], points: { show: false },
                 value: function (u, v) { return v == null ? '–' : Math.round(v) + ' mL'; } }]
    }, [xs, intake, pace]);
  }

  /* Bars of intake per day (or average per day) with the goal line. */
  function bars(el, d) {
    var xs = d.labels.map(function (l, i) { return i; });
    var goal = xs.map(function () { return d.goal; });
    var met = css('--ok'), under = css('--water');
    return responsive(el, {
      height: 260, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] }, y: { range: function (u, min, max) { return [0, Math.max(max, d.goal) * 1.1]; } } },
      axes: [axis({ values: function (u, v) { return v.map(function (i) { return d.labels[i] || ''; }); },
                    splits: function () { var step = Math.ceil(xs.length / 8); return xs.filter(function (i) { return (xs.length - 1 - i) % step === 0; }); } }),
             axis({ size: 56 })],
      series: [{ label: d.unit || 'Day', value: function (u, i) { return i == null ? '–' : d.labels[i]; } },
               { label: 'Intake', width: 0, fill: under, stroke: under, points: { show: false },
                 paths: uPlot.paths.bars({ size: [0.7, 40], align: 0, disp: { fill: { unit: 3, values: function (u, sidx) {
                   return u.data[sidx].map(function (v) { return v >= d.goal ? met : under; }); } } } }),
                 value: function (u, v) { return v == null ? '–' : Math.round(v) + ' mL'; } },
               { label: 'Goal', stroke: met, width: 2, dash: [8, 5], points: { show: false },
                 value: function (u, v) { return v == null ? '–' : Math.round(v) + ' mL'; } }]
    }, [xs, d.values, goal]);
  }

  window.cwCharts = { today: today, bars: bars };
})();
